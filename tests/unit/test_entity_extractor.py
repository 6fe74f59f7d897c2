"""Coverline's CRF entity extractor: Rasa's, except that training it leaves the shared training data untouched."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import List

import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor as RasaCRFEntityExtractor
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.entity_extractor import CRFEntityExtractor

ROOT = Path(__file__).resolve().parents[2]
REPORTS = [
    ("my car was stolen last night", "stolen", "theft"),
    ("my bike was stolen from the garage", "stolen", "theft"),
    ("a pipe burst in the kitchen", "burst", "water_damage"),
    ("the basement flooded after the storm", "flooded", "water_damage"),
    ("someone stole my catalytic converter", "stole", "theft"),
    ("the garage flooded again", "flooded", "water_damage"),
    ("our tools were stolen out of the truck", "stolen", "theft"),
    ("his phone got stolen on the train", "stolen", "theft"),
    ("the laptop was stolen from my car", "stolen", "theft"),
    ("my wallet got stolen at the mall", "stolen", "theft"),
]
QUESTIONS = ["how do I pay my premium", "what is my deductible for auto", "can I change my address", "hi there"]


def claim_reports() -> TrainingData:
    messages: List[Message] = []
    for text, word, value in REPORTS:
        start = text.index(word)
        entity = {"start": start, "end": start + len(word), "value": value, "entity": "incident_type"}
        messages.append(Message.build(text=text, intent="file_claim", entities=[entity]))
    messages += [Message.build(text=text, intent="other", entities=[]) for text in QUESTIONS]
    # the shipped pipeline's featurizer and a pattern like its policy numbers: the CRF learns only from featurized
    # messages
    data = TrainingData(messages, regex_features=[{"name": "policy_number", "pattern": r"PX-\d{5}"}])
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process_training_data(data)
    featurizer().process_training_data(data)
    return data


def featurizer() -> RegexFeaturizer:
    storage = LocalModelStorage(Path(tempfile.mkdtemp()))
    regex = RegexFeaturizer.create(
        RegexFeaturizer.get_default_config(), storage, Resource("regex"), ExecutionContext(GraphSchema({}), "test")
    )
    regex.train(TrainingData(regex_features=[{"name": "policy_number", "pattern": r"PX-\d{5}"}]))
    return regex


def trained(extractor_class: type, tmp_path: Path, data: TrainingData) -> RasaCRFEntityExtractor:
    context = ExecutionContext(GraphSchema({}), "test")
    tmp_path.mkdir(parents=True, exist_ok=True)
    extractor = extractor_class.create(
        extractor_class.get_default_config(), LocalModelStorage(tmp_path), Resource("crf"), context
    )
    extractor.train(data)
    return extractor


def test_training_leaves_the_data_the_next_components_are_keyed_by_as_it_was(tmp_path: Path) -> None:
    data = claim_reports()
    before = data.fingerprint()
    trained(CRFEntityExtractor, tmp_path / "ours", data)
    assert data.fingerprint() == before
    # what it guards against: Rasa's own extractor writes BILOU tags into the shared messages
    trained(RasaCRFEntityExtractor, tmp_path / "rasa", data)
    assert data.fingerprint() != before


def test_it_still_finds_the_incident(tmp_path: Path) -> None:
    extractor = trained(CRFEntityExtractor, tmp_path, claim_reports())
    message = Message.build(text="my van was stolen this morning")
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    featurizer().process([message])
    extractor.process([message])
    assert [(e["entity"], e["value"]) for e in message.get("entities", [])] == [("incident_type", "stolen")]


def test_the_shipped_pipeline_uses_it() -> None:
    names = [c["name"] for c in yaml.safe_load((ROOT / "config.yml").read_text())["pipeline"]]
    assert "bot.nlu.entity_extractor.CRFEntityExtractor" in names and "CRFEntityExtractor" not in names
