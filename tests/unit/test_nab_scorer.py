"""The NAB scorer on cases small enough to compute by hand, then on NAB's own published results.

A scorer that is slightly off still produces plausible numbers; the detector would then be tuned to our bug
rather than to NAB. The hand cases pin each rule of NAB's sweeper; the published re-scores pin the whole.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import List, Sequence, Tuple

import numpy as np
import pytest

from benchmarks.alerts import nab, scorer
from benchmarks.alerts.nab import CostMatrix, Series

STANDARD = CostMatrix(tp=1.0, fp=0.11, fn=1.0)
LOW_FP = CostMatrix(tp=1.0, fp=0.22, fn=1.0)
ROWS = 100  # probation: floor(0.15 * 100) = 15 rows
START = datetime(2015, 3, 1)


def sigma(position: float) -> float:
    """NAB's scaled sigmoid, written out: 2 / (1 + e^(5x)) - 1."""
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def series(windows: Sequence[Tuple[int, int]], rows: int = ROWS) -> Series:
    stamps = tuple(START + timedelta(minutes=5 * i) for i in range(rows))
    return Series(
        name="test/one.csv",
        timestamps=stamps,
        values=np.zeros(rows),
        windows=tuple((stamps[a], stamps[b]) for a, b in windows),
    )


def score(detections: List[int], windows: Sequence[Tuple[int, int]] = ((40, 49),), cost: CostMatrix = STANDARD):
    anomaly = np.zeros(ROWS)
    anomaly[detections] = 1.0
    rows = scorer.scorable_rows(series(windows), anomaly, cost)
    return scorer.score_file(rows, 0.5, cost).score


def test_a_detection_on_the_first_row_of_a_window_is_worth_the_full_tp_weight() -> None:
    assert score([40]) == pytest.approx(1.0)


def test_a_detection_late_in_the_window_is_worth_less() -> None:
    # row 47 of window 40..49 (10 rows): position -(49 - 47 + 1) / 10 = -0.3, scaled by the window-start value
    assert score([47]) == pytest.approx(sigma(-0.3) / sigma(-1.0))
    assert score([47]) < score([44]) < score([40])


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    assert score([42, 43, 48]) == pytest.approx(score([42]))


def test_a_missed_window_costs_the_fn_weight() -> None:
    assert score([]) == pytest.approx(-1.0)


def test_false_positives_cost_fp_weight_scaled_by_distance_from_the_last_window() -> None:
    before_any_window = score([20]) - score([])
    assert before_any_window == pytest.approx(-0.11)
    just_after = score([51]) - score([])  # |49 - 51| / (10 - 1) of a window past its end
    assert just_after == pytest.approx(0.11 * sigma(2 / 9))
    far_after = score([80]) - score([])  # beyond 3 window widths: the full cost
    assert far_after == pytest.approx(-0.11)
    assert score([80], cost=LOW_FP) - score([]) == pytest.approx(-0.22)


def test_probation_rows_are_never_scored() -> None:
    assert score([3, 10, 14]) == pytest.approx(score([]))
    assert score([15]) == pytest.approx(score([]) - 0.11)


def test_a_window_inside_probation_is_not_counted() -> None:
    assert score([], windows=((2, 8), (40, 49))) == pytest.approx(-1.0)


def test_the_optimiser_keeps_the_threshold_with_the_best_total_and_the_highest_on_a_tie() -> None:
    anomaly = np.zeros(ROWS)
    anomaly[44] = 0.9  # in the window
    anomaly[70] = 0.8  # a false positive
    anomaly[75] = 0.8
    rows = [scorer.scorable_rows(series(((40, 49),)), anomaly, STANDARD)]
    sweep = scorer.sweep(rows, STANDARD)
    assert sweep.thresholds[0] == scorer.NOTHING_DETECTED and sweep.scores[0] == pytest.approx(-1.0)
    threshold, best = sweep.best()
    assert threshold == pytest.approx(0.9)
    assert best == pytest.approx(sigma(-0.6) / sigma(-1.0))  # row 44: -(49 - 44 + 1) / 10

    anomaly[46] = 0.85  # a later row of the same window: 0.85 scores exactly as 0.9 does
    rows = [scorer.scorable_rows(series(((40, 49),)), anomaly, STANDARD)]
    assert scorer.sweep(rows, STANDARD).best()[0] == pytest.approx(0.9)


def test_normalisation_puts_the_null_detector_at_0_and_a_perfect_one_at_100() -> None:
    windows = ((40, 49), (70, 79))
    rows = scorer.scorable_rows(series(windows), np.zeros(ROWS), STANDARD)
    assert scorer.normalised(scorer.score_file(rows, 0.5, STANDARD).score, [rows], STANDARD) == pytest.approx(0.0)
    perfect = np.zeros(ROWS)
    perfect[[40, 70]] = 1.0
    rows = scorer.scorable_rows(series(windows), perfect, STANDARD)
    assert scorer.normalised(scorer.score_file(rows, 0.5, STANDARD).score, [rows], STANDARD) == pytest.approx(100.0)


shared = pytest.mark.skipif(
    not nab.corpus_dir().is_dir(),
    reason=f"NAB data {nab.corpus_dir()} is absent (set COVERLINE_SHARED_DATA to the shared data folder)",
)


@shared
@pytest.mark.parametrize("detector, total", [("numenta", 68.0), ("twitterADVec", 59.6)])
def test_published_raw_outputs_rescore_to_the_published_realtweets_scores(detector: str, total: float) -> None:
    corpus = nab.load_series()
    cost = nab.load_profiles()["standard"]
    raw = nab.published_raw_scores(detector, corpus)
    rows = [scorer.scorable_rows(s, raw[s.name], cost) for s in corpus]
    result = scorer.score_corpus(rows, nab.published_thresholds()[detector]["standard"], cost)
    assert result.normalised == pytest.approx(total, abs=0.5)
    for name, published in nab.published_file_scores(detector, "standard").items():
        ours = result.files[name]
        assert ours.score == pytest.approx(published.score, abs=1e-6), name
        assert (ours.tp, ours.tn, ours.fp, ours.fn) == (published.tp, published.tn, published.fp, published.fn), name
