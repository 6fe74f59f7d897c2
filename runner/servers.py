"""Launch, watch and stop the Rasa server, the action server, the web chat page, the agents' inbox, the
spike-alert monitor and the learning worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from settings import current, load
from storage.settings import PROJECT_ROOT, database_url

VENV_BIN = Path(sys.executable).parent
MODEL_PATH = PROJECT_ROOT / "models" / "coverline.tar.gz"


def api_token() -> str:
    """The Rasa HTTP API token: RASA_API_TOKEN, or in dev the one generated into var/ (settings)."""
    return current().rasa.api_token.value()


def action_server_token() -> str:
    """The secret the Rasa server presents to the action server (bot/endpoints.yml): ACTION_SERVER_TOKEN,
    or in dev the one generated into var/ (settings)."""
    return current().actions.token.value()


@dataclass
class Ports:
    rasa: int = field(default_factory=lambda: current().rasa.port)
    actions: int = field(default_factory=lambda: current().actions.port)
    webchat: int = field(default_factory=lambda: current().webchat.port)
    inbox: int = field(default_factory=lambda: current().inbox.port)


@dataclass
class ServerSet:
    """The three processes on one machine, sharing one DATABASE_URL."""

    ports: Ports = field(default_factory=Ports)
    db_url: str = field(default_factory=database_url)
    model: Path = MODEL_PATH
    endpoints: Path = PROJECT_ROOT / "bot" / "endpoints.yml"
    credentials: Path = PROJECT_ROOT / "bot" / "credentials.yml"
    with_webchat: bool = True
    with_inbox: bool = False  # `make run` turns it on; tests that need it pass a free Ports.inbox
    with_alerts: bool = False  # `make run` turns it on unless COVERLINE_ALERTS_ENABLED is off
    with_learning: bool = False  # `make run` turns it on: the worker behind the inbox's Retrain / Restore
    log_dir: Optional[Path] = None
    extra_env: Dict[str, str] = field(default_factory=dict)
    processes: Dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def webchat_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.webchat}"

    @property
    def inbox_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.inbox}"

    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.db_url,
            ACTION_SERVER_URL=f"http://127.0.0.1:{self.ports.actions}/webhook",
            RASA_URL=self.rasa_url,
            RASA_API_TOKEN=api_token(),
            ACTION_SERVER_TOKEN=action_server_token(),
            RASA_TELEMETRY_ENABLED="false",
            TF_CPP_MIN_LOG_LEVEL="2",
            HF_HUB_OFFLINE="1",
            SQLALCHEMY_SILENCE_UBER_WARNING="1",
            PYTHONUNBUFFERED="1",
            # this checkout's code first, whichever checkout the shared venv's editable install points at:
            # `python -m` already puts the cwd first, but webchat/serve.py runs as a script, and with a venv
            # shared by two checkouts its page server read the other one's settings (a tracking secret that
            # did not match the action server's: every tracked link answered 403)
            PYTHONPATH=os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p),
        )
        env.update(self.extra_env)
        return env

    def commands(self) -> Dict[str, List[str]]:
        cmds = {
            # rasa-sdk behind the shared secret, on loopback unless ACTIONS_HOST says otherwise (actions/server.py)
            "actions": [sys.executable, "-m", "actions.server", "--port", str(self.ports.actions)],
            # `rasa run` through bot/server.py: the API token comes from RASA_API_TOKEN (env()), never argv,
            # and CORS answers only CORS_ORIGINS, by default the web chat page's origins
            "rasa": [
                sys.executable,
                "-m",
                "bot.server",
                "--model",
                str(self.model),
                "--enable-api",
                *self.cors_options(),
                # loopback on one machine; a deployment puts the public doors (web chat, webhooks) behind
                # a TLS proxy or sets RASA_HOST=0.0.0.0 (docs/security.md)
                "--interface",
                current().rasa.host,
                "--port",
                str(self.ports.rasa),
                "--endpoints",
                str(self.endpoints),
                "--credentials",
                str(self.credentials),
            ],
        }
        if self.with_webchat:
            cmds["webchat"] = [
                sys.executable,
                str(PROJECT_ROOT / "webchat" / "serve.py"),
                "--port",
                str(self.ports.webchat),
            ]
        if self.with_inbox:
            cmds["inbox"] = [sys.executable, "-m", "inbox", "serve", "--port", str(self.ports.inbox)]
        if self.with_alerts:
            # no port: it reads the interaction log and writes alerts (the inbox shows them), webhooks and email
            cmds["alerts"] = [sys.executable, "-m", "alerts", "run"]
        if self.with_learning:
            # no port: it runs the retrain and rollback jobs admins queue in the inbox (learning/worker.py),
            # outside the inbox, so a job outlives an inbox restart and the web process never trains
            cmds["learning"] = [sys.executable, "-m", "learning", "worker"]
        return cmds

    def cors_options(self) -> List[str]:
        """`--cors` with the web chat page's origins, unless CORS_ORIGINS configures them."""
        if load({**os.environ, **self.extra_env}).webchat.cors_origins:
            return []
        return ["--cors", f"http://127.0.0.1:{self.ports.webchat}", f"http://localhost:{self.ports.webchat}"]

    def start(self) -> None:
        env = self.env()
        for name, cmd in self.commands().items():
            self.processes[name] = subprocess.Popen(
                cmd,
                # `python -m` puts the cwd first on sys.path: this checkout's code, whichever the venv installs
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
            threading.Thread(target=self._pump, args=(name,), daemon=True).start()

    def _pump(self, name: str) -> None:
        """Prefix each line with the process name; also keep it in a log file when asked."""
        process = self.processes[name]
        log = open(self.log_dir / f"{name}.log", "a") if self.log_dir else None  # noqa: SIM115
        assert process.stdout is not None
        for line in process.stdout:
            if log:
                log.write(line)
                log.flush()
            else:
                sys.stdout.write(f"[{name:>7}] {line}")
        if log:
            log.close()

    def wait_ready(self, timeout: float = 240.0) -> None:
        """Block until every server answers, or raise with the name of the one that did not."""
        checks: Dict[str, Optional[str]] = {
            "actions": f"http://127.0.0.1:{self.ports.actions}/health",
            "rasa": f"{self.rasa_url}/status?token={api_token()}",
        }
        if self.with_webchat:
            checks["webchat"] = f"{self.webchat_url}/health"
        if self.with_inbox:
            checks["inbox"] = f"{self.inbox_url}/health"
        if self.with_alerts:
            checks["alerts"] = None  # no door to ask: still running after the others is ready (its start-up
            # checks the settings and the schema, and stops at once when either is wrong)
        if self.with_learning:
            checks["learning"] = None  # likewise: no door; it checks the schema at start-up
        deadline = time.monotonic() + timeout
        for name, url in checks.items():
            while True:
                if self.processes[name].poll() is not None:
                    raise RuntimeError(f"{name} exited with code {self.processes[name].returncode} during start-up")
                if url is None:
                    break
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} did not answer {url} within {timeout:.0f}s")
                time.sleep(1)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def watch(self) -> int:
        """Run until Ctrl-C or until one process dies (then stop the others and report it)."""
        stopping = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.set())
        while not stopping.is_set():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    print(f"{name} stopped with exit code {process.returncode}; stopping the others", file=sys.stderr)
                    self.stop()
                    return process.returncode or 1
            stopping.wait(1)
        self.stop()
        return 0
