"""The model registry: every model the loop trains is kept, one is active, any earlier one comes back.

Archives live under models/registry/<version>.tar.gz with their row in `model_versions` (version, archive
hash, the hash of the data it learned from, the gate's metrics and verdict, status, who promoted it).
Promoting tells the running Rasa server to load the archive first (`PUT /model`, no restart) and only
then records the switch, so the registry never claims a model Rasa refused; the archive is also copied
to models/coverline.tar.gz, so a restart runs the same model. Every promotion and rollback is audited.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEntry, ModelVersion, utcnow
from storage.settings import PROJECT_ROOT

REGISTRY_DIR = PROJECT_ROOT / "models" / "registry"
SERVED_MODEL = PROJECT_ROOT / "models" / "coverline.tar.gz"  # what `make run` / the runner start Rasa with


class RegistryError(RuntimeError):
    """A registry operation that cannot go ahead, with the reason a person can act on."""


class ModelLoader(Protocol):
    """Switches the running Rasa server to an archive (raises RegistryError if it does not)."""

    def load(self, archive: Path) -> None: ...


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_hash(paths: Iterable[Path], root: Path = PROJECT_ROOT) -> str:
    """One hash over the training files (name and content), in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(str(path.resolve().relative_to(root.resolve())).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT.resolve()))
    except ValueError:
        return str(path.resolve())


def archive_path(row: ModelVersion) -> Path:
    path = Path(row.archive)
    return path if path.is_absolute() else PROJECT_ROOT / path


def register(
    session: Session,
    archive: Path,
    data_sha256: str,
    created_by_id: Optional[int] = None,
    note: Optional[str] = None,
    registry_dir: Optional[Path] = None,
    now: Optional[datetime] = None,
) -> ModelVersion:
    """Keep a freshly trained archive as a candidate (copied into the registry, never moved from
    models/, which Rasa's own training writes)."""
    now = now or utcnow()
    sha = file_sha256(archive)
    version = f"{now:%Y%m%dT%H%M%S}-{sha[:8]}"
    taken = set(session.scalars(select(ModelVersion.version).where(ModelVersion.version.like(f"{version}%"))))
    suffix = 2
    while version in taken:  # the same archive registered twice within a second
        version = f"{now:%Y%m%dT%H%M%S}-{sha[:8]}-{suffix}"
        suffix += 1
    target_dir = Path(registry_dir or REGISTRY_DIR)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{version}.tar.gz"
    shutil.copyfile(archive, target)
    row = ModelVersion(
        version=version,
        archive=_relative(target),
        archive_sha256=sha,
        data_hash=data_sha256,
        status="candidate",
        note=note,
        created_at=now,
        created_by_id=created_by_id,
    )
    session.add(row)
    session.flush()
    return row


def by_version(session: Session, version: str) -> ModelVersion:
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        raise RegistryError(f"no model version {version!r} in the registry (see `python -m learning models`)")
    return row


def active(session: Session) -> Optional[ModelVersion]:
    return session.scalar(select(ModelVersion).where(ModelVersion.status == "active"))


def history(session: Session) -> List[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())))


def record_verdict(session: Session, row: ModelVersion, metrics: Dict[str, Any], verdict: str, promote: bool) -> None:
    """The gate's numbers stay with the model whichever way it went; a refused one is marked so."""
    row.metrics = metrics
    row.verdict = verdict
    if not promote:
        row.status = "refused"
        _audit(session, "model_refused", None, {"version": row.version, "verdict": verdict})


def _audit(session: Session, action: str, agent_id: Optional[int], detail: Dict[str, Any]) -> None:
    session.add(AuditEntry(at=utcnow(), agent_id=agent_id, action=action, detail=detail))


def _serve_on_restart(archive: Path, served: Path) -> None:
    """Atomically replace the archive the runner starts Rasa with."""
    served.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=served.parent, suffix=".tar.gz.partial")
    os.close(handle)
    shutil.copyfile(archive, temporary)
    os.replace(temporary, served)


def promote(
    session: Session,
    version: str,
    loader: ModelLoader,
    agent_id: Optional[int] = None,
    action: str = "model_promoted",
    served: Path = SERVED_MODEL,
) -> ModelVersion:
    """Make `version` the active model: Rasa loads it, then the registry and the served archive follow.

    The session's transaction is committed before Rasa is asked to load, and the registry's writes start a new
    one after: no transaction may stay open across the load (~30 s). Rasa writes to the same database while it
    loads (its tracker store and the interaction log check their tables), and on SQLite every transaction here
    holds the write lock (storage.engine.begin_immediate): Rasa waited out its busy timeout and refused the model
    ("database is locked", HTTP 500, seen in the learning-loop benchmark of 2026-12-06), and every customer
    message waited with it. On PostgreSQL the same open transaction would only idle, but nothing needs it."""
    row = by_version(session, version)
    archive = archive_path(row)
    if not archive.exists():
        raise RegistryError(f"the archive of {version} is missing: {archive}")
    if file_sha256(archive) != row.archive_sha256:
        raise RegistryError(f"the archive of {version} changed since it was registered: {archive}")
    previous = active(session)
    if previous is not None and previous.id == row.id:
        raise RegistryError(f"{version} is already the active model")
    session.commit()
    loader.load(archive)  # raises if Rasa refuses: nothing below happens
    if previous is not None:
        previous.status = "retired"
        session.flush()  # the partial unique index allows one active row at a time
    row.status = "active"
    row.promoted_at = utcnow()
    row.promoted_by_id = agent_id
    _serve_on_restart(archive, served)
    _audit(session, action, agent_id, {"version": version, "previous": previous.version if previous else None})
    session.flush()
    return row


def rollback_target(session: Session, to_version: Optional[str] = None) -> ModelVersion:
    """The named version, or the one that was active before the current one."""
    if to_version:
        return by_version(session, to_version)
    current = active(session)
    earlier = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.status == "retired", ModelVersion.promoted_at.is_not(None))
        .order_by(ModelVersion.promoted_at.desc(), ModelVersion.id.desc())
    ).first()
    if earlier is None or (current is not None and earlier.id == current.id):
        raise RegistryError("no earlier model to roll back to")
    return earlier


def rollback(
    session: Session,
    loader: ModelLoader,
    to_version: Optional[str] = None,
    agent_id: Optional[int] = None,
    served: Path = SERVED_MODEL,
) -> ModelVersion:
    target = rollback_target(session, to_version)
    return promote(session, target.version, loader, agent_id, action="model_rolled_back", served=served)


def adopt(
    session: Session,
    archive: Path,
    data_sha256: str,
    registry_dir: Optional[Path] = None,
) -> ModelVersion:
    """The model already being served, registered as active when the registry is empty, so the first
    promotion has something to roll back to."""
    current = active(session)
    if current is not None:
        return current
    row = register(
        session, archive, data_sha256, note="the model in service when the registry started", registry_dir=registry_dir
    )
    row.status = "active"
    row.promoted_at = row.created_at
    _audit(session, "model_adopted", None, {"version": row.version})
    session.flush()
    return row
