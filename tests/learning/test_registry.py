"""The model registry keeps every model, switches Rasa before it records a switch, and rolls back.

Archives here are small files (the registry never looks inside one); the Rasa side is a loader that
records what it was asked to load, or refuses as Rasa does when an archive does not load.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import List

import httpx
import pytest
from sqlalchemy import select

from learning import registry
from learning.rasa_model import RasaModelLoader
from learning.registry import RegistryError
from storage.engine import session_scope
from storage.models import AuditEntry, ModelVersion
from tests.support.databases import migrated_sqlite


class RecordingLoader:
    def __init__(self) -> None:
        self.loaded: List[Path] = []

    def load(self, archive: Path) -> None:
        self.loaded.append(archive)


class RefusingLoader:
    def load(self, archive: Path) -> None:
        raise RegistryError(f"the Rasa server refused to load {archive}: HTTP 400")


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A database of its own: the registry's single active model is per database."""
    return migrated_sqlite(tmp_path / "coverline.db")


@pytest.fixture
def places(tmp_path: Path):  # type: ignore[no-untyped-def]
    return {"registry": tmp_path / "registry", "served": tmp_path / "models" / "coverline.tar.gz"}


def archive(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.tar.gz"
    path.write_bytes(f"model {name}".encode() * 100)
    return path


def statuses(url: str) -> dict:
    with session_scope(url) as s:
        return {row.version: row.status for row in s.scalars(select(ModelVersion))}


def test_promote_loads_into_rasa_then_records_and_serves_it(url, tmp_path, places) -> None:  # type: ignore[no-untyped-def]
    loader = RecordingLoader()
    with session_scope(url) as s:
        first = registry.adopt(s, archive(tmp_path, "shipped"), "d0", registry_dir=places["registry"])
        candidate = registry.register(
            s, archive(tmp_path, "candidate"), "d1", registry_dir=places["registry"], now=datetime(2026, 12, 4, 21)
        )
        promoted = registry.promote(s, candidate.version, loader, served=places["served"])
        first_version, candidate_version = first.version, promoted.version
    assert loader.loaded == [places["registry"] / f"{candidate_version}.tar.gz"]
    assert statuses(url) == {first_version: "retired", candidate_version: "active"}
    assert places["served"].read_bytes() == (tmp_path / "candidate.tar.gz").read_bytes()  # a restart keeps it
    with session_scope(url) as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["model_adopted", "model_promoted"]


class WritingLoader:
    """Rasa as it loads a model: it writes to the same database from its own connection (its tracker store,
    the interaction log's table check). Here with a 1 s busy timeout, where Rasa's is 30 s."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.loaded: List[Path] = []

    def load(self, archive: Path) -> None:
        connection = sqlite3.connect(self.database, timeout=1.0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")  # 'database is locked' if the registry holds the write lock
            connection.execute("CREATE TABLE IF NOT EXISTS rasa_loaded (archive TEXT)")
            connection.execute("INSERT INTO rasa_loaded VALUES (?)", (str(archive),))
            connection.execute("COMMIT")
        finally:
            connection.close()
        self.loaded.append(archive)


def test_rasa_can_write_to_the_database_while_it_loads_a_promoted_model(url, tmp_path, places) -> None:  # type: ignore[no-untyped-def]
    """The learning-loop benchmark's promotion failed on SQLite: the registry's transaction held the write lock
    across `PUT /model`, Rasa's own write waited out its busy timeout and Rasa answered HTTP 500."""
    loader = WritingLoader(tmp_path / "coverline.db")
    with session_scope(url) as s:
        registry.adopt(s, archive(tmp_path, "shipped"), "d0", registry_dir=places["registry"])
        candidate = registry.register(s, archive(tmp_path, "candidate"), "d1", registry_dir=places["registry"])
        registry.promote(s, candidate.version, loader, served=places["served"])
        back = registry.rollback(s, loader, served=places["served"]).version
    assert len(loader.loaded) == 2
    assert statuses(url)[back] == "active" and statuses(url)[candidate.version] == "retired"


def test_a_model_rasa_refuses_changes_nothing(url, tmp_path, places) -> None:  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        first = registry.adopt(s, archive(tmp_path, "shipped"), "d0", registry_dir=places["registry"])
        candidate = registry.register(s, archive(tmp_path, "broken"), "d1", registry_dir=places["registry"])
        versions = (first.version, candidate.version)
    with pytest.raises(RegistryError, match="refused to load"), session_scope(url) as s:
        registry.promote(s, versions[1], RefusingLoader(), served=places["served"])
    assert statuses(url) == {versions[0]: "active", versions[1]: "candidate"}
    assert not places["served"].exists()


def test_rollback_returns_to_the_previous_model_and_can_go_forward_again(url, tmp_path, places) -> None:  # type: ignore[no-untyped-def]
    loader = RecordingLoader()
    start = datetime(2026, 12, 4, 21)
    with session_scope(url) as s:
        versions = []
        for n, name in enumerate(("shipped", "v2", "v3")):
            row = registry.register(
                s, archive(tmp_path, name), f"d{n}", registry_dir=places["registry"], now=start + timedelta(minutes=n)
            )
            registry.promote(s, row.version, loader, served=places["served"])
            versions.append(row.version)
        back = registry.rollback(s, loader, served=places["served"]).version
    assert back == versions[1]  # the one active before v3
    assert statuses(url) == {versions[0]: "retired", versions[1]: "active", versions[2]: "retired"}
    assert places["served"].read_bytes() == (tmp_path / "v2.tar.gz").read_bytes()
    with session_scope(url) as s:
        forward = registry.rollback(s, loader, to_version=versions[2], served=places["served"]).version
        audit = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))][-2:]
    assert forward == versions[2] and audit == ["model_rolled_back", "model_rolled_back"]


def test_nothing_to_roll_back_to_and_unknown_versions_are_clear_errors(url, tmp_path, places) -> None:  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        registry.adopt(s, archive(tmp_path, "shipped"), "d0", registry_dir=places["registry"])
        with pytest.raises(RegistryError, match="no earlier model"):
            registry.rollback(s, RecordingLoader(), served=places["served"])
        with pytest.raises(RegistryError, match="no model version 'nope'"):
            registry.promote(s, "nope", RecordingLoader(), served=places["served"])


def test_a_tampered_archive_is_not_loaded(url, tmp_path, places) -> None:  # type: ignore[no-untyped-def]
    loader = RecordingLoader()
    with session_scope(url) as s:
        row = registry.register(s, archive(tmp_path, "candidate"), "d1", registry_dir=places["registry"])
        registry.archive_path(row).write_bytes(b"something else")
        with pytest.raises(RegistryError, match="changed since it was registered"):
            registry.promote(s, row.version, loader, served=places["served"])
    assert loader.loaded == []


def test_a_refused_candidate_keeps_the_gates_numbers(url, tmp_path, places) -> None:  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        row = registry.register(s, archive(tmp_path, "candidate"), "d1", registry_dir=places["registry"])
        registry.record_verdict(s, row, {"candidate": {"stories": 90.0}}, "refused: stories fell", promote=False)
        version = row.version
    with session_scope(url) as s:
        row = registry.by_version(s, version)
        assert (row.status, row.metrics, row.verdict) == (
            "refused",
            {"candidate": {"stories": 90.0}},
            "refused: stories fell",
        )


def test_the_rasa_loader_puts_the_archive_path_with_the_token(tmp_path: Path) -> None:
    seen = []

    def rasa(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if json.loads(request.content)["model_file"].endswith("good.tar.gz"):
            return httpx.Response(204)
        return httpx.Response(400, json={"status": "failure", "message": "Agent with name could not be loaded"})

    loader = RasaModelLoader("http://127.0.0.1:5005/", "s3cret", transport=httpx.MockTransport(rasa))
    loader.load(tmp_path / "good.tar.gz")
    with pytest.raises(RegistryError, match="HTTP 400"):
        loader.load(tmp_path / "bad.tar.gz")
    assert seen[0].method == "PUT" and seen[0].url.path == "/model" and seen[0].url.params["token"] == "s3cret"
    assert json.loads(seen[0].content) == {"model_file": str((tmp_path / "good.tar.gz").resolve())}


def test_data_hash_changes_with_a_file_and_not_with_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    a.write_text("x")
    b.write_text("y")
    first = registry.data_hash([a, b], root=tmp_path)
    assert first == registry.data_hash([b, a], root=tmp_path)
    b.write_text("y2")
    assert registry.data_hash([a, b], root=tmp_path) != first


def test_the_same_archive_registered_twice_gets_two_versions(url, tmp_path, places) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 12, 4, 21)
    with session_scope(url) as s:
        first = registry.register(s, archive(tmp_path, "same"), "d", registry_dir=places["registry"], now=now)
        second = registry.register(s, archive(tmp_path, "same"), "d", registry_dir=places["registry"], now=now)
        assert second.version == f"{first.version}-2"
