"""The gate's measurements count what they claim to, on the real held-out file's format."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

from learning import evaluate
from learning.evaluate import Example


def parser(answers: Dict[str, Dict[str, Any]]):  # type: ignore[no-untyped-def]
    return lambda text: answers[text]


def test_intent_and_sentiment_accuracy_count_matches() -> None:
    examples = [
        Example("turn off autopay", "pay_premium", "neutral"),
        Example("you charged me twice!!", "billing_issue", "negative"),
        Example("hello", "greet", None),  # no sentiment label: counts for the intent only
        Example("cancel it", "cancel_policy", "neutral"),
    ]
    answers = {
        "turn off autopay": {"intent": {"name": "cancel_policy"}, "sentiment": {"label": "neutral"}},
        "you charged me twice!!": {"intent": {"name": "billing_issue"}, "sentiment": {"label": "negative"}},
        "hello": {"intent": {"name": "greet"}},
        "cancel it": {"intent": {"name": "cancel_policy"}, "sentiment": {"label": "negative"}},
    }
    assert evaluate.nlu_scores(parser(answers), examples) == {"intent": 75.0, "sentiment": 66.67}
    assert evaluate.nlu_scores(parser(answers), []) == {"intent": None, "sentiment": None}
    # kept per message, in order, so the gate can pair two models' answers (McNemar)
    assert evaluate.nlu_hits(parser(answers), examples) == ((False, True, True, True), (True, True, False))


def test_the_shipped_heldout_set_loads_with_every_intent_and_sentiment() -> None:
    examples = evaluate.load_examples(evaluate.NLU_HELDOUT)
    assert len(examples) >= 250
    assert all(e.intent and e.sentiment in ("negative", "neutral", "positive") for e in examples)


def test_a_missing_learned_set_is_empty_and_stories_are_counted(tmp_path: Path) -> None:
    assert evaluate.load_examples(tmp_path / "none.yml") == []
    stories = tmp_path / "stories.yml"
    stories.write_text("stories:\n- story: a\n  steps: []\n- story: b\n  steps: []\n")
    assert evaluate.count_stories([stories, tmp_path / "missing.yml"]) == 2
