"""Secrets: the configured value, or in dev one generated once into var/; outside dev, no default at all.

A generated secret lets `make run` work on a laptop with no configuration and survives restarts (web chat
sessions and inbox logins stay valid). Outside dev the same fallback would silently give each replica
its own secret, or ship a guessable one, so there a missing secret is a SettingsError naming it.
Resolution is lazy (`Secret.value()`): a process asks for the secrets it uses at its start-up, so the
action server does not need the inbox's key in its environment.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from settings.errors import SettingsError


@dataclass(frozen=True)
class Secret:
    variable: str
    configured: Optional[str] = field(repr=False)  # the environment's value, already checked; None if unset
    dev_file: Optional[Path]  # where dev keeps a generated one; None outside dev (no default)
    expected: str  # what to set, for the message when it is missing outside dev
    generated_bytes: int = 32

    def value(self) -> str:
        """The configured secret; in dev, else the one generated into var/; outside dev a SettingsError."""
        if self.configured:
            return self.configured
        if self.dev_file is None:
            raise SettingsError(
                f"{self.variable} is not set; outside dev (COVERLINE_ENV=dev) secrets have no default: "
                f"set it to {self.expected}"
            )
        return dev_secret(self.dev_file, self.generated_bytes)


def dev_secret(path: Path, generated_bytes: int = 32) -> str:
    """The secret kept at `path` (mode 600), generated on first use. Written under a temporary name and
    linked into place, so two processes starting together never read a half-written secret or keep two."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(generated_bytes))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process wrote it first: use theirs
        finally:
            temporary.unlink()
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    value = path.read_text().strip()
    if not value:
        raise SettingsError(f"{path} is empty: delete it and a new secret is generated")
    return value
