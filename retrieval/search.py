"""Exact top-k search by inner product over normalised vectors (cosine), chunked to bound memory."""

from __future__ import annotations

from typing import List, Tuple

import numpy as np


def semantic_search(
    queries: np.ndarray, corpus: np.ndarray, top_k: int = 5, chunk_size: int = 100_000
) -> List[List[Tuple[int, float]]]:
    """For each query row, the `top_k` (corpus row, score) pairs, best first."""
    if queries.ndim == 1:
        queries = queries[None, :]
    k = min(top_k, len(corpus))
    if k == 0:
        return [[] for _ in range(len(queries))]
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(corpus), chunk_size):
        scores = queries @ corpus[start : start + chunk_size].T
        kk = min(k, scores.shape[1])
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        best_scores = np.concatenate([best_scores, np.take_along_axis(scores, part, axis=1)], axis=1)
        best_ids = np.concatenate([best_ids, part + start], axis=1)
    order = np.argsort(-best_scores, axis=1)[:, :k]
    scores = np.take_along_axis(best_scores, order, axis=1)
    ids = np.take_along_axis(best_ids, order, axis=1)
    return [
        [(int(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True)]
        for row_ids, row_scores in zip(ids, scores, strict=True)
    ]
