"""`python -m bot.server <rasa run options>`: `rasa run`, with its secrets and CORS from the environment.

Rasa's CLI takes the HTTP API token only as `--auth-token <token>`, and a command line is readable by every
user of the machine (`ps`, /proc/<pid>/cmdline). This launcher takes the same options as `rasa run`
except the token, which it reads from RASA_API_TOKEN (required with `--enable-api`: an API without a
token would let anyone rewrite any conversation), and refuses a token on the command line.

CORS: Rasa's `--cors "*"` answered any origin, with credentials. Here the allowed origins are `--cors`
if given, else CORS_ORIGINS (comma or space separated), else the web chat page's own origins
(http://127.0.0.1:<WEBCHAT_PORT> and http://localhost:<WEBCHAT_PORT>, port 8080 by default). Each must be
a plain `scheme://host[:port]`: sanic-cors reads an entry holding `*`, `?`, `]` or a backslash as a regular
expression matched at the start only, so a pattern could let `https://harbor.example.evil.test` in. The
list is exported as CORS_ORIGINS for the web chat's socket.io door (bot/channels/socketio.py), so browser
pages from other origins can open neither the HTTP routes nor the socket.

Everything else is Rasa's own `rasa run`: the options are parsed by Rasa's parser and `rasa.__main__.main`
runs as it does for the `rasa` command, with the token and origins filled in after parsing.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Mapping, Optional, Sequence

from bot import (
    action_response_check,
    in_process_session_start,
    in_process_slot_mappings,
    nlu_off_loop,
    policies_off_loop,
)
from settings import Settings, SettingsError, load, load_at_startup
from settings.values import plain_origin

TOKEN_VARIABLE = "RASA_API_TOKEN"
ORIGINS_VARIABLE = "CORS_ORIGINS"


class LaunchError(ValueError):
    """The launcher's options or environment would start an unsafe server: say why, start nothing."""


def settings_from(env: Mapping[str, str]) -> Settings:
    try:
        return load(env)
    except SettingsError as error:
        raise LaunchError(str(error)) from None


def webchat_origins(settings: Settings) -> List[str]:
    port = settings.webchat.port
    return [f"http://127.0.0.1:{port}", f"http://localhost:{port}"]


def checked_origin(origin: str) -> str:
    """`scheme://host[:port]`, lower-cased, or LaunchError (no wildcard, path, pattern or credentials)."""
    try:
        return plain_origin(origin)
    except ValueError as error:
        raise LaunchError(str(error)) from None


def cors_origins(given: Optional[Sequence[str]], env: Mapping[str, str]) -> List[str]:
    """The allowed origins: `--cors`, else CORS_ORIGINS, else the web chat page's (see the module doc)."""
    settings = settings_from(env)  # CORS_ORIGINS's entries are checked there
    if given:
        entries = [entry for value in given for entry in value.replace(",", " ").split()]
    else:
        entries = list(settings.webchat.cors_origins or webchat_origins(settings))
    return list(dict.fromkeys(checked_origin(entry) for entry in entries))


def complete(args: argparse.Namespace, env: Mapping[str, str]) -> argparse.Namespace:
    """Rasa's parsed `run` options with the token from the environment and checked CORS origins."""
    if getattr(args, "auth_token", None):
        raise LaunchError(
            f"the API token must not be on the command line (anyone can read it there): set {TOKEN_VARIABLE}"
        )
    token = settings_from(env).rasa.api_token.configured  # never a generated one: the inbox must know it
    if getattr(args, "enable_api", False) and not token:
        raise LaunchError(f"--enable-api needs {TOKEN_VARIABLE} in the environment (an API without a token is open)")
    args.auth_token = token or None
    args.cors = cors_origins(getattr(args, "cors", None), env)
    return args


def parse(argv: Sequence[str], env: Mapping[str, str]) -> argparse.Namespace:
    """`rasa run <argv>` as Rasa's own parser reads it, completed from `env`."""
    from rasa.__main__ import create_argument_parser

    argv = list(argv)
    if argv[:1] == ["run"]:
        argv = argv[1:]
    if argv[:1] == ["actions"]:
        raise LaunchError("this launcher starts the Rasa server; the action server is `python -m actions.server`")
    return complete(create_argument_parser().parse_args(["run", *argv]), env)


def main(argv: Optional[Sequence[str]] = None) -> None:
    load_at_startup("bot.server")  # a bad value stops here, before Rasa loads: exit code 2 and what to fix
    import rasa.__main__ as rasa_main

    argv = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    try:
        origins = parse(argv, env).cors  # fail here, before Rasa loads anything
    except LaunchError as error:
        raise SystemExit(f"bot.server: {error}") from None
    os.environ[ORIGINS_VARIABLE] = " ".join(origins)  # the socket.io door reads the same list

    build_parser = rasa_main.create_argument_parser

    def parser_completing_from_environment() -> argparse.ArgumentParser:
        parser = build_parser()
        parse_args = parser.parse_args

        def parse_and_complete(args: Optional[Sequence[str]] = None, namespace: object = None) -> argparse.Namespace:
            return complete(parse_args(args, namespace), env)  # type: ignore[arg-type]

        parser.parse_args = parse_and_complete  # type: ignore[method-assign, assignment]
        return parser

    rasa_main.create_argument_parser = parser_completing_from_environment  # type: ignore[assignment]
    action_response_check.install()  # Rasa's per-call schema check, with its validator built once
    in_process_slot_mappings.install()  # the handoff signal without a round trip to the action server
    in_process_session_start.install()  # and a new session's start (does people have it? one SQL read)
    nlu_off_loop.install()  # the transformer reads a message while the event loop serves the others
    policies_off_loop.install()  # and TED's graph predicts in a thread of its own
    sys.argv = ["rasa", "run", *(argv[1:] if argv[:1] == ["run"] else argv)]
    rasa_main.main()


if __name__ == "__main__":
    main()
