"""pgvector on PostgreSQL: the vectors live beside the rest of Coverline's data, shared by every replica.

One table per index (row int primary key, embedding vector(d)) with an HNSW index for cosine distance.
Adds are plain INSERTs; the HNSW graph is updated in place, so nothing is rebuilt. The table name and
URL come from configuration (RETRIEVAL_PGVECTOR_URL, default DATABASE_URL; RETRIEVAL_PGVECTOR_TABLE).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import numpy as np

from retrieval.backends.base import Options

BATCH_ROWS = 5_000


def _libpq_url(url: str) -> str:
    """SQLAlchemy URLs name the driver ("postgresql+psycopg2://"); libpq wants the plain scheme."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def _vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"


class PgvectorBackend:
    name = "pgvector"
    FILE = "pgvector.json"

    def __init__(self, dimension: int, options: Options = None) -> None:
        options = options or {}
        url = options.get("pgvector_url") or ""
        if not url.startswith("postgres"):
            raise ValueError("the pgvector backend needs a PostgreSQL URL (RETRIEVAL_PGVECTOR_URL or DATABASE_URL)")
        table = options.get("pgvector_table") or "reply_vectors"
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,50}", table):
            raise ValueError(f"invalid pgvector table name {table!r}")
        self.dimension = dimension
        self.url = url
        self.table = table
        self.ef_search = int(options.get("pgvector_ef_search") or 100)
        self.index_method = options.get("pgvector_index", "hnsw")
        self._conn: Any = None
        self._rows = 0
        self._create(reset=bool(options.get("pgvector_reset", True)))

    @property
    def conn(self) -> Any:
        import psycopg2

        if self._conn is None or self._conn.closed:
            self._conn = psycopg2.connect(_libpq_url(self.url))
            self._conn.autocommit = True
            with self._conn.cursor() as cur:
                cur.execute("SET hnsw.ef_search = %s", (self.ef_search,))
        return self._conn

    def _create(self, reset: bool) -> None:
        with self.conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
            if reset:
                cur.execute(f"DROP TABLE IF EXISTS {self.table}")
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (row integer PRIMARY KEY, embedding vector({self.dimension}))"
            )
            if self.index_method == "hnsw":
                cur.execute(
                    f"CREATE INDEX IF NOT EXISTS {self.table}_hnsw ON {self.table} "
                    "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
                )
            cur.execute(f"SELECT coalesce(max(row) + 1, 0) FROM {self.table}")
            self._rows = int(cur.fetchone()[0])

    def _batches(self, vectors: np.ndarray) -> Iterator[List[Tuple[int, str]]]:
        for start in range(0, len(vectors), BATCH_ROWS):
            chunk = vectors[start : start + BATCH_ROWS]
            yield [(self._rows + start + i, _vector_literal(v)) for i, v in enumerate(chunk)]

    def add(self, vectors: np.ndarray) -> None:
        from psycopg2.extras import execute_values

        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        with self.conn.cursor() as cur:
            for batch in self._batches(vectors):
                execute_values(cur, f"INSERT INTO {self.table} (row, embedding) VALUES %s", batch, page_size=1000)
        self._rows += len(vectors)

    def search(self, queries: np.ndarray, top_k: int) -> List[List[Tuple[int, float]]]:
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.dimension)
        results: List[List[Tuple[int, float]]] = []
        with self.conn.cursor() as cur:
            for query in queries:
                literal = _vector_literal(query)
                cur.execute(
                    f"SELECT row, 1 - (embedding <=> %s::vector) FROM {self.table} "
                    "ORDER BY embedding <=> %s::vector LIMIT %s",
                    (literal, literal, top_k),
                )
                results.append([(int(row), float(score)) for row, score in cur.fetchall()])
        return results

    def save(self, directory: Path) -> None:
        """The vectors are already in PostgreSQL; the folder records where, so `load` can check them."""
        meta = {"table": self.table, "rows": self._rows, "url": self.url.split("@")[-1]}
        (directory / self.FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, directory: Path, dimension: int, options: Options = None) -> "PgvectorBackend":
        meta = json.loads((directory / cls.FILE).read_text())
        options = dict(options or {})
        options.setdefault("pgvector_table", meta["table"])
        options["pgvector_reset"] = False
        backend = cls(dimension, options)
        if backend._rows != meta["rows"]:
            raise RuntimeError(
                f"pgvector table {backend.table} holds {backend._rows} rows, the saved index expects {meta['rows']}: "
                "rebuild it (python -m retrieval rebuild)"
            )
        return backend

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __len__(self) -> int:
        return self._rows
