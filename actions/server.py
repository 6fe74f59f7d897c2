"""The action server, answering only the Rasa server.

`rasa run actions` (rasa-sdk 3.6) has no authentication and binds 0.0.0.0: anyone who reaches the port
can POST a crafted tracker to `/webhook` and run any action with any slots (file a claim on someone
else's policy, read a balance). So we start rasa-sdk's own app (`rasa_sdk.endpoint.create_app`, the
same routes and executor) with a door in front: every call but `/health` must carry
`Authorization: Bearer <ACTION_SERVER_TOKEN>` (bot/endpoints.yml sends it, see RASA_NOTES "Securing the
action server"), compared in constant time. The default bind is loopback; a deployment that runs the
action server on another host sets ACTIONS_HOST and keeps the token.

Before anything loads numpy or torch, `main` caps the process's native thread pools (ACTIONS_NATIVE_THREADS,
1 by default): see `limit_native_threads`.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
import threading
from typing import Mapping, Optional

from rasa_sdk.endpoint import create_app
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json
from threadpoolctl import threadpool_limits

from settings import current, load, load_at_startup

logger = logging.getLogger(__name__)

# A tracker with a long conversation is a few hundred kB; Sanic's default (100 MB) lets one caller tie up
# memory before the door has even looked at it.
MAX_REQUEST_BYTES = 8 * 1024 * 1024
OPEN_PATHS = frozenset({"/health"})
# what OpenBLAS, OpenMP runtimes (libgomp: torch's, scikit-learn's) and MKL read when they load
NATIVE_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class ActionServerConfigError(RuntimeError):
    """The server must not start without a usable shared secret."""


def required_token(environ: Optional[Mapping[str, str]] = None) -> str:
    """ACTION_SERVER_TOKEN as configured: never a generated one, which the Rasa server would not know
    (the runner hands both the same). One too short is refused by the settings at start-up."""
    token = (current() if environ is None else load(environ)).actions.token.configured
    if not token:
        raise ActionServerConfigError(
            "ACTION_SERVER_TOKEN must be set to a shared secret of at least 16 characters "
            "(the runner generates one in var/; in production set it in both the Rasa server's and the "
            "action server's environment)."
        )
    return token


def bearer_token(request: Request) -> Optional[str]:
    header = request.headers.get("authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def guard(app: Sanic, token: str) -> Sanic:
    """Refuse every call without the shared secret before rasa-sdk reads the body."""
    expected = token.encode()

    @app.on_request
    async def require_shared_secret(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS:
            return None
        presented = bearer_token(request)
        if presented is None:
            return json({"error": "the action server answers the Rasa server only: token required"}, status=401)
        if not hmac.compare_digest(presented.encode(), expected):
            logger.warning("action server: refused a call with a wrong token from %s", request.ip)
            return json({"error": "wrong token"}, status=403)
        return None

    return app


def limit_native_threads(threads: int) -> None:
    """Cap every native thread pool of this process (BLAS, OpenMP) at `threads`.

    numpy's OpenBLAS starts a worker per core, and after a product it shares out (the recommender's items × 384
    similarity is one) each worker spins waiting for the next, 2**28 clock ticks (~0.1 s at 2.6 GHz:
    THREAD_TIMEOUT in OpenBLAS's driver/others/blas_server.c), before it sleeps. With a recommendation every few
    tens of milliseconds the worker never slept: on a quiet two-core machine the process burned about twice the
    CPU time of the work (benchmarks/recommendations/latency.py at commit 4410482: 37.8 ms of CPU for 19.4 ms of
    wall-clock per recommendation; most-popular, with no product of its own, paid the same spinning), on the
    core the Rasa server and the other requests need. One thread makes the 10,000 × 384 product ~0.7 ms slower
    and stops the spinning. The variables reach the libraries that load later (each reads them when it loads:
    numpy with the actions package, torch and scikit-learn's OpenMP in the warm-up); threadpoolctl caps those
    already loaded."""
    for name in NATIVE_THREAD_VARIABLES:
        os.environ[name] = str(threads)
    threadpool_limits(limits=threads)


def build_app(token: str, package: str = "actions") -> Sanic:
    app = create_app(package, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES
    if package == "actions":
        app.listener(start_warm_ups, "after_server_start")
    return guard(app, token)


async def start_warm_ups(app: Sanic, loop: object) -> None:
    """The past-replies index and both encoders load in one background thread once the server listens. One
    thread, one after the other, and never on import: two threads importing transformers at once made
    `from transformers import AutoModel` fail (CI's test collection, 2026-12-06, when a warm-up thread was started
    on import)."""
    threading.Thread(target=warm_up_all, name="action-server-warm-up", daemon=True).start()


def warm_up_all() -> None:
    from actions.past_replies import keep_index_fresh
    from actions.past_replies import warm_up as warm_up_past_replies
    from actions.recommend import warm_up_recommender

    warm_up_past_replies()
    keep_index_fresh()
    warm_up_recommender()


def main(argv: Optional[list] = None) -> int:
    settings = load_at_startup("action server")  # a bad value stops here: exit code 2 and what to fix
    parser = argparse.ArgumentParser(description="Coverline's action server (rasa-sdk behind a shared secret)")
    parser.add_argument("--host", default=settings.actions.host)
    parser.add_argument("--port", type=int, default=settings.actions.port)
    parser.add_argument("--actions", default="actions", help="the package whose actions are served")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s  %(message)s")
    try:
        token = required_token()
    except ActionServerConfigError as error:
        print(f"action server: {error}", file=sys.stderr)
        return 2
    limit_native_threads(settings.actions.native_threads)
    app = build_app(token, args.actions)
    logger.info("action server on http://%s:%s (token required)", args.host, args.port)
    app.run(args.host, args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
