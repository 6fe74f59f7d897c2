"""The team's held-out evaluation sets (issue 13): big enough to measure with, and never in training.

tests/fixtures/handoff_heldout.yml (first messages that should or should not go to a person) and
tests/fixtures/nlu_heldout.yml (intent + sentiment) are only worth anything while no training file contains
their messages. Helpers keep adding training files under nlu_data/, so the guard reads every training file
that exists when it runs instead of a fixed list. No model is loaded: these tests are fast.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, Set

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HANDOFF_SET = ROOT / "tests" / "fixtures" / "handoff_heldout.yml"
NLU_SET = ROOT / "tests" / "fixtures" / "nlu_heldout.yml"

MIN_HANDOFF_TOTAL, MIN_CALM, MIN_ANGRY = 140, 90, 50
MAX_ANGRY_ASKING_FOR_PERSON = 5  # asking for a person is the request_human path, not what the set measures
MIN_PER_INTENT = 8
MIN_BILLING_AND_PLAN = 25
# Intents whose examples are form answers or payloads (media, a "not for me" button), not messages a customer
# opens with.
NOT_EVALUATED_INTENTS = {"inform", "share_attachment", "dismiss_content"}
SENTIMENTS = {"negative", "neutral", "positive"}

CALM_EVENTS_REQUIRED = set(
    "accident glass hail theft burglary flood burst_pipe fire storm death injury denied_claim price_rise "
    "failed_payment expired_card lost_luggage cancelled_trip".split()
)
CALM_KINDS = CALM_EVENTS_REQUIRED | {"vandalism", "breakdown", "pet_damage"}
HANDOFF_KINDS = {"anger", "sarcasm", "threat", "caps", "repeat_contact", "insult", "distress", "asks_for_person"}

# Billing and plan language (issue 13 item 3) and the intent each must be labelled with: stopping automatic
# billing is paying differently, not cancelling the policy.
TOPIC_INTENT = {
    "autopay_on": "pay_premium",
    "autopay_off": "pay_premium",
    "payment_method": "pay_premium",
    "billing_frequency": "pay_premium",
    "billing_error": "billing_issue",
    "plan_change": "change_policy",
    "create_account": "account_access",
}
MIN_PER_TOPIC = 3
MIN_AUTOPAY_OFF = 5  # the DSTC11 CancelAutomaticBilling failure: 0/31, all landed in cancel_policy

# Rasa entity markup in training lines: [text](entity) or [text]{"entity": ...}
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
YAML_KEY_PREFIX = re.compile(r"^\s*(?:-\s+)?(?:[A-Za-z_]+:\s*[|>]?\s*)?(?:-\s+)?")
# Held-out texts this long also count as leaked when a training line contains them inside a longer message.
MIN_WORDS_FOR_CONTAINMENT = 6


def normalise(text: str) -> str:
    """Lowercase, punctuation to spaces, whitespace collapsed: how the leakage guard compares texts."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def load_set(path: Path) -> List[Dict[str, str]]:
    rows = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(rows, list), f"{path.name} must be a plain YAML list"
    return rows


def training_files() -> List[Path]:
    """Every file the model trains on now or may later: all of nlu_data/ (any depth) and bot/data/."""
    return sorted((ROOT / "nlu_data").rglob("*.yml")) + sorted((ROOT / "bot" / "data").glob("*.yml"))


def training_lines(path: Path) -> Iterator[str]:
    """Each line both as written and with a leading YAML key or list dash removed, entity markup dropped.

    Reads raw lines rather than parsed YAML, so an example counts whatever structure holds it (`examples: |`
    blocks, `user: |` story steps, `- text:` lists) and a half-written file elsewhere cannot hide a leak.
    """
    for line in path.read_text(encoding="utf-8").splitlines():
        plain = ANNOTATION.sub(r"\1", line)
        for variant in (plain, YAML_KEY_PREFIX.sub("", plain)):
            normalised = normalise(variant)
            if normalised:
                yield normalised


def heldout_texts() -> Dict[str, str]:
    """Normalised text -> file name, over both held-out sets."""
    texts: Dict[str, str] = {}
    for path in (HANDOFF_SET, NLU_SET):
        for row in load_set(path):
            texts[normalise(row["text"])] = path.name
    return texts


def domain_intents() -> Set[str]:
    intents: Set[str] = set()
    for path in sorted((ROOT / "bot" / "domain").glob("*.yml")):
        for entry in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("intents", []) or []:
            intents.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return intents


@pytest.fixture(scope="module")
def handoff_rows() -> List[Dict[str, str]]:
    return load_set(HANDOFF_SET)


@pytest.fixture(scope="module")
def nlu_rows() -> List[Dict[str, str]]:
    return load_set(NLU_SET)


def test_handoff_set_has_enough_calm_and_angry_first_messages(handoff_rows: List[Dict[str, str]]) -> None:
    assert all(set(row) == {"text", "expect", "kind"} for row in handoff_rows)
    assert all(isinstance(row["text"], str) and row["text"].strip() for row in handoff_rows)
    expects = Counter(row["expect"] for row in handoff_rows)
    assert set(expects) == {"bot", "handoff"}
    assert len(handoff_rows) >= MIN_HANDOFF_TOTAL
    assert expects["bot"] >= MIN_CALM, expects
    assert expects["handoff"] >= MIN_ANGRY, expects


def test_handoff_kinds_match_the_expectation(handoff_rows: List[Dict[str, str]]) -> None:
    """Calm rows name the bad event, handoff rows the reason; every event the issue lists is covered."""
    calm_kinds = Counter(row["kind"] for row in handoff_rows if row["expect"] == "bot")
    handoff_kinds = Counter(row["kind"] for row in handoff_rows if row["expect"] == "handoff")
    assert set(calm_kinds) <= CALM_KINDS, set(calm_kinds) - CALM_KINDS
    assert set(handoff_kinds) <= HANDOFF_KINDS, set(handoff_kinds) - HANDOFF_KINDS
    assert CALM_EVENTS_REQUIRED <= set(calm_kinds), CALM_EVENTS_REQUIRED - set(calm_kinds)
    assert HANDOFF_KINDS <= set(handoff_kinds), HANDOFF_KINDS - set(handoff_kinds)
    assert handoff_kinds["asks_for_person"] <= MAX_ANGRY_ASKING_FOR_PERSON
    assert handoff_kinds["distress"] >= 5


def test_handoff_set_mixes_channel_styles(handoff_rows: List[Dict[str, str]]) -> None:
    """Not one register: X mentions, lowercase chat messages and ALL CAPS shouting all appear, on both sides."""
    for expect in ("bot", "handoff"):
        texts = [row["text"] for row in handoff_rows if row["expect"] == expect]
        assert sum("@harbormutual" in t.lower() for t in texts) >= 5, expect
        assert sum(t == t.lower() for t in texts) >= 8, expect
    angry = [row["text"] for row in handoff_rows if row["expect"] == "handoff"]
    assert sum(bool(re.search(r"\b[A-Z]{4,}\b", t)) for t in angry) >= 8


def test_nlu_set_covers_every_domain_intent(nlu_rows: List[Dict[str, str]]) -> None:
    assert all(
        {"text", "intent", "sentiment"} <= set(row) <= {"text", "intent", "sentiment", "topic"} for row in nlu_rows
    )
    known = domain_intents()
    per_intent = Counter(row["intent"] for row in nlu_rows)
    assert set(per_intent) <= known, f"not in bot/domain: {set(per_intent) - known}"
    short = {i: per_intent[i] for i in known - NOT_EVALUATED_INTENTS if per_intent[i] < MIN_PER_INTENT}
    assert short == {}, f"fewer than {MIN_PER_INTENT} held-out messages: {short}"
    assert {row["sentiment"] for row in nlu_rows} == SENTIMENTS
    sentiments = Counter(row["sentiment"] for row in nlu_rows)
    assert sentiments["negative"] >= 30 and sentiments["positive"] >= 30, sentiments


def test_nlu_set_has_billing_and_plan_language_in_the_right_intents(nlu_rows: List[Dict[str, str]]) -> None:
    tagged = [row for row in nlu_rows if "topic" in row]
    assert len(tagged) >= MIN_BILLING_AND_PLAN
    wrong = [(row["text"], row["intent"]) for row in tagged if TOPIC_INTENT.get(row["topic"]) != row["intent"]]
    assert wrong == []
    topics = Counter(row["topic"] for row in tagged)
    assert {t: n for t, n in topics.items() if n < MIN_PER_TOPIC} == {}
    assert set(topics) == set(TOPIC_INTENT)
    assert topics["autopay_off"] >= MIN_AUTOPAY_OFF


def test_heldout_texts_are_distinct() -> None:
    texts = [normalise(row["text"]) for path in (HANDOFF_SET, NLU_SET) for row in load_set(path)]
    assert [t for t, n in Counter(texts).items() if n > 1] == []


def test_no_heldout_text_is_in_any_training_file() -> None:
    """Exact (normalised) matches anywhere, and long held-out messages embedded in a longer training line."""
    heldout = heldout_texts()
    files = training_files()
    assert files, "no training files found"
    leaks: List[str] = []
    for path in files:
        lines = set(training_lines(path))
        corpus = "\n".join(f" {line} " for line in lines)
        for text, source in heldout.items():
            contained = len(text.split()) >= MIN_WORDS_FOR_CONTAINMENT and f" {text} " in corpus
            if text in lines or contained:
                leaks.append(f"{source}: {text!r} in {path.relative_to(ROOT)}")
    assert leaks == [], "held-out messages found in training data:\n" + "\n".join(leaks)


def test_the_leak_guard_catches_an_annotated_copy(tmp_path: Path) -> None:
    """The guard sees through entity markup, YAML keys, case and punctuation (it would miss nothing real)."""
    text = load_set(NLU_SET)[0]["text"]
    words = text.split()
    annotated = f"[{words[0].upper()}](product) " + " ".join(words[1:]) + " !!"
    path = tmp_path / "copy.yml"
    path.write_text(f"nlu:\n- intent: greet\n  examples: |\n    - {annotated}\n", encoding="utf-8")
    assert normalise(text) in set(training_lines(path))
