"""Timing the product's vector backends for the retrieval benchmark's scale section: build time, memory,
single-query latency and recall@10 against exact search, each backend built and searched through its
retrieval.backends class exactly as ReplyIndex does (constructor, one add, search one query at a time).

pgvector runs in a throw-away database the benchmark creates and drops (never `test` or `postgres`).
"""

from __future__ import annotations

import ctypes
import functools
import gc
import math
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from benchmarks.retrieval_baselines import progress
from retrieval.backends import PgvectorBackend

TOP_K = 10
DIMENSION = 384
# Session setting the backend's CREATE INDEX runs with: a 1M-vector HNSW graph (~1.9 GB) must fit in memory
# to be built in one pass; the backend's own default (1GB) would spill it at this size.
PG_MAINTENANCE_WORK_MEM = "4GB"
PG_BUILD = (
    "pgvector build = PgvectorBackend(384, options).add(all vectors) on a fresh table, the product's first load "
    f"(binary COPY, then CREATE INDEX), with pgvector_maintenance_work_mem {PG_MAINTENANCE_WORK_MEM} "
    "(the backend's default is 1GB) and 1 parallel maintenance worker."
)

Hits = List[List[Tuple[int, float]]]


def release_freed_memory() -> None:
    """gc, then hand freed heap pages back to the OS, so RSS before/after a build compares like with like."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def recall_at_k(results: Hits, exact: Hits) -> float:
    """Share of the exact top-k rows a backend returned, averaged over queries."""
    return float(
        np.mean(
            [
                len({r for r, _ in got} & {r for r, _ in truth}) / len(truth)
                for got, truth in zip(results, exact, strict=True)
            ]
        )
    )


def latency_ms(search: Callable[[np.ndarray], Any], queries: np.ndarray, warmup: int) -> Dict[str, float]:
    for query in queries[:warmup]:
        search(query[None, :])
    times = []
    for query in progress(queries[warmup:], "timed queries"):
        started = time.perf_counter()
        search(query[None, :])
        times.append((time.perf_counter() - started) * 1000)
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99), "mean_ms": float(np.mean(times))}


def measure_in_process(
    make: Callable[[], Any],
    vectors: np.ndarray,
    queries: np.ndarray,
    exact: Hits,
    warmup: int,
    search_threads: Sequence[int] = (2,),
) -> List[Dict[str, Any]]:
    """Build once; time single queries once per FAISS OpenMP thread count in `search_threads`."""
    import faiss

    release_freed_memory()
    before = rss_bytes()
    started = time.perf_counter()
    backend = make()
    backend.add(vectors)
    build = time.perf_counter() - started
    release_freed_memory()
    grown = rss_bytes() - before
    with tempfile.TemporaryDirectory(prefix="retrieval_bench_") as folder:
        backend.save(Path(folder))
        saved = sum(f.stat().st_size for f in Path(folder).iterdir())
    recall = recall_at_k(backend.search(queries[warmup:], TOP_K), exact)
    entries = []
    for threads in search_threads:
        faiss.omp_set_num_threads(threads)
        latency = latency_ms(functools.partial(backend.search, top_k=TOP_K), queries, warmup)
        entries.append(
            {
                "build_seconds": build,
                "memory_mb": grown / 1024**2,
                "memory_kind": "RSS growth",
                "saved_mb": saved / 1024**2,
                "recall_at_10": recall,
                "search_threads": threads,
                **latency,
            }
        )
    faiss.omp_set_num_threads(2)
    assert len(backend) == len(vectors)
    del backend
    gc.collect()
    return entries


def pg_connect(url: str) -> Any:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def pg_reset_database(admin_url: str, url: str) -> None:
    database = url.rsplit("/", 1)[1]
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database) or database in ("test", "postgres", "root"):
        raise ValueError(f"refusing to recreate database {database!r}")
    conn = pg_connect(admin_url)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {database}")
        cur.execute(f"CREATE DATABASE {database}")
        # Session defaults for every connection the backends open (the IVFFlat build reads the memory one).
        cur.execute(f"ALTER DATABASE {database} SET maintenance_work_mem = '{PG_MAINTENANCE_WORK_MEM}'")
        cur.execute(f"ALTER DATABASE {database} SET max_parallel_maintenance_workers = 1")
    conn.close()
    conn = pg_connect(url)
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.close()


def pg_drop_database(admin_url: str, url: str) -> None:
    conn = pg_connect(admin_url)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]}")
    conn.close()


def pg_versions(url: str) -> Dict[str, str]:
    conn = pg_connect(url)
    with conn.cursor() as cur:
        cur.execute("SHOW server_version")
        server = cur.fetchone()[0]
        cur.execute("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
        vector = cur.fetchone()[0]
        cur.execute("SHOW shared_buffers")
        buffers = cur.fetchone()[0]
    conn.close()
    return {"server": server, "pgvector": vector, "shared_buffers": buffers}


def tune_ivfflat_probes(backend: PgvectorBackend, queries: np.ndarray, exact: Hits) -> Tuple[int, List[Dict]]:
    """The fewest probes reaching recall@10 >= 0.9 on separate tuning queries (set on the backend's session)."""
    tried = []
    with backend.conn.cursor() as cur:
        for probes in (5, 10, 20, 40, 80, 160):
            cur.execute(f"SET ivfflat.probes = {probes}")
            recall = recall_at_k(backend.search(queries, TOP_K), exact)
            tried.append({"probes": probes, "recall_at_10_tuning_queries": recall})
            if recall >= 0.9:
                break
    return probes, tried


def measure_pgvector(
    url: str,
    method: str,
    vectors: np.ndarray,
    queries: np.ndarray,
    exact: Hits,
    warmup: int,
    tuning_queries: np.ndarray,
    tuning_exact: Hits,
) -> Dict[str, Any]:
    """Build as the product does: a fresh PgvectorBackend and one add() of every vector, its bulk first
    load (binary COPY, then the HNSW graph built once), the calls ReplyIndex.build makes.

    IVFFlat, which the backend does not create, is built here (lists = sqrt(N)) on the table the backend
    loaded without an index.
    """
    n = len(vectors)
    table = f"bench_{n}"
    options = {
        "pgvector_url": url,
        "pgvector_table": table,
        "pgvector_ef_search": 100,
        "pgvector_index": "hnsw" if method == "hnsw" else "none",
        "pgvector_maintenance_work_mem": PG_MAINTENANCE_WORK_MEM,
        "pgvector_reset": True,
    }
    entry: Dict[str, Any] = {}
    started = time.perf_counter()
    backend = PgvectorBackend(DIMENSION, options)
    backend.add(vectors)
    if method == "hnsw":
        entry["index"] = "HNSW m=16 ef_construction=64, ef_search=100"
    else:
        lists = max(1, int(round(math.sqrt(n))))
        with backend.conn.cursor() as cur:
            cur.execute(
                f"CREATE INDEX {table}_ivfflat ON {table} USING ivfflat (embedding vector_cosine_ops) "
                f"WITH (lists = {lists})"
            )
        entry["index"] = f"IVFFlat lists={lists}"
    build_seconds = time.perf_counter() - started
    with backend.conn.cursor() as cur:
        cur.execute("ANALYZE " + table)
    if method != "hnsw":
        probes, entry["probes_tried"] = tune_ivfflat_probes(backend, tuning_queries, tuning_exact)
        entry["index"] += f", probes={probes} (first with recall >= 0.9 on separate tuning queries)"
    with backend.conn.cursor() as cur:
        literal = "[" + ",".join(f"{x:.7g}" for x in queries[0].tolist()) + "]"
        cur.execute(f"EXPLAIN SELECT row FROM {table} ORDER BY embedding <=> %s::vector LIMIT 10", (literal,))
        plan = " ".join(row[0] for row in cur.fetchall())
        cur.execute(
            "SELECT pg_total_relation_size(%s), pg_relation_size(%s), pg_indexes_size(%s)", (table, table, table)
        )
        total, heap, indexes = cur.fetchone()
    entry.update(
        {
            "build_seconds": build_seconds,
            "build": "PgvectorBackend.add (product path)",
            "memory_mb": total / 1024**2,
            "memory_kind": "pg_total_relation_size",
            "table_mb": heap / 1024**2,
            "index_mb": indexes / 1024**2,
            "uses_index": "Index Scan" in plan,
            "plan": plan,
            "recall_at_10": recall_at_k(backend.search(queries[warmup:], TOP_K), exact),
            **latency_ms(lambda q: backend.search(q, TOP_K), queries, warmup),
        }
    )
    assert len(backend) == n
    with backend.conn.cursor() as cur:
        cur.execute(f"DROP TABLE {table}")
    backend.close()
    return entry
