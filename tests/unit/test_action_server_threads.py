"""The action server caps its native thread pools (BLAS, OpenMP) at ACTIONS_NATIVE_THREADS, 1 by default.

Left at one thread per core, numpy's OpenBLAS shared the recommender's similarity product with a worker that then
spun between requests: the process burned about twice the CPU time of its work (actions/server.py
`limit_native_threads`). Checked in a fresh process that runs the server's own `main` up to the point where it
would listen, then loads the recommender's encoder as the warm-up does (torch and scikit-learn's OpenMP load
only then), and lists the pools with threadpoolctl.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Dict, List, Tuple

from actions.server import NATIVE_THREAD_VARIABLES
from tests.support.paths import PROJECT_ROOT

SERVER_UP_TO_LISTENING = """
import json, sys
from sanic import Sanic
from threadpoolctl import threadpool_info

def instead_of_listening(app, *args, **kwargs):
    from recommendations.recommender import warm_up
    warm_up()
    print("POOLS " + json.dumps([(pool["internal_api"], pool["filepath"], pool["num_threads"])
                                 for pool in threadpool_info()]))

Sanic.run = instead_of_listening
from actions.server import main
sys.exit(main(["--port", "5055"]))
"""


def pools_in_the_action_server(environ: Dict[str, str]) -> List[Tuple[str, str, int]]:
    env = {name: value for name, value in os.environ.items() if name not in NATIVE_THREAD_VARIABLES}
    env.update(environ, ACTION_SERVER_TOKEN="a-shared-secret-of-32-characters", PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run(
        [sys.executable, "-c", SERVER_UP_TO_LISTENING],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("POOLS "))
    return [tuple(pool) for pool in json.loads(line.removeprefix("POOLS "))]


def test_every_native_pool_of_the_action_server_has_one_thread() -> None:
    """Fails without the cap on any machine with two cores or more (OpenBLAS's default is one thread per core)."""
    pools = pools_in_the_action_server({})
    assert any(api == "openblas" and "numpy" in path for api, path, _ in pools), pools  # the recommender's BLAS
    assert any(api == "openmp" for api, _, _ in pools), pools  # loaded by the warm-up, after main() capped
    assert {threads for _, _, threads in pools} == {1}, pools
