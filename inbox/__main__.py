"""`python -m inbox serve | create-admin | set-password | seed-demo`."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import List, Optional

from inbox.errors import InboxError
from settings import Settings, SettingsError, exit_with, load_at_startup
from storage.engine import session_scope


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 10 characters): ")
    if first != getpass.getpass("Repeat the password: "):
        raise InboxError("The two passwords differ.")
    return first


def create_admin(email: str, name: str, password_stdin: bool, database_url: Optional[str]) -> int:
    from inbox.services.agents import create_agent

    password = _read_password(password_stdin)
    with session_scope(database_url) as db:
        agent = create_agent(db, email, name, "admin", password)
        print(f"admin {agent.email} created (id {agent.id}); log in at the inbox's /login")
    return 0


def set_password(email: str, password_stdin: bool, database_url: Optional[str]) -> int:
    from inbox.services.agents import set_password as reset

    password = _read_password(password_stdin)
    with session_scope(database_url) as db:
        agent = reset(db, email, password)
        print(f"password of {agent.email} changed; their sessions were ended")
    return 0


def seed_demo(database_url: Optional[str]) -> int:
    from inbox.services.agents import seed_demo_agents

    with session_scope(database_url) as db:
        created = seed_demo_agents(db)
    for email, role, password in created:
        print(f"demo {role}: {email}  password: {password}")
    if not created:
        print("agents exist already; nothing seeded")
    return 0


def schema_problem(database_url: str) -> Optional[str]:
    """Why the database cannot serve the inbox yet (not migrated to the latest revision), or None."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from storage.engine import get_engine
    from storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    with get_engine(database_url).connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    if current != head:
        return (
            f"the database is at revision {current or 'none'}, the inbox needs {head}: "
            "run `.venv/bin/python -m storage.migrate` (make run does it)"
        )
    return None


def serve(configuration: Settings, host: str, port: int) -> int:
    import uvicorn

    from inbox.main import create_app

    settings = configuration.for_inbox()
    problem = schema_problem(settings.database_url)
    if problem:
        raise InboxError(problem)
    app = create_app(settings)
    forwarded_allow_ips = configuration.inbox.forwarded_allow_ips
    # ws="none": the inbox has no websockets, and uvicorn's websocket layer needs a newer `websockets`
    # than the one Rasa 3.6 pins.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=configuration.inbox.log_level,
        # Trust X-Forwarded-For only from the reverse proxy named here, so the login rate limit and the
        # audit log see the client's address rather than the proxy's, and nobody else can fake it.
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=forwarded_allow_ips or None,
        ws="none",
        timeout_graceful_shutdown=3,  # open event streams would otherwise hold a Ctrl-C for minutes
    )
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    configuration = load_at_startup("inbox")  # a bad value stops here: exit code 2 and what to fix
    parser = argparse.ArgumentParser(prog="python -m inbox", description="Coverline's agent inbox")
    parser.add_argument("--database-url", help="default: DATABASE_URL or var/coverline.db")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the inbox web app")
    serve_cmd.add_argument("--host", default=configuration.inbox.host)
    serve_cmd.add_argument("--port", type=int, default=configuration.inbox.port)
    admin_cmd = commands.add_parser("create-admin", help="create an admin (the first one, or another)")
    admin_cmd.add_argument("--email", required=True)
    admin_cmd.add_argument("--name", required=True)
    admin_cmd.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    password_cmd = commands.add_parser("set-password", help="reset an agent's password (and re-enable them)")
    password_cmd.add_argument("--email", required=True)
    password_cmd.add_argument("--password-stdin", action="store_true")
    commands.add_parser("seed-demo", help="demo admin + agent with random passwords, only if no agent exists")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(configuration, args.host, args.port)
        if args.command == "create-admin":
            return create_admin(args.email, args.name, args.password_stdin, args.database_url)
        if args.command == "set-password":
            return set_password(args.email, args.password_stdin, args.database_url)
        return seed_demo(args.database_url)
    except SettingsError as error:  # outside dev, a secret the inbox needs is not set
        exit_with("inbox", error)
    except InboxError as error:
        print(f"error: {getattr(error, 'message', error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
