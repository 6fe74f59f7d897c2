"""Start, warm up and stop the two bots under test, each on ports of its own (never the defaults).

The stock bot is `rasa run` on the project `rasa init` made. Coverline is started as `make run` starts it,
by the project's runner (`python -m runner`), with every secret and the database given in the
environment: a fresh SQLite file under benchmarks/work/load, generated tokens, and the inbox outside dev
mode so the runner writes nothing into var/ (no demo agents; the runner then only prints how to create an
admin).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import psutil

from benchmarks.load.stock_bot import ROOT, quiet_env, serve_command

WORK = ROOT / "benchmarks" / "work" / "load"
COVERLINE_MODEL = ROOT / "models" / "coverline.tar.gz"
# the runner's processes, by what their command line runs
COVERLINE_PROCESSES = {"rasa": "bot.server", "actions": "actions.server", "log writer": "bot.interaction_log_writer"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Bot:
    name: str
    url: str
    token: str
    process: subprocess.Popen
    log: Path
    pids: Dict[str, int] = field(default_factory=dict)

    def post(self, sender: str, text: str, timeout: float = 60.0) -> List[Dict[str, object]]:
        """One message through the REST channel, as a customer's integration sends it; the bot's replies."""
        request = urllib.request.Request(
            f"{self.url}/webhooks/rest/webhook",
            data=json.dumps({"sender": sender, "message": text}).encode(),
            headers={"Content-Type": "application/json", **self.auth_header()},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def auth_header(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def tracker(self, sender: str) -> Dict[str, object]:
        """The conversation's tracker through the HTTP API (Coverline only: the stock bot runs without it)."""
        return self.api(f"/conversations/{urllib.parse.quote(sender, safe=':')}/tracker")

    def api(self, path: str) -> Dict[str, object]:
        """GET on Rasa's HTTP API, whose token goes in the query string (`Authorization` is for JWTs)."""
        query = urllib.parse.urlencode({"token": self.token})
        request = urllib.request.Request(f"{self.url}{path}?{query}", headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def alive(self) -> bool:
        return self.process.poll() is None


def _launch(command: List[str], env: Dict[str, str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def start_stock(model: Path, port: Optional[int] = None) -> Bot:
    port = port or free_port()
    log = WORK / "stock.log"
    process = _launch(serve_command(model, port), quiet_env(), log)
    return Bot("stock", f"http://127.0.0.1:{port}", "", process, log, {"rasa": process.pid})


def coverline_env(database: Path) -> Dict[str, str]:
    """Ports, database and secrets for one benchmark run of `python -m runner`."""
    return {
        **quiet_env(),
        "RASA_PORT": str(free_port()),
        "ACTIONS_PORT": str(free_port()),
        "WEBCHAT_PORT": str(free_port()),
        "INBOX_PORT": str(free_port()),
        "DATABASE_URL": f"sqlite:///{database}",
        "RASA_API_TOKEN": secrets.token_urlsafe(32),
        "ACTION_SERVER_TOKEN": secrets.token_urlsafe(32),
        "WEBCHAT_SESSION_SECRET": secrets.token_urlsafe(48),
        "INBOX_ENV": "benchmark",
        "INBOX_SECRET_KEY": secrets.token_urlsafe(48),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }


def start_coverline(database: Path = WORK / "coverline.db") -> Bot:
    if not COVERLINE_MODEL.exists():
        raise RuntimeError(f"no trained model at {COVERLINE_MODEL}: run `make train` first")
    for stale in database.parent.glob(database.name + "*"):
        stale.unlink()  # a fresh database each run: the same migrations, seed and past replies as `make run`
    env = coverline_env(database)
    log = WORK / "coverline.log"
    process = _launch([sys.executable, "-m", "runner"], env, log)
    return Bot("coverline", f"http://127.0.0.1:{env['RASA_PORT']}", env["RASA_API_TOKEN"], process, log)


def runner_children(bot: Bot) -> Dict[str, int]:
    """The pids of the runner's Rasa server and action server (for CPU accounting and py-spy)."""
    found: Dict[str, int] = {}
    for child in psutil.Process(bot.process.pid).children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:
            continue
        for name, module in COVERLINE_PROCESSES.items():
            if f"-m {module}" in command:
                found[name] = child.pid
    return found


def wait_answering(bot: Bot, timeout: float = 600.0) -> None:
    """Until the bot answers a message (the model is loaded only after the port opens)."""
    deadline = time.monotonic() + timeout
    while True:
        if not bot.alive():
            raise RuntimeError(f"{bot.name} exited with code {bot.process.returncode}; see {bot.log}")
        try:
            if bot.post(f"warmup:{secrets.token_hex(6)}", "hi", timeout=30):
                break
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{bot.name} did not answer within {timeout:.0f} s; see {bot.log}")
        time.sleep(2)
    if bot.name == "coverline":
        bot.pids = runner_children(bot)
        missing = set(COVERLINE_PROCESSES) - set(bot.pids)
        if missing:
            raise RuntimeError(f"could not find the runner's {sorted(missing)} process")


def warm_up(bot: Bot, conversation: List[str], times: int = 2) -> None:
    """A few whole conversations before measuring, so first-call costs (lazy imports, caches) are paid."""
    for _ in range(times):
        sender = f"warmup:{secrets.token_hex(6)}"
        for text in conversation:
            bot.post(sender, text)


def stop(bot: Bot) -> None:
    """SIGTERM to the process this benchmark started (the runner stops its own children), then SIGKILL
    to its process group if it has not gone after 30 s."""
    if bot.alive():
        bot.process.send_signal(signal.SIGTERM)
        try:
            bot.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(bot.process.pid, signal.SIGKILL)
            bot.process.wait(timeout=10)


def thread_cpu_seconds(pid: int) -> Dict[int, Tuple[str, float]]:
    """Each OS thread's name (Linux `comm`: TensorFlow, torch and OpenMP name theirs) and its CPU time so
    far: py-spy sees only threads Python knows, so CPU spent in the others shows up nowhere else."""
    threads: Dict[int, Tuple[str, float]] = {}
    for thread in psutil.Process(pid).threads():
        try:
            name = Path(f"/proc/{pid}/task/{thread.id}/comm").read_text(encoding="utf-8").strip()
        except OSError:
            name = "?"
        threads[thread.id] = (name, thread.user_time + thread.system_time)
    return threads


def cpu_seconds(pids: Dict[str, int]) -> Dict[str, float]:
    """User + system CPU time so far of each named process (all its threads)."""
    totals: Dict[str, float] = {}
    for name, pid in pids.items():
        times = psutil.Process(pid).cpu_times()
        totals[name] = times.user + times.system
    return totals
