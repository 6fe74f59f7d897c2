"""The regression guard: the trained model may not fall more than a point below the recorded figures.

The figures are the shipped config's (config.yml, nothing from ../shared in training) on the team's own
held-out sets, and on DSTC11's insurance utterances when ../shared/data is beside the checkout. A change
that moves them on purpose records the new figures and says why: `python -m benchmarks.heldout --record "…"`.
"""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from benchmarks.heldout import RECORD, TOLERANCE_POINTS, agent_parser, measure, regressions
from tests.support.paths import MODEL

pytestmark = pytest.mark.needs_model


@pytest.fixture(scope="module")
def parse() -> Any:
    """One loaded model for the module: loading it takes longer than every parse below."""
    return agent_parser(MODEL)


@pytest.fixture(scope="module")
def figures(parse: Any) -> Dict[str, Any]:
    return measure(parse)


def test_the_model_is_no_worse_than_the_record(figures: Dict[str, Any]) -> None:
    record = json.loads(RECORD.read_text())
    found = regressions(figures, record)
    assert not found, (
        f"more than {TOLERANCE_POINTS} point below {RECORD.name} (recorded {record['date']}: {record['why']}): "
        + "; ".join(found)
    )


# issue 13's floor for every DSTC11 intent (`make benchmark-nlu`'s per-intent table)
INTENT_FLOOR = 70.0


def test_no_dstc11_intent_is_left_behind(figures: Dict[str, Any]) -> None:
    """Every DSTC11 intent stays at or over 70 %, and none falls below the recorded worst by more than the guard's
    point or one of its own utterances, whichever is more. An intent has about 30 utterances, so one of them is
    3.4 points: with the point alone, a retraining that changed one parse of the worst intent (23 -> 22 of 29 for
    ChangeSecurityQuestion, same data, 2026-12-06) failed the suite though nothing regressed."""
    if "dstc11_insurance" not in figures:
        pytest.skip("DSTC11 is benchmark data in ../shared/data, not beside this checkout")
    by_intent = figures["dstc11_insurance"]["accuracy_by_dstc11_intent"]
    counts = figures["dstc11_insurance"]["messages_by_dstc11_intent"]
    record = json.loads(RECORD.read_text())["figures"].get("dstc11_insurance", {})
    worst = float(record.get("worst_intent_accuracy", 0.0))

    def floor(intent: str) -> float:
        # less a hundredth: the figures are rounded to hundredths (22 of 29 is 75.86, 79.31 - 100/29 is 75.862)
        return max(INTENT_FLOOR, worst - max(TOLERANCE_POINTS, 100.0 / counts[intent]) - 0.01)

    assert {k: v for k, v in by_intent.items() if v < floor(k)} == {}


@pytest.mark.parametrize(
    "address",
    ["hi@coverline.io", "bye.felicia@outlook.com", "thanks.jo@gmail.com", "claims.team@work.example"],
)
def test_an_email_address_alone_is_an_answer_not_a_greeting_goodbye_or_request(parse: Any, address: str) -> None:
    """Its letters once decided the intent: greet 0.999, goodbye 0.995 (which ends the chat), thank_you,
    request_human (a handoff) for the four addresses above."""
    assert parse(address)["intent"]["name"] == "inform"


def test_emoji_reach_the_model(parse: Any) -> None:
    """Every emoji was the same unknown token to the encoder: 👍 alone fell to out_of_scope."""
    assert parse("👍")["intent"]["name"] == "affirm"
    assert parse("👎")["intent"]["name"] == "deny"
    assert parse("😡😡😡")["sentiment"]["label"] == "negative"
    assert parse("🙏❤️")["sentiment"]["label"] == "positive"
