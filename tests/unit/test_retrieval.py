"""The past-replies index with the real MiniLM weights: build, search, add one, save, reload, find it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import numpy as np
import pytest

from retrieval import ReplyIndex, ReplyRecord, semantic_search
from retrieval.encoder import Encoder
from retrieval.index import StaleIndexError
from tests.support.databases import postgres_answers, postgres_database

CORPUS = [
    ReplyRecord("Is a cracked windshield covered?", "Windshield repair has no deductible on auto.", "r1", "auto"),
    ReplyRecord("Does home insurance cover flooding?", "Flood needs a separate policy.", "r2", "home"),
    ReplyRecord("How do I reset my password?", "Use 'Forgot password' on the sign-in screen.", "r3"),
    ReplyRecord("Is my laptop covered if it is stolen from a cafe?", "Renters covers it anywhere.", "r4", "renters"),
    ReplyRecord("When is my premium due?", "Your due date is in the app under Billing.", "r5"),
]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder()


def test_exact_search_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    corpus = rng.normal(size=(1000, 16)).astype(np.float32)
    queries = rng.normal(size=(3, 16)).astype(np.float32)
    hits = semantic_search(queries, corpus, top_k=4, chunk_size=128)
    expected = np.argsort(-(queries @ corpus.T), axis=1)[:, :4]
    assert [[row for row, _ in h] for h in hits] == expected.tolist()


@pytest.fixture
def pgvector_url() -> Iterator[str]:
    """A brand-new PostgreSQL database with pgvector; skipped only when no server answers."""
    if not postgres_answers():
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    for url in postgres_database():
        require_pgvector(url)
        yield url


@pytest.fixture(params=["numpy", "faiss", "pgvector"])
def backend_options(request: pytest.FixtureRequest) -> Tuple[str, Dict[str, Any]]:
    """Each backend with its configuration."""
    if request.param != "pgvector":
        return request.param, {}
    return "pgvector", {"pgvector_url": request.getfixturevalue("pgvector_url"), "pgvector_table": "reply_vectors_test"}


def require_pgvector(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url, future=True)
    with engine.connect() as connection:
        available = connection.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").first()
    engine.dispose()
    if available is None:
        pytest.fail("PostgreSQL answers but has no pgvector extension: run `sudo bash scripts/install_pgvector.sh`")


def test_build_add_save_load_search(
    encoder: Encoder, backend_options: Tuple[str, Dict[str, Any]], tmp_path: Path
) -> None:
    backend, options = backend_options
    index = ReplyIndex.build(CORPUS, encoder, backend=backend, options=options)
    top = index.search("my windscreen got a crack from a stone, am I covered?")[0]
    assert top.record.reply_id == "r1" and top.score > 0.5

    index.add([ReplyRecord("Can I get roadside help for a flat tyre?", "Call 1-800-555-0177, 24/7.", "r6", "auto")])
    index.save(tmp_path / "idx")
    reloaded = ReplyIndex.load(tmp_path / "idx", encoder, options=options)
    assert reloaded.stats() == {**index.stats(), "replies": 6} and reloaded.stats()["backend"] == backend
    assert reloaded.search("I have a flat tire on the highway")[0].record.reply_id == "r6"
    assert reloaded.search("someone stole my laptop at a coffee shop")[0].record.reply_id == "r4"


def test_unrelated_question_scores_low(encoder: Encoder) -> None:
    index = ReplyIndex.build(CORPUS, encoder)
    assert index.search("what's a good recipe for banana bread?")[0].score < 0.3


def test_index_from_other_weights_is_refused(encoder: Encoder, tmp_path: Path) -> None:
    ReplyIndex.build(CORPUS[:2], encoder).save(tmp_path / "idx")
    meta = tmp_path / "idx" / "index.json"
    meta.write_text(meta.read_text().replace(encoder.version, "other-model:000000000000"))
    with pytest.raises(StaleIndexError):
        ReplyIndex.load(tmp_path / "idx", encoder)


def test_pgvector_bulk_load_builds_the_graph_once_and_takes_adds_after(pgvector_url: str) -> None:
    """A first load of 12k vectors goes in by COPY with the HNSW index built after; later adds go into it."""
    from retrieval.backends import PgvectorBackend

    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(12_001, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    backend = PgvectorBackend(32, {"pgvector_url": pgvector_url, "pgvector_table": "bulk_vectors"})
    backend.add(vectors[:12_000])
    backend.add(vectors[12_000:])
    with backend.conn.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'bulk_vectors'")
        assert "bulk_vectors_hnsw" in {row[0] for row in cur.fetchall()}
    assert len(backend) == 12_001
    hits = backend.search(vectors[[7, 12_000]], top_k=3)
    assert [h[0][0] for h in hits] == [7, 12_000] and hits[0][0][1] == pytest.approx(1.0, abs=1e-4)
    backend.close()


def test_pgvector_stores_the_float32_values_it_is_given(pgvector_url: str) -> None:
    """Binary COPY keeps every float32 bit (a 7-digit text literal rounded them), on both add paths."""
    from retrieval.backends import PgvectorBackend

    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(10_003, 8)).astype(np.float32)
    backend = PgvectorBackend(8, {"pgvector_url": pgvector_url, "pgvector_table": "exact_vectors"})
    backend.add(vectors[:10_000])  # the bulk first load
    backend.add(vectors[10_000:])  # an add into the live graph
    with backend.conn.cursor() as cur:
        cur.execute("SELECT row, embedding::real[] FROM exact_vectors ORDER BY row")
        stored = cur.fetchall()
    backend.close()
    assert [row for row, _ in stored] == list(range(10_003))
    assert np.array_equal(np.asarray([values for _, values in stored], dtype=np.float32), vectors)


def test_a_save_that_dies_part_way_leaves_the_previous_index_loadable(
    encoder: Encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process stopped while saving left a zero-byte vectors.npy under the old index.json, and the answerer
    could load nothing after (a CI run: "Cannot load file containing pickled data" every second). Each file is
    now written beside the old one and renamed over it, index.json last."""
    folder = tmp_path / "idx"
    ReplyIndex.build(CORPUS[:3], encoder).save(folder)
    grown = ReplyIndex.load(folder, encoder)
    grown.add(CORPUS[3:5])

    def dies(target: Any, vectors: Any) -> None:
        handle = open(target, "wb") if isinstance(target, (str, Path)) else target
        handle.write(b"\x93NUMPY")  # a few bytes of the new file, then the process is gone
        handle.flush()
        raise KeyboardInterrupt

    monkeypatch.setattr("retrieval.backends.numpy_backend.np.save", dies)
    with pytest.raises(KeyboardInterrupt):
        grown.save(folder)
    monkeypatch.undo()
    survived = ReplyIndex.load(folder, encoder)
    assert survived.stats()["replies"] == 3
    assert survived.search("someone stole my laptop at a coffee shop")
