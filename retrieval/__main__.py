"""`python -m retrieval …`: import a past-replies export, rebuild or inspect the index, try a question.

python -m retrieval import export.csv [more.json]      # upsert into past_replies, update the index in place
python -m retrieval rebuild [--import F…] [--calibrate HELDOUT…]   # full rebuild with a progress bar
python -m retrieval stats
python -m retrieval search "is hail damage covered?"
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional

from retrieval.calibration import fit, samples_from_index
from retrieval.corpus import (
    CorpusError,
    active_records,
    import_files,
    mark_indexed,
    pending_records,
    read_heldout,
)
from retrieval.encoder import Encoder
from retrieval.index import ReplyIndex, StaleIndexError
from retrieval.products import detect_product
from settings import current, load_at_startup
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.settings import database_url


def _import(paths: List[Path]) -> None:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        raise SystemExit(2)
    upgrade()
    with session_scope() as session:
        try:
            report = import_files(session, paths)
        except CorpusError as error:
            print(f"error: {error}", file=sys.stderr)
            raise SystemExit(2) from None
    print(f"past replies ({database_url().split('@')[-1]}): {report.summary()}")


def _calibrate(index: ReplyIndex, heldout: List[Path]) -> None:
    labelled = read_heldout(heldout)
    samples, answerable = samples_from_index(index, labelled)
    index.calibration = fit(samples, answerable)
    print(f"calibration: {index.calibration.describe()}")


def cmd_import(args: argparse.Namespace) -> int:
    """Import, then add only what is new or changed to the existing index (no rebuild)."""
    settings = current().retrieval
    _import(args.files)
    if args.no_index:
        return 0
    encoder = Encoder()
    try:
        index = ReplyIndex.load(settings.index_dir, encoder, settings.options)
    except (FileNotFoundError, StaleIndexError) as error:
        print(f"{error}; rebuilding")
        return cmd_rebuild(argparse.Namespace(import_files=[], calibrate=[]))
    started = time.perf_counter()
    with session_scope() as session:
        records = pending_records(session)
        index.retire(index.live_ids() - {r.reply_id for r in active_records(session)})  # withdrawn replies
        index.add(records, show_progress=len(records) > 100)
        index.save(settings.index_dir)
        mark_indexed(session, [r.reply_id for r in records], encoder.version)
    elapsed = time.perf_counter() - started
    print(f"index: {len(records)} replies added in {elapsed:.2f}s; {index.stats()['replies']} live")
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    settings = current().retrieval
    if args.import_files:
        _import(args.import_files)
    else:
        upgrade()
    encoder = Encoder()
    with session_scope() as session:
        records = active_records(session)
    if not records:
        print("error: the past_replies table is empty; import an export first (python -m retrieval import F.csv)")
        return 2
    print(f"encoding {len(records)} past replies with {encoder.version} → {settings.backend} index")
    started = time.perf_counter()
    index = ReplyIndex.build(
        records,
        encoder,
        backend=settings.backend,
        show_progress=True,
        options={**settings.options, "pgvector_reset": True},
    )
    if args.calibrate:
        _calibrate(index, args.calibrate)
    index.save(settings.index_dir)
    with session_scope() as session:
        mark_indexed(session, [r.reply_id for r in records], encoder.version)
    print(f"index saved to {settings.index_dir} in {time.perf_counter() - started:.1f}s: {index.stats()}")
    return 0


def cmd_stats(_: argparse.Namespace) -> int:
    settings = current().retrieval
    index = ReplyIndex.load(settings.index_dir, options=settings.options)
    for key, value in index.stats().items():
        print(f"{key:>14}: {value}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    settings = current().retrieval
    index = ReplyIndex.load(settings.index_dir, options=settings.options)
    hits = index.search(args.question, top_k=max(args.top, 2), product=detect_product(args.question))
    for rank, hit in enumerate(hits[: args.top], start=1):
        line = f"{rank}. [{hit.record.reply_id}] cos={hit.score:.3f}"
        if rank == 1:
            probability = index.calibration.probability(hit.score, hits[1].score if len(hits) > 1 else None)
            verdict = "answer" if index.calibration.confident(probability) else "below threshold: no answer"
            line += f"  p={probability:.2f} ({verdict})"
        print(f"{line}\n   Q: {hit.record.question}\n   A: {hit.record.reply[:200]}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m retrieval", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("import", help="import a CSV/JSON export of past replies and index what changed")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--no-index", action="store_true", help="only load the database")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("rebuild", help="re-encode every active past reply into a new index")
    p.add_argument("--import", dest="import_files", nargs="*", type=Path, default=[])
    p.add_argument(
        "--calibrate", nargs="*", type=Path, default=[], help="held-out CSVs (question,expected_external_id)"
    )
    p.set_defaults(func=cmd_rebuild)
    sub.add_parser("stats", help="what the index holds").set_defaults(func=cmd_stats)
    p = sub.add_parser("search", help="show the best past replies for a question")
    p.add_argument("question")
    p.add_argument("--top", type=int, default=3)
    p.set_defaults(func=cmd_search)
    args = parser.parse_args(argv)
    load_at_startup("retrieval")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
