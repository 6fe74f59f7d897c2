"""The retraining gate promotes a candidate only when it learned what it was taught and lost nothing."""

from __future__ import annotations

import pytest

from learning.gate import Evaluation, Tolerance, decide

ACTIVE = Evaluation(heldout_intent=95.0, heldout_sentiment=96.0, annotated_intent=35.0, stories=100.0)


def test_a_candidate_that_learned_and_kept_everything_is_promoted() -> None:
    candidate = Evaluation(heldout_intent=94.6, heldout_sentiment=96.4, annotated_intent=86.7, stories=100.0)
    verdict = decide(ACTIVE, candidate)
    assert verdict.promote and verdict.failures == ()
    assert verdict.explain().startswith("promoted")


def test_shuffled_labels_are_refused_with_every_failing_number() -> None:
    """What a batch of wrong labels does: the held-out set falls and the annotated messages do not improve."""
    candidate = Evaluation(heldout_intent=88.2, heldout_sentiment=95.9, annotated_intent=20.0, stories=93.3)
    verdict = decide(ACTIVE, candidate)
    assert not verdict.promote
    text = verdict.explain()
    assert "heldout_intent fell from 95.0 to 88.2" in text
    assert "stories fell from 100.0 to 93.3" in text
    assert "annotated_intent went from 35.0 to 20.0" in text
    assert "heldout_sentiment" not in " ".join(verdict.failures)  # within tolerance: not blamed


@pytest.mark.parametrize(
    "change, promote",
    [
        ({"heldout_intent": 94.0}, True),  # exactly one point lower: allowed
        ({"heldout_intent": 93.9}, False),
        ({"stories": 99.9}, False),  # stories may not fall at all by default
        ({"annotated_intent": 35.4}, False),  # a gain under half a point is noise
        ({"annotated_intent": 35.5}, True),
    ],
)
def test_the_tolerances_are_edges_not_suggestions(change: dict, promote: bool) -> None:
    base = {"heldout_intent": 95.0, "heldout_sentiment": 96.0, "annotated_intent": 80.0, "stories": 100.0}
    candidate = Evaluation(**{**base, **change})
    active = ACTIVE if "annotated_intent" not in change else Evaluation(95.0, 96.0, 35.0, 100.0)
    assert decide(active, candidate).promote is promote


def test_without_held_back_annotations_nothing_is_promoted() -> None:
    candidate = Evaluation(heldout_intent=95.0, heldout_sentiment=96.0, annotated_intent=None, stories=100.0)
    verdict = decide(ACTIVE, candidate)
    assert not verdict.promote and "no annotated messages were held back" in verdict.failures[0]


def test_a_stricter_tolerance_is_honoured() -> None:
    candidate = Evaluation(heldout_intent=94.6, heldout_sentiment=96.0, annotated_intent=80.0, stories=100.0)
    assert decide(ACTIVE, candidate, Tolerance(heldout_intent=0.2)).promote is False
