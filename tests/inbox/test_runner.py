"""`make run` starts the inbox as its own process: the runner's command serves /health and the login page,
and the demo agents are seeded (once) with passwords that work."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

import httpx

from runner.__main__ import announce_demo_agents
from runner.servers import PROJECT_ROOT, Ports, ServerSet
from tests.support.network import free_port


def test_the_runner_starts_the_inbox_process(db_url: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("inbox.settings.demo_password_file", lambda: tmp_path / "demo.txt")
    monkeypatch.setattr("runner.__main__.demo_password_file", lambda: tmp_path / "demo.txt")
    announce_demo_agents(db_url, is_dev=True)
    demo = (tmp_path / "demo.txt").read_text()
    assert oct((tmp_path / "demo.txt").stat().st_mode)[-3:] == "600"
    password = demo.split("admin@harbor.example  password: ")[1].split()[0]
    announce_demo_agents(db_url, is_dev=True)  # agents exist now: nothing new
    assert (tmp_path / "demo.txt").read_text() == demo

    servers = ServerSet(ports=Ports(inbox=free_port()), db_url=db_url, with_inbox=True, with_webchat=False)
    command = servers.commands()["inbox"]
    env = {**servers.env(), "RASA_API_TOKEN": "t", "INBOX_SECRET_KEY": "", "INBOX_ENV": "dev"}
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                with urllib.request.urlopen(servers.inbox_url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the inbox did not answer /health"
            time.sleep(0.2)
        with httpx.Client(base_url=servers.inbox_url, timeout=10) as client:
            assert client.get("/", follow_redirects=False).headers["location"] == "/login?next=%2F"
            login = client.post("/api/auth/login", json={"email": "admin@harbor.example", "password": password})
            assert login.status_code == 200 and login.json()["agent"]["role"] == "admin"
            page = client.get("/")
            assert page.status_code == 200 and "Escalation queue" in page.text
            assert client.get("/static/inbox.js").status_code == 200
            assert client.get("/api/openapi.json").json()["info"]["title"] == "Coverline inbox API"
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "inbox" in servers.commands() and "inbox" not in ServerSet().commands()
    assert os.environ.get("INBOX_PORT", "8090") == str(Ports().inbox)
