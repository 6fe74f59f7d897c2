"""Turn raw similarity into "how likely is this past reply the right answer", so the threshold means what it says.

Cosine scores are not probabilities: 0.7 can be a near-certain match for one corpus and a coin toss for
another. We fit a logistic model (Platt scaling) on labelled held-out customer questions — each either
paired with the past reply that answers it or marked as having none — using the top score and its margin
over the runner-up, and pick the answer threshold on cross-validated probabilities for a target precision.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from retrieval.products import detect_product

# Precision of answered questions on held-out data. Labels name one right reply, so a neighbouring reply
# that also answers counts as wrong: the real precision is higher than the figure we tune on.
# The answer shows the past question it matched and asks "did that answer your question?", so a
# near miss is visible and cheap to correct; 0.7 answers about a third of answerable questions.
TARGET_PRECISION = 0.7
FOLD_SEEDS = (0, 1, 2, 3, 4)  # out-of-fold probabilities averaged over reshuffles: a steadier threshold
THRESHOLD_GRID = np.round(np.arange(0.30, 0.96, 0.01), 2)

Sample = Tuple[float, float, bool]  # (top-1 score, top-2 score, top-1 is the right reply)


def features(top1: float, top2: Optional[float]) -> np.ndarray:
    return np.array([top1, top1 - (top2 if top2 is not None else 0.0)], dtype=np.float64)


@dataclass
class Calibration:
    weights: Tuple[float, float]
    bias: float
    threshold: float
    fitted: bool = False
    metrics: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def default(cls) -> "Calibration":
        """Before any fit: a conservative curve that answers only near-paraphrases (cosine ≳ 0.8)."""
        return cls(weights=(12.0, 0.0), bias=-9.0, threshold=0.6, fitted=False)

    def probability(self, top1: float, top2: Optional[float] = None) -> float:
        z = float(np.dot(self.weights, features(top1, top2)) + self.bias)
        return 1.0 / (1.0 + math.exp(-z))

    def confident(self, probability: float) -> bool:
        return probability >= self.threshold

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data["weights"] = list(self.weights)
        return data

    @classmethod
    def from_dict(cls, data: Optional[Dict[str, Any]]) -> "Calibration":
        if not data:
            return cls.default()
        return cls(
            weights=tuple(data["weights"]),  # type: ignore[arg-type]
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            fitted=bool(data.get("fitted")),
            metrics=dict(data.get("metrics") or {}),
        )

    def describe(self) -> str:
        if not self.fitted:
            return f"default (not fitted), threshold {self.threshold:.2f}"
        m = self.metrics
        return (
            f"fitted on {m.get('samples')} held-out questions, threshold {self.threshold:.2f}: "
            f"cross-validated precision {m.get('precision', 0):.2f}, "
            f"answers {m.get('coverage', 0):.0%} of answerable, "
            f"{m.get('false_answer_rate', 0):.0%} of unanswerable"
        )


def _answer_metrics(probabilities: np.ndarray, correct: np.ndarray, answerable: np.ndarray, threshold: float) -> dict:
    answered = probabilities >= threshold
    n_answered = int(answered.sum())
    return {
        "answered": n_answered,
        "precision": float(correct[answered].mean()) if n_answered else 1.0,
        "coverage": float((answered & correct)[answerable].sum() / max(answerable.sum(), 1)),
        "false_answer_rate": float(answered[~answerable].mean()) if (~answerable).any() else 0.0,
    }


def expected_calibration_error(probabilities: np.ndarray, outcomes: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        members = (probabilities >= low) & (probabilities < high if high < 1 else probabilities <= high)
        if members.any():
            error += members.mean() * abs(probabilities[members].mean() - outcomes[members].mean())
    return float(error)


def fit(
    samples: Sequence[Sample], answerable: Sequence[bool], target_precision: float = TARGET_PRECISION, folds: int = 5
) -> Calibration:
    """Platt scaling on (top1, margin); threshold from out-of-fold probabilities (5 folds × 5 shuffles)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    x = np.stack([features(top1, top2) for top1, top2, _ in samples])
    y = np.array([ok for _, _, ok in samples], dtype=bool)
    can = np.asarray(answerable, dtype=bool)
    if y.all() or not y.any() or min(y.sum(), (~y).sum()) < folds:
        raise ValueError("calibration needs at least a few correct and a few wrong top-1 answers")
    out_of_fold = np.zeros(len(y))
    for seed in FOLD_SEEDS:
        for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
            model = LogisticRegression(C=10.0).fit(x[train], y[train])
            out_of_fold[test] += model.predict_proba(x[test])[:, 1] / len(FOLD_SEEDS)
    by_threshold = {float(t): _answer_metrics(out_of_fold, y, can, float(t)) for t in THRESHOLD_GRID}
    threshold = next(
        (t for t, m in by_threshold.items() if m["precision"] >= target_precision and m["answered"] >= 5),
        float(THRESHOLD_GRID[-1]),
    )
    final = LogisticRegression(C=10.0).fit(x, y)
    metrics: Dict[str, Any] = {
        "samples": int(len(y)),
        "answerable": int(can.sum()),
        "top1_correct": int(y.sum()),
        "target_precision": target_precision,
        "brier": float(np.mean((out_of_fold - y) ** 2)),
        "ece": expected_calibration_error(out_of_fold, y.astype(float)),
        **by_threshold[threshold],
        "cross_validated": True,
        "curve": [{"threshold": float(t), **by_threshold[float(t)]} for t in THRESHOLD_GRID[::5]],
    }
    return Calibration(
        weights=(float(final.coef_[0][0]), float(final.coef_[0][1])),
        bias=float(final.intercept_[0]),
        threshold=threshold,
        fitted=True,
        metrics=metrics,
    )


def samples_from_index(index: Any, labelled: Sequence[Tuple[str, Optional[str]]]) -> Tuple[List[Sample], List[bool]]:
    """Search each held-out question; a sample is correct when the top reply is the labelled one."""
    samples: List[Sample] = []
    answerable: List[bool] = []
    for question, expected in labelled:
        hits = index.search(question, top_k=2, product=detect_product(question))
        if not hits:
            continue
        top2 = hits[1].score if len(hits) > 1 else None
        samples.append((hits[0].score, top2, bool(expected) and hits[0].record.reply_id == expected))
        answerable.append(bool(expected))
    return samples, answerable
