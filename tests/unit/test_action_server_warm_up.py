"""The action server loads its encoders when it starts listening, and importing the actions starts nothing."""

from __future__ import annotations

import subprocess
import sys

from actions.server import build_app, start_warm_ups

IMPORT_AND_LIST_THREADS = """
import threading, actions.past_replies, actions.recommend
print(sorted(t.name for t in threading.enumerate()))
"""


def test_importing_the_actions_starts_no_thread() -> None:
    """A warm-up thread started on import raced the importer's thread for transformers: CI's test collection
    failed with "cannot import name 'AutoModel' from 'transformers'"."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_LIST_THREADS], capture_output=True, text=True, timeout=300, check=True
    )
    assert "warm-up" not in result.stdout and "warm_up" not in result.stdout, result.stdout


def test_the_server_starts_the_warm_ups_once_it_listens() -> None:
    app = build_app("a-shared-secret-of-32-characters", "actions")
    # Sanic 21.12 keeps listeners registered before the server runs as "future" listeners
    assert (start_warm_ups, "after_server_start") in [(f.listener, f.event) for f in app._future_listeners]
