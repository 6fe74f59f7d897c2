"""NAB's scoring, as nab/sweeper.py and nab/optimizer.py of numenta/NAB (v1.1) compute it, in numpy.

The rules, each as NAB has it (so the published raw outputs re-score to the published figures):

- The first ``min(floor(0.15 * rows), 0.15 * 5000)`` rows of each file are probation: never scored.
- A row at index i inside a window [start, end] (width = end - start + 1 rows) is worth
  ``sigma(-(end - i + 1) / width) * tpWeight / sigma(-1)``, where ``sigma(x) = 2 / (1 + exp(5x)) - 1`` is the
  scaled sigmoid: a detection on the window's first row is worth exactly tpWeight, one on its last row ~0.12.
  A window scores the best of its detected rows (in practice the earliest), or -fnWeight if none.
- A detection outside every window costs ``sigma(|i - previousEnd| / (previousWidth - 1)) * fpWeight`` (sigma is
  -1 beyond 3 window widths), or -fpWeight before the first window: a detection just after a window is cheap.
- A row is a detection when its anomaly score is >= the threshold. The optimiser sweeps every distinct score
  over all files together and keeps the threshold of the highest total (the highest such threshold on a tie).
- Normalised score = 100 * (raw - null) / (perfect - null), with null = -fnWeight * windows (detect nothing)
  and perfect = tpWeight * windows; we count the windows of the scored files only (realTweets alone).

Vectorised rather than NAB's row loop so a parameter grid over 160,000 rows takes milliseconds per setting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, List, Sequence, Tuple

import numpy as np

from benchmarks.alerts.nab import CostMatrix, Series

PROBATION_PERCENT = 0.15
NOTHING_DETECTED = 1.1  # NAB's first sweep threshold: above every score


def scaled_sigmoid(position: np.ndarray | float) -> np.ndarray:
    """NAB's scaledSigmoid: 0.9866 at -1 (window start), 0 at 0 (window end), -1 beyond +3."""
    position = np.asarray(position, dtype=float)
    value = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position > 3.0, -1.0, value)


MAX_TP = float(scaled_sigmoid(-1.0))


def probation_length(rows: int) -> float:
    """Kept as NAB's float (750.0 for files over 5000 rows): rows with index >= it are scored."""
    return min(math.floor(PROBATION_PERCENT * rows), PROBATION_PERCENT * 5000)


@dataclass(frozen=True)
class ScorableRows:
    """A file's scored rows: anomaly score, what detecting the row is worth, and its window (-1: none)."""

    name: str
    anomaly: np.ndarray
    reward: np.ndarray
    window: np.ndarray
    windows: int

    def __len__(self) -> int:
        return len(self.anomaly)


@dataclass(frozen=True)
class FileScore:
    name: str
    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int


@dataclass(frozen=True)
class Sweep:
    """Total raw score for each candidate threshold, highest threshold first (NAB's scoresByThreshold)."""

    thresholds: np.ndarray
    scores: np.ndarray

    def best(self) -> Tuple[float, float]:
        index = int(np.argmax(self.scores))  # first maximum: the highest threshold, as NAB's stable sort
        return float(self.thresholds[index]), float(self.scores[index])


def window_indices(
    timestamps: Sequence[datetime], windows: Sequence[Tuple[datetime, datetime]]
) -> List[Tuple[int, int]]:
    position = {stamp: index for index, stamp in enumerate(timestamps)}
    return [(position[start], position[end]) for start, end in windows]


def row_rewards(
    timestamps: Sequence[datetime], windows: Sequence[Tuple[datetime, datetime]], cost: CostMatrix
) -> Tuple[np.ndarray, np.ndarray]:
    """Per row of a file: the weighted value of a detection there, and its window id (-1 outside windows)."""
    rows = len(timestamps)
    reward = np.full(rows, -1.0 * cost.fp)
    window = np.full(rows, -1, dtype=int)
    index = np.arange(rows)
    previous_end = None
    previous_width = None
    cursor = 0
    for number, (start, end) in enumerate(window_indices(timestamps, windows)):
        if previous_end is not None and start > cursor:
            gap = index[cursor:start]
            reward[cursor:start] = scaled_sigmoid(np.abs(previous_end - gap) / (previous_width - 1)) * cost.fp
        width = float(end - start + 1)
        inside = index[start : end + 1]
        reward[start : end + 1] = scaled_sigmoid(-(end - inside + 1) / width) * cost.tp / MAX_TP
        window[start : end + 1] = number
        previous_end, previous_width, cursor = end, width, end + 1
    if previous_end is not None and cursor < rows:
        tail = index[cursor:]
        reward[cursor:] = scaled_sigmoid(np.abs(previous_end - tail) / (previous_width - 1)) * cost.fp
    return reward, window


def scorable_rows(series: Series, anomaly: np.ndarray, cost: CostMatrix) -> ScorableRows:
    """Drop probation rows; windows whose rows all fall in probation are not scored, as in NAB."""
    if len(anomaly) != len(series.timestamps):
        raise ValueError(f"{series.name}: {len(anomaly)} anomaly scores for {len(series.timestamps)} rows")
    reward, window = row_rewards(series.timestamps, series.windows, cost)
    keep = np.arange(len(anomaly)) >= probation_length(len(anomaly))
    kept_windows = window[keep]
    renumber = {old: new for new, old in enumerate(sorted(set(kept_windows[kept_windows >= 0].tolist())))}
    renumbered = np.array([renumber.get(w, -1) for w in kept_windows.tolist()], dtype=int)
    return ScorableRows(
        name=series.name,
        anomaly=np.asarray(anomaly, dtype=float)[keep],
        reward=reward[keep],
        window=renumbered,
        windows=len(renumber),
    )


def score_file(rows: ScorableRows, threshold: float, cost: CostMatrix) -> FileScore:
    """NAB's score of one file at one threshold; counts are rows, as in NAB's score CSVs."""
    detected = rows.anomaly >= threshold
    outside = rows.window < 0
    score = float(rows.reward[detected & outside].sum())
    for number in range(rows.windows):
        hits = rows.reward[detected & (rows.window == number)]
        score += float(hits.max()) if len(hits) else -cost.fn
    return FileScore(
        name=rows.name,
        threshold=threshold,
        score=score,
        tp=int((detected & ~outside).sum()),
        tn=int((~detected & outside).sum()),
        fp=int((detected & outside).sum()),
        fn=int((~detected & ~outside).sum()),
    )


def sweep(files: Sequence[ScorableRows], cost: CostMatrix) -> Sweep:
    """Every threshold NAB's optimiser tries over these files together, with its total raw score."""
    anomaly = np.concatenate([f.anomaly for f in files])
    reward = np.concatenate([f.reward for f in files])
    offsets = np.cumsum([0] + [f.windows for f in files[:-1]])
    window = np.concatenate(
        [np.where(f.window >= 0, f.window + offset, -1) for f, offset in zip(files, offsets, strict=True)]
    )
    total_windows = int(sum(f.windows for f in files))

    order = np.argsort(-anomaly, kind="stable")
    anomaly, reward, window = anomaly[order], reward[order], window[order]
    gain = np.where(window < 0, reward, 0.0)
    in_window = np.flatnonzero(window >= 0)
    by_window = in_window[np.argsort(window[in_window], kind="stable")]
    bounds = np.flatnonzero(np.diff(window[by_window])) + 1
    for positions in np.split(by_window, bounds):
        if len(positions) == 0:
            continue
        best = np.maximum.accumulate(np.maximum(reward[positions], -cost.fn))
        gain[positions] = np.diff(best, prepend=-cost.fn)
    running = -cost.fn * total_windows + np.cumsum(gain)

    last_of_value = np.flatnonzero(np.append(anomaly[1:] != anomaly[:-1], True))
    thresholds = np.concatenate([[NOTHING_DETECTED], anomaly[last_of_value]])
    scores = np.concatenate([[-cost.fn * total_windows], running[last_of_value]])
    return Sweep(thresholds=thresholds, scores=scores)


def null_score(files: Sequence[ScorableRows], cost: CostMatrix) -> float:
    return -cost.fn * sum(f.windows for f in files)


def perfect_score(files: Sequence[ScorableRows], cost: CostMatrix) -> float:
    return cost.tp * sum(f.windows for f in files)


def normalised(raw: float, files: Sequence[ScorableRows], cost: CostMatrix) -> float:
    null = null_score(files, cost)
    return 100.0 * (raw - null) / (perfect_score(files, cost) - null)


@dataclass(frozen=True)
class CorpusScore:
    threshold: float
    raw: float
    normalised: float
    files: Dict[str, FileScore]


def score_corpus(files: Sequence[ScorableRows], threshold: float, cost: CostMatrix) -> CorpusScore:
    per_file = {f.name: score_file(f, threshold, cost) for f in files}
    raw = sum(s.score for s in per_file.values())
    return CorpusScore(threshold=threshold, raw=raw, normalised=normalised(raw, files, cost), files=per_file)


def optimise_and_score(files: Sequence[ScorableRows], cost: CostMatrix) -> CorpusScore:
    """NAB's optimise step then its score step: the best threshold over these files, and their scores there."""
    threshold, _ = sweep(files, cost).best()
    return score_corpus(files, threshold, cost)
