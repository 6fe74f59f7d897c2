"""The regression guard's comparison (tests/integration/test_model_guard.py runs it on the trained model)."""

from __future__ import annotations

import json

from benchmarks.heldout import RECORD, regressions


def test_a_point_and_a_half_down_fails_and_half_a_point_passes() -> None:
    record = {"figures": {"nlu_heldout": {"intent_accuracy": 90.0, "sentiment_accuracy": 80.0}}}
    worse = {"nlu_heldout": {"intent_accuracy": 88.5, "sentiment_accuracy": 79.5}}
    assert regressions(worse, record) == [
        "nlu_heldout.intent_accuracy: 88.50 against 90.00 recorded (1.50 points worse)"
    ]


def test_handoff_rates_are_recorded_but_not_guarded_to_a_point() -> None:
    """One of the 58 angry messages is 1.7 points: the live test holds the rates to 5 % instead."""
    record = {"figures": {"handoff_heldout": {"spurious_handoff_rate": 0.0, "missed_handoff_rate": 0.0}}}
    assert regressions({"handoff_heldout": {"spurious_handoff_rate": 1.0, "missed_handoff_rate": 1.72}}, record) == []


def test_lower_dstc11_accuracy_is_caught() -> None:
    record = {"figures": {"dstc11_insurance": {"accuracy": 91.0}}}
    [found] = regressions({"dstc11_insurance": {"accuracy": 89.5}}, record)
    assert found.startswith("dstc11_insurance.accuracy")


def test_the_record_says_when_and_why() -> None:
    record = json.loads(RECORD.read_text())
    assert record["why"].strip() and record["date"]
    assert {"nlu_heldout", "handoff_heldout"} <= set(record["figures"])
