"""`make run`: migrate and seed the database, start the three processes, show where to go."""

from __future__ import annotations

import sys

from retrieval.corpus import demo_corpus_files, import_files
from runner.servers import MODEL_PATH, ServerSet
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.seed import seed


def main() -> int:
    if not MODEL_PATH.exists():
        print(f"No trained model at {MODEL_PATH}: run `make train` (make run does it for you).", file=sys.stderr)
        return 2
    servers = ServerSet()
    upgrade(servers.db_url)
    with session_scope(servers.db_url) as session:
        added = seed(session)
        replies = import_files(session, demo_corpus_files())
    print(f"database ready ({servers.db_url.split('@')[-1]}); demo rows added: {added}")
    print(f"past replies: {replies.summary()}")
    servers.start()
    try:
        servers.wait_ready()
    except (RuntimeError, TimeoutError) as error:
        print(f"start-up failed: {error}", file=sys.stderr)
        servers.stop()
        return 1
    print(
        "\nCoverline is up:\n"
        f"  web chat       {servers.webchat_url}\n"
        f'  Rasa REST      POST {servers.rasa_url}/webhooks/rest/webhook  {{"sender": "me", "message": "hi"}}\n'
        f"  Rasa HTTP API  {servers.rasa_url}/status?token=<var/rasa_api_token>\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
    return servers.watch()


if __name__ == "__main__":
    sys.exit(main())
