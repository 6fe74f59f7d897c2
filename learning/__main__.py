"""`python -m learning <command>`: the learning loop from a shell.

    export                 annotations → nlu_data/learned/annotated.yml + tests/fixtures/learned_heldout.yml,
                           conversations marked good → tests/test_learned_stories.yml (learning/story_export.py)
    models                 the registry: every model, its status, data hash and verdict
    rollback [--to V]      the running Rasa server back to the previous (or a named) model, no restart
    adopt                  register the model in service (models/coverline.tar.gz) as active
    retrain                export, train a candidate, measure it beside the active model, promote it
                           if the gate passes (learning/retrain.py)
    worker                 run the inbox's retrain and rollback jobs, one at a time (learning/worker.py);
                           `make run` starts it beside the inbox

The database is DATABASE_URL's; Rasa is RASA_URL with RASA_API_TOKEN (docs/settings.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

from learning import export, registry, story_export
from learning.rasa_model import RasaModelLoader
from learning.registry import RegistryError
from learning.retrain import training_files
from settings import load_at_startup
from storage.engine import session_scope


def _loader() -> RasaModelLoader:
    settings = load_at_startup("learning")
    return RasaModelLoader(settings.rasa.url, settings.rasa.api_token.value())


def _serve_jobs() -> int:
    """Until SIGTERM or Ctrl-C, after the job in progress; stopped in the middle of one (the runner waits
    20 s, then kills the process group, `rasa train` with it), the next worker's start fails that job with
    a message."""
    import logging
    import signal
    import threading

    from learning.worker import Worker, job_ids_waiting
    from storage.migrate import SchemaNotCurrent, require_current
    from storage.settings import database_url

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = database_url()
    try:
        require_current(url)
    except SchemaNotCurrent as error:
        print(f"learning worker: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker = Worker(url, _loader())
    waiting = job_ids_waiting(url)
    print(f"learning worker {worker.name}: ready" + (f"; job {waiting} waiting" if waiting else ""), flush=True)
    worker.serve(stop)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m learning", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("export", help="write the annotated examples (redacted) for training and the gate")
    commands.add_parser("models", help="list the model registry")
    back = commands.add_parser("rollback", help="switch the running Rasa server to an earlier model")
    back.add_argument("--to", dest="version", help="the version to restore (default: the previous one)")
    commands.add_parser("adopt", help="register models/coverline.tar.gz as the active model")
    commands.add_parser("retrain", help="train a candidate from the annotations; promote it past the gate")
    commands.add_parser("worker", help="run the retrain and rollback jobs admins queue in the inbox")
    args = parser.parse_args(argv)
    load_at_startup("learning")
    try:
        if args.command == "export":
            with session_scope() as session:
                result = export.export(session)
                stories = story_export.export_stories(session)
            print(
                f"{result.trained} examples to train on → {result.nlu_path}\n"
                f"{result.held_back} held back for the gate → {result.heldout_path}\n"
                f"redacted: {result.redactions or 'nothing'}; entities dropped as personal data: "
                f"{result.dropped_entities}\n"
                f"{stories.written} test stories from conversations marked good → {stories.path}; "
                f"skipped: {stories.skipped or 'none'}"
            )
        elif args.command == "models":
            with session_scope() as session:
                for row in registry.history(session):
                    print(f"{row.version}  {row.status:9}  data {row.data_hash[:12]}  {row.note or ''}")
        elif args.command == "adopt":
            with session_scope() as session:
                row = registry.adopt(session, registry.SERVED_MODEL, registry.data_hash(training_files()))
                print(f"active: {row.version}")
        elif args.command == "retrain":
            from learning.retrain import retrain

            with session_scope() as session:
                outcome = retrain(session, _loader())
            print(outcome.report())
            return 0 if outcome.promoted else 3
        elif args.command == "worker":
            return _serve_jobs()
        elif args.command == "rollback":
            started = time.monotonic()
            with session_scope() as session:
                row = registry.rollback(session, _loader(), to_version=args.version)
                version = row.version
            print(f"active: {version} (Rasa switched in {time.monotonic() - started:.1f} s)")
    except RegistryError as error:
        print(f"learning: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
