"""Local ports for the servers tests start."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now; the OS picks it, so parallel test runs do not collide."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
