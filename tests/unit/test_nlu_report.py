"""The NLU benchmark's report renders the DSTC11 section the acceptance reads: the headline from the model a
user trains (all of nlu_data), and every DSTC11 intent worst first with what it is mistaken for."""

from __future__ import annotations

from typing import Any, Dict

from benchmarks import nlu_report


def dstc11_section() -> Dict[str, Any]:
    def system(accuracy: float, billing: float) -> Dict[str, Any]:
        return {
            "accuracy": accuracy,
            "classifier_accuracy": accuracy,
            "worst_intent_accuracy": billing,
            "train_seconds": 600.0,
            "per_intent": {
                "CancelAutomaticBilling": {
                    "maps_to": "pay_premium",
                    "utterances": 31,
                    "accuracy": billing,
                    "mistaken_for": {"cancel_policy": 7, "billing_issue": 2},
                },
                "CheckClaimStatus": {
                    "maps_to": "claim_status",
                    "utterances": 30,
                    "accuracy": 100.0,
                    "mistaken_for": {},
                },
            },
        }

    return {"utterances": 61, "skipped_unmapped": 4, "ours": system(91.8, 71.0), "stock_rasa": system(74.0, 12.9)}


def test_headline_row_gives_accuracy_and_worst_intent_for_both_pipelines() -> None:
    text = nlu_report.markdown({"sections": {"dstc11": dstc11_section()}})
    headline = next(line for line in text.splitlines() if line.startswith("| DSTC11 insurance (61"))
    assert "91.8 / 71.0" in headline
    assert "74.0 / 12.9" in headline
    assert "≥ 88 / ≥ 70" in headline


def test_per_intent_table_lists_the_worst_intent_first_with_its_confusions() -> None:
    lines = nlu_report.markdown({"sections": {"dstc11": dstc11_section()}}).splitlines()
    rows = [line for line in lines if line.startswith("| CancelAutomaticBilling") or line.startswith("| CheckClaim")]
    assert [row.split(" | ")[0] for row in rows] == ["| CancelAutomaticBilling", "| CheckClaimStatus"]
    assert "cancel_policy 7, billing_issue 2" in rows[0]
    assert rows[0].endswith("| 12.9 |")
    assert "| – |" in rows[1]  # nothing mistaken


def test_without_the_section_no_per_intent_table_is_rendered() -> None:
    assert "per intent" not in nlu_report.markdown({"sections": {}})
