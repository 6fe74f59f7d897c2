"""The data the retrieval benchmark ranks: InsuranceQA pairs, Harbor Mutual's held-out questions, and
synthetic embedding-shaped vectors for the latency sections.

NumPy and the standard library only, so the sections can load and shrink data without paying for torch.
Loaders return plain lists in file order; the InsuranceQA splits are read from the shared data folder
and the Harbor sets from demo_data/past_replies (see that folder's heldout/ for the labelled questions).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
INSURANCEQA = Path("/work/shared/data/insuranceqa_pairs")
PAST_REPLIES = ROOT / "demo_data" / "past_replies"

Row = Dict[str, str]


# ------------------------------------------------------------------------------------------ InsuranceQA


@dataclass
class RankingTask:
    """Questions with at least one positive answer, ranked against every distinct candidate answer."""

    questions: List[str]
    candidates: List[str]
    gold: List[Set[int]]


def read_pairs(path: Path) -> List[Row]:
    """One InsuranceQA split: rows of question, answer, label ("1" = the answer answers the question)."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def insuranceqa_split(name: str) -> List[Row]:
    return read_pairs(INSURANCEQA / f"{name}.csv")


def ranking_task(rows: Sequence[Row]) -> RankingTask:
    candidates = list(dict.fromkeys(row["answer"] for row in rows))
    column = {answer: i for i, answer in enumerate(candidates)}
    gold: Dict[str, Set[int]] = {}
    for row in rows:
        if row["label"] == "1":
            gold.setdefault(row["question"], set()).add(column[row["answer"]])
    return RankingTask(list(gold), candidates, list(gold.values()))


def shrink_task(task: RankingTask, questions: int, candidates: int, rng: random.Random) -> RankingTask:
    """--quick: a sample of questions, their gold answers and random other candidates."""
    picked = sorted(rng.sample(range(len(task.questions)), min(questions, len(task.questions))))
    keep = sorted(set().union(*(task.gold[i] for i in picked)))
    others = [c for c in range(len(task.candidates)) if c not in set(keep)]
    keep = sorted(set(keep) | set(rng.sample(others, max(0, min(len(others), candidates - len(keep))))))
    new_column = {old: new for new, old in enumerate(keep)}
    return RankingTask(
        [task.questions[i] for i in picked],
        [task.candidates[c] for c in keep],
        [{new_column[c] for c in task.gold[i]} for i in picked],
    )


def split_validation(rows: Sequence[Row], fraction: float, seed: int) -> Tuple[List[Row], List[Row]]:
    """Hold out a fraction of the distinct validation questions (with all their rows)."""
    questions = sorted({row["question"] for row in rows})
    random.Random(seed).shuffle(questions)
    held = set(questions[: max(1, round(fraction * len(questions)))])
    return [r for r in rows if r["question"] not in held], [r for r in rows if r["question"] in held]


def training_pairs(
    train_rows: Sequence[Row], excluded_answers: Set[str], excluded_pairs: Set[Tuple[str, str]]
) -> Tuple[List[Tuple[str, str]], int]:
    """(question, positive answer) pairs, minus any whose answer is a gold answer of test or hold-out."""
    pairs, dropped = [], 0
    for row in train_rows:
        if row["label"] != "1":
            continue
        pair = (row["question"], row["answer"])
        if row["answer"] in excluded_answers or pair in excluded_pairs:
            dropped += 1
            continue
        pairs.append(pair)
    return list(dict.fromkeys(pairs)), dropped


# ------------------------------------------------------------------------------ Harbor Mutual held-out


@dataclass
class HarborSet:
    """The past-replies corpus and the held-out questions, each with the corpus row that answers it."""

    corpus_files: List[Path]
    heldout_files: List[Path]
    corpus: List[Row]
    heldout: List[Row]
    expected: List[Optional[int]]  # corpus row answering each held-out question, None = unanswerable
    duplicate_external_ids: int
    unknown_expected_ids: int

    @property
    def questions(self) -> List[str]:
        return [h["question"] for h in self.heldout]

    @property
    def answerable(self) -> List[int]:
        return [i for i, e in enumerate(self.expected) if e is not None]

    def representations(self) -> Dict[str, List[str]]:
        """The texts a new question can be matched against, one per past reply."""
        return {
            "past questions": [r["question"] for r in self.corpus],
            "question + reply": [f"{r['question']}\n{r['reply']}" for r in self.corpus],
            "replies only": [r["reply"] for r in self.corpus],
        }


def read_csvs(paths: Iterable[Path]) -> List[Row]:
    rows: List[Row] = []
    for path in paths:
        with open(path, newline="", encoding="utf-8") as f:
            rows.extend({**row, "_file": path.name} for row in csv.DictReader(f))
    return rows


def harbor_set(folder: Path = PAST_REPLIES) -> Optional[HarborSet]:
    """None when the corpus or its heldout/ folder has no CSV; held-out rows naming an unknown id are dropped
    (and counted), since they could be scored neither as answerable nor as unanswerable."""
    corpus_files = sorted(folder.glob("*.csv"))
    heldout_files = sorted((folder / "heldout").glob("*.csv"))
    if not corpus_files or not heldout_files:
        return None
    corpus = read_csvs(corpus_files)
    heldout = read_csvs(heldout_files)
    row_of = {row["external_id"]: i for i, row in enumerate(corpus)}
    unknown = [h for h in heldout if h["expected_external_id"].strip() and h["expected_external_id"] not in row_of]
    heldout = [h for h in heldout if h not in unknown]
    return HarborSet(
        corpus_files=corpus_files,
        heldout_files=heldout_files,
        corpus=corpus,
        heldout=heldout,
        expected=[row_of.get(h["expected_external_id"].strip()) for h in heldout],
        duplicate_external_ids=len(corpus) - len(row_of),
        unknown_expected_ids=len(unknown),
    )


# ---------------------------------------------------------------------------------- synthetic vectors


class ClusteredVectors:
    """Normalised vectors shaped like sentence embeddings: ~2,000 unevenly popular topics, each a centre plus
    noise whose variance decays over a random basis (real embeddings have a few dominant directions)."""

    def __init__(self, dimension: int, centres: int, seed: int, noise_norm: float = 0.9) -> None:
        rng = np.random.default_rng(seed)
        self.centres = rng.standard_normal((centres, dimension)).astype(np.float32)
        self.centres /= np.linalg.norm(self.centres, axis=1, keepdims=True)
        popularity = 1.0 / np.arange(1, centres + 1) ** 0.7
        self.weights = rng.permutation(popularity / popularity.sum())
        basis, _ = np.linalg.qr(rng.standard_normal((dimension, dimension)))
        spectrum = 1.0 / np.sqrt(np.arange(1, dimension + 1))
        spectrum *= noise_norm / np.sqrt((spectrum**2).sum())
        self.noise_map = (spectrum[:, None] * basis.T).astype(np.float32)
        self.dimension = dimension

    def sample(self, n: int, seed: int, chunk: int = 100_000) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.dimension), dtype=np.float32)
        for start in range(0, n, chunk):
            size = min(chunk, n - start)
            topics = rng.choice(len(self.centres), size=size, p=self.weights)
            noise = rng.standard_normal((size, self.dimension), dtype=np.float32) @ self.noise_map
            block = self.centres[topics] + noise
            out[start : start + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return out
