"""The training data: every intent the later tools rely on, enough varied examples, and no test leakage."""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Dict, Iterator, List, Set

import pytest
import yaml

from bot.channels.webhooks import ATTACHMENT_PAYLOAD
from recommendations.events import DISMISS_INTENT
from tests.support.rasa_cli import run_rasa

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("COVERLINE_SHARED_DATA", ROOT.parent / "shared" / "data"))
REQUIRED_INTENTS = """greet goodbye thank_you affirm deny bot_challenge request_human complaint ask_coverage
ask_deductible get_quote buy_policy file_claim claim_status claim_documents pay_premium billing_issue check_balance
account_access premium_increase update_personal_info change_policy cancel_policy renew_policy roadside_assistance
get_documents ask_discounts refund_status find_agent_office contact_info out_of_scope inform ask_for_tips
opt_out_marketing""".split()
ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def training_examples() -> Dict[str, List[str]]:
    examples: Dict[str, List[str]] = {}
    for path in sorted((ROOT / "nlu_data").glob("*.yml")):
        for block in yaml.safe_load(path.read_text())["nlu"]:
            if "intent" in block:
                lines = [line.strip()[2:] for line in block["examples"].splitlines() if line.strip()]
                examples.setdefault(block["intent"], []).extend(ANNOTATION.sub(r"\1", line) for line in lines)
    return examples


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def test_every_required_intent_has_at_least_40_distinct_examples() -> None:
    examples = training_examples()
    for intent in REQUIRED_INTENTS:
        distinct = {normalise(e) for e in examples.get(intent, [])}
        assert len(distinct) >= 40, f"{intent}: {len(distinct)} distinct examples"


def test_no_example_is_used_for_two_intents() -> None:
    owners = Counter()
    for texts in training_examples().values():
        for text in {normalise(t) for t in texts} - {""}:
            owners[text] += 1
    assert [t for t, n in owners.items() if n > 1] == []


def test_examples_are_written_like_real_customers() -> None:
    """Not templates: many different words, some typos/abbreviations, emoji and long messages."""
    texts = [t for ts in training_examples().values() for t in ts]
    vocabulary = {w for t in texts for w in normalise(t).split()}
    assert len(vocabulary) > 1500
    assert sum(bool(re.search(r"[\U0001F300-\U0001FAFF]", t)) for t in texts) > 30
    assert sum(bool(re.search(r"\b(pls|plz|u|ur|thx|asap|idk)\b", t.lower())) for t in texts) > 50
    assert sum(len(t.split()) > 20 for t in texts) > 30


def shared_test_utterances() -> Iterator[str]:
    with open(SHARED_DATA / "banking77" / "test.csv", newline="") as f:
        yield from (row["text"] for row in csv.DictReader(f))
    clinc = json.loads((SHARED_DATA / "clinc150" / "data_full.json").read_text())
    for split in ("test", "oos_test", "val", "oos_val"):
        yield from (text for text, _ in clinc[split])
    for path in (SHARED_DATA / "hint3" / "dataset").rglob("*test*.csv"):
        with open(path, newline="") as f:
            yield from (row["sentence"] for row in csv.DictReader(f))
    for path in (SHARED_DATA / "dstc11_natcs_intents").glob("*.jsonl"):
        yield from (json.loads(line)["utterance"] for line in path.read_text().splitlines() if line.strip())
    yield from (SHARED_DATA / "tweeteval_sentiment" / "test_text.txt").read_text().splitlines()
    with open(SHARED_DATA / "insuranceqa_pairs" / "test.csv", newline="") as f:
        yield from (row["question"] for row in csv.DictReader(f))


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="shared benchmark data not beside the checkout")
def test_no_training_example_comes_from_an_evaluation_set() -> None:
    # Short generic phrases ("thank you", "hi") occur everywhere; leakage means a real sentence.
    test_set: Set[str] = {n for n in map(normalise, shared_test_utterances()) if len(n.split()) >= 5}
    ours = {normalise(t) for ts in training_examples().values() for t in ts}
    assert sorted(ours & test_set) == []


# Words that name the incident whenever a customer writes them. The entity extractor (a CRF) learns "not an
# entity" from every plain occurrence, so one file that leaves "stolen" unmarked outvotes the files that mark it:
# the clean-clone CI run failed this way after the tips examples added two plain "stolen"s ("my car was stolen,
# how do I claim" lost its incident_type). Ambiguous words ("hit", "fire", "cancelled") are left out on purpose.
INCIDENT_WORDS = """stolen|burst pipe|burst|hit and run|hit a deer|backed into|broken into|break-in|burglary|flooded|
hailstorm|hail|totaled|cracked windshield|rear-ended|rear ended""".replace("\n", "").split("|")
# "pipe burst" is marked both whole and as "pipe [burst]" (5 lines): either is accepted until the data is made one


ANNOTATED = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
INCIDENT_PATTERN = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, INCIDENT_WORDS)) + r")(?![\w-])", re.IGNORECASE)


def raw_example_lines() -> Iterator[str]:
    """The annotated lines the entity extractor learns from, and the test stories' user lines it is held to."""
    for path in sorted((ROOT / "nlu_data").glob("**/*.yml")):
        for block in yaml.safe_load(path.read_text()).get("nlu") or []:
            if "examples" in block:
                yield from (line.strip()[2:] for line in block["examples"].splitlines() if line.strip())
    for path in sorted((ROOT / "tests").glob("*.yml")):
        for story in yaml.safe_load(path.read_text()).get("stories") or []:
            yield from (step["user"] for step in story["steps"] if "user" in step)


def unmarked_incident_words(line: str) -> List[str]:
    """Incident words not inside an incident_type annotation, or only partly inside one ("[burst](...) pipe" where
    the data marks "burst pipe" whole)."""
    plain, spans, position = "", [], 0
    for match in ANNOTATED.finditer(line):
        plain += line[position : match.start()]
        if match.group(2).startswith("incident_type"):
            spans.append((len(plain), len(plain) + len(match.group(1))))
        plain += match.group(1)
        position = match.end()
    plain += line[position:]
    return [
        found.group(1)
        for found in INCIDENT_PATTERN.finditer(plain)
        if not any(start <= found.start() and found.end() <= end for start, end in spans)
    ]


def test_incident_words_are_marked_as_incident_type_wherever_they_are_written() -> None:
    unmarked = [f"{words}: {line}" for line in raw_example_lines() if (words := unmarked_incident_words(line))]
    assert unmarked == [], "mark these whole as [words](incident_type:...):\n" + "\n".join(unmarked)


def test_the_incident_word_check_sees_a_phrase_marked_in_part() -> None:
    assert unmarked_incident_words("a [burst](incident_type:water_damage) pipe in the basement") == ["burst pipe"]
    assert unmarked_incident_words("is hail damage covered") == ["hail"]
    assert (
        unmarked_incident_words("a [burst pipe](incident_type:water_damage) and [hail damage](incident_type:storm)")
        == []
    )


def test_rasa_data_validate_is_clean() -> None:
    """`rasa data validate` passes; the only warnings allowed are for responses that forms ask or
    actions send by name (Rasa's validator cannot see those uses), and for the intents that only arrive as
    button or channel payloads (media without words; a recommendation's "not for me"): NLU examples would make
    them predictable from text."""
    result = run_rasa(
        "data",
        "validate",
        "--domain",
        "bot/domain",
        "--data",
        "nlu_data",
        "bot/data",
        "--config",
        "config.yml",
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    action_code = "".join(p.read_text() for p in (ROOT / "actions").glob("*.py"))
    unexplained = []
    for line in output.splitlines():
        if "UserWarning" not in line:
            continue
        payload_only = (ATTACHMENT_PAYLOAD.lstrip("/"), DISMISS_INTENT)
        if any(
            f"The intent '{intent}' is listed in the domain file, but is not found" in line for intent in payload_only
        ):
            continue
        unused = re.search(r"The utterance '(\w+)' is not used in any story or rule", line)
        if unused and (unused.group(1).startswith("utter_ask_") or f'"{unused.group(1)}"' in action_code):
            continue
        unexplained.append(line)
    assert unexplained == []
