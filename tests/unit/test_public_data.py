"""The public benchmark loaders give exactly the sets the data README and the papers describe.

A loader that drops or mislabels a few rows still "works", but its numbers stop being comparable with
published figures; these checks pin the sizes, label spaces and published results.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Set

import pytest
import yaml

from benchmarks import public_data
from benchmarks.public_data import HINT3_OOS, OOS, SENTIMENT_LABELS

ROOT = Path(__file__).resolve().parents[2]
DATA = public_data.shared_data()

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"shared data folder {DATA} is absent (set COVERLINE_SHARED_DATA to its location)"
)


def coverline_intents() -> Set[str]:
    intents: Set[str] = set()
    for path in sorted((ROOT / "nlu_data").glob("*.yml")):
        intents.update(block["intent"] for block in yaml.safe_load(path.read_text())["nlu"] if "intent" in block)
    return intents


@pytest.mark.parametrize("split, size", [("train", 10_003), ("test", 3_080)])
def test_banking77_sizes(split: str, size: int) -> None:
    data = public_data.banking77(split)
    assert len(data) == size
    assert len(set(data.labels)) == 77


def test_banking77_fewshot_has_ten_of_every_test_label_with_identical_names() -> None:
    """Exact names (even the capitalised Refund_not_showing_up) so few-shot predictions score against test."""
    shots = Counter(public_data.fewshot("BANKING77", shots=10).labels)
    assert set(shots) == set(public_data.banking77("test").labels)
    assert set(shots.values()) == {10}


def test_clinc150_fewshot_has_ten_of_every_in_scope_label() -> None:
    shots = Counter(public_data.fewshot("CLINC150").labels)
    assert set(shots) == set(public_data.clinc150("test").labels) - {OOS}
    assert set(shots.values()) == {10}


def test_fewshot_rejects_a_split_that_does_not_exist() -> None:
    with pytest.raises(ValueError, match="train_10"):
        public_data.fewshot("BANKING77", shots=3)


@pytest.mark.parametrize(
    "split, in_scope, out_of_scope", [("train", 15_000, 100), ("val", 3_000, 100), ("test", 4_500, 1_000)]
)
def test_clinc150_sizes_with_out_of_scope_merged(split: str, in_scope: int, out_of_scope: int) -> None:
    labels = Counter(public_data.clinc150(split).labels)
    assert labels[OOS] == out_of_scope
    assert sum(labels.values()) - labels[OOS] == in_scope
    assert len(labels) == 151


@pytest.mark.parametrize(
    "bot, train, test", [("sofmattress", 328, 397), ("curekart", 599, 991), ("powerplay11", 471, 983)]
)
def test_hint3_v2_sizes_and_out_of_scope_only_in_test(bot: str, train: int, test: int) -> None:
    train_set, test_set = public_data.hint3(bot, "train"), public_data.hint3(bot, "test")
    assert (len(train_set), len(test_set)) == (train, test)
    assert HINT3_OOS not in train_set.labels
    assert HINT3_OOS in test_set.labels


def test_hint3_published_best_thresholds_match_the_readme() -> None:
    best = public_data.hint3_published("sofmattress")
    assert set(best) == {"bert", "rasa", "dialogflow", "luis", "haptik"}
    assert best["dialogflow"]["accuracy"] == pytest.approx(71.3, abs=0.1)
    assert best["rasa"]["accuracy"] == pytest.approx(63.7, abs=0.1)
    assert max(best, key=lambda system: best[system]["accuracy"]) == "dialogflow"
    for figures in best.values():
        assert {"threshold", "accuracy", "in_scope_accuracy", "oos_recall"} <= set(figures)
        assert all(0 <= figures[key] <= 100 for key in ("accuracy", "in_scope_accuracy", "oos_recall", "weighted_f1"))


@pytest.mark.parametrize("bot", public_data.HINT3_BOTS)
def test_hint3_published_figures_count_the_v1_test_labels(bot: str) -> None:
    """Why hint3() keeps a version argument: the published OOS recalls are whole counts of the v1 OOS rows only."""
    for version, expected in (("v1", True), ("v2", False)):
        n_oos = public_data.hint3(bot, "test", version=version).labels.count(HINT3_OOS)
        recalls = [figures["oos_recall"] for figures in public_data.hint3_published(bot).values()]
        whole = all(abs(r / 100 * n_oos - round(r / 100 * n_oos)) < 1e-6 for r in recalls)
        assert whole is expected, version


def test_dstc11_mapping_covers_every_intent_and_targets_real_coverline_intents() -> None:
    mapping = public_data.dstc11_insurance_mapping()
    path = DATA / "dstc11_natcs_intents" / "insurance_development_test-utterances.jsonl"
    source_intents = {json.loads(line)["intent"] for line in path.read_text().splitlines()}
    assert len(source_intents) == 22
    assert set(mapping) == source_intents
    assert {target for target in mapping.values() if target} <= coverline_intents()


def test_dstc11_insurance_keeps_every_mapped_utterance_and_counts_the_rest() -> None:
    data = public_data.dstc11_insurance()
    assert len(data) + data.excluded == 913
    assert set(data.labels) == {target for target in public_data.dstc11_insurance_mapping().values() if target}


@pytest.mark.parametrize("split, size", [("val", 2_000), ("test", 12_284)])
def test_tweeteval_sizes_and_label_names(split: str, size: int) -> None:
    data = public_data.tweeteval(split)
    assert len(data) == size
    assert set(data.labels) == set(SENTIMENT_LABELS)
    assert all(text == text.strip() and text for text in data.texts)


def test_sentiment_label_order_is_the_datasets_own_mapping() -> None:
    rows = (DATA / "tweeteval_sentiment" / "mapping.txt").read_text().split("\n")
    assert tuple(row.split("\t")[1] for row in rows if row) == SENTIMENT_LABELS


def test_unknown_split_is_an_error_not_an_empty_set() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        public_data.clinc150("validation")
