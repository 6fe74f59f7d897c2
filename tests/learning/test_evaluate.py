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


def test_every_story_file_reaches_rasa_under_a_name_it_reads(tmp_path: Path) -> None:
    """`rasa test core` keeps only the last `--stories` and skips files not named test_*: the learned stories
    and the team's go in one folder, each renamed, so neither is silently left out of the gate."""
    team = tmp_path / "test_stories.yml"
    learned = tmp_path / "learned_stories.yml"
    team.write_text("stories:\n- story: a\n  steps: []\n")
    learned.write_text("stories:\n- story: b\n  steps: []\n")
    folder = evaluate.gather_stories([str(team), str(learned)], tmp_path / "in")
    copies = sorted(folder.iterdir())
    assert [c.name for c in copies] == ["test_0_stories.yml", "test_1_learned_stories.yml"]
    assert [c.read_text() for c in copies] == [team.read_text(), learned.read_text()]
    assert evaluate.gather_stories([str(team)], tmp_path / "in") == folder and len(list(folder.iterdir())) == 1
