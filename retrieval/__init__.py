"""Embedding retrieval over past agent replies: build, add, search, save, load.

The bot answers knowledge questions with the best reply a person already wrote. Backends sit behind
one protocol (`backends.VectorBackend`); the default is exact in-process NumPy search.
"""

from retrieval.index import ReplyIndex, ReplyRecord, SearchHit
from retrieval.search import semantic_search

__all__ = ["ReplyIndex", "ReplyRecord", "SearchHit", "semantic_search"]
