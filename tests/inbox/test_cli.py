"""`python -m inbox create-admin / set-password / seed-demo`: the first admin, a locked-out admin, demo agents."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from inbox.__main__ import main
from inbox.security import verify_password
from storage.engine import session_scope
from storage.models import Agent, AuditEntry
from storage.settings import PROJECT_ROOT


def run(monkeypatch: pytest.MonkeyPatch, db_url: str, *args: str, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["--database-url", db_url, *args])


def test_create_admin_then_refuse_the_same_email(monkeypatch, db_url, capsys) -> None:  # type: ignore[no-untyped-def]
    args = ("create-admin", "--email", "Boss@Harbor.example", "--name", "Bo Boss", "--password-stdin")
    assert run(monkeypatch, db_url, *args, stdin="a-strong-password\n") == 0
    assert "admin boss@harbor.example created" in capsys.readouterr().out
    with session_scope(db_url) as db:
        admin = db.scalar(select(Agent).where(Agent.email == "boss@harbor.example"))
        assert admin.role == "admin" and admin.active and verify_password("a-strong-password", admin.password_hash)
        assert db.scalar(select(AuditEntry.action)) == "agent_created"
    assert run(monkeypatch, db_url, *args, stdin="another-password\n") == 1
    assert "already exists" in capsys.readouterr().err
    assert (
        run(
            monkeypatch,
            db_url,
            "create-admin",
            "--email",
            "x@y.example",
            "--name",
            "X",
            "--password-stdin",
            stdin="short\n",
        )
        == 1
    )
    assert "at least 10 characters" in capsys.readouterr().err


def test_set_password_resets_and_reenables(monkeypatch, db_url, capsys) -> None:  # type: ignore[no-untyped-def]
    run(
        monkeypatch,
        db_url,
        "create-admin",
        "--email",
        "a@harbor.example",
        "--name",
        "A",
        "--password-stdin",
        stdin="first-password\n",
    )
    with session_scope(db_url) as db:
        db.scalar(select(Agent)).active = False
    assert (
        run(
            monkeypatch,
            db_url,
            "set-password",
            "--email",
            "a@harbor.example",
            "--password-stdin",
            stdin="second-password\n",
        )
        == 0
    )
    with session_scope(db_url) as db:
        agent = db.scalar(select(Agent))
        assert agent.active and verify_password("second-password", agent.password_hash)
    assert (
        run(
            monkeypatch,
            db_url,
            "set-password",
            "--email",
            "nobody@harbor.example",
            "--password-stdin",
            stdin="second-password\n",
        )
        == 1
    )


def test_seed_demo_only_on_an_empty_agents_table(monkeypatch, db_url, capsys) -> None:  # type: ignore[no-untyped-def]
    assert run(monkeypatch, db_url, "seed-demo") == 0
    out = capsys.readouterr().out
    assert "demo admin: admin@harbor.example  password: " in out and "demo agent: agent@harbor.example" in out
    password = out.split("admin@harbor.example  password: ")[1].split()[0]
    with session_scope(db_url) as db:
        admin = db.scalar(select(Agent).where(Agent.email == "admin@harbor.example"))
        assert verify_password(password, admin.password_hash)
        assert db.scalar(select(func.count(Agent.id))) == 2
    assert run(monkeypatch, db_url, "seed-demo") == 0
    assert "nothing seeded" in capsys.readouterr().out


def test_the_module_runs_as_a_command(db_url) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DATABASE_URL": db_url}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "inbox",
            "create-admin",
            "--email",
            "cli@harbor.example",
            "--name",
            "Cli",
            "--password-stdin",
        ],
        input="cli-password-1\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "admin cli@harbor.example created" in result.stdout


def test_serve_refuses_an_unmigrated_database(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.setenv("RASA_API_TOKEN", "t")
    monkeypatch.setenv("INBOX_ENV", "dev")
    monkeypatch.setenv("INBOX_SECRET_KEY", "k" * 40)
    assert main(["serve", "--port", "1"]) == 1
    assert "the database is at revision none" in capsys.readouterr().err
