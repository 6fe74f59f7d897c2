"""The intent + sentiment component: train tiny → persist → load → process, calibration and the floor."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_sentiment_classifier import IntentSentimentClassifier
from bot.nlu.intent_sentiment_model import choose_floor, fit_temperature, softmax, stratified_split
from bot.nlu.sentiment_data import airline_tweets, normalise_social_text, sentiment_of

EXAMPLES: Dict[str, List[str]] = {
    "file_claim": [
        "I need to file a claim, someone hit my car",
        "how do I report an accident",
        "my basement flooded and I want to make a claim",
        "start a claim for my stolen bike",
        "a tree fell on my roof, need to claim",
        "I want to open a new claim",
        "report a car accident please",
        "can I claim for the hail damage on my car",
    ],
    "pay_premium": [
        "how do I pay my premium",
        "I want to pay my bill",
        "can I pay with a credit card",
        "set up autopay for my policy",
        "where do I send my monthly payment",
        "pay my insurance bill online",
        "make a payment on my account",
        "I'd like to pay what I owe",
    ],
    "greet": ["hi", "hello", "hey there", "good morning", "hiya", "hello coverline", "morning!", "hey"],
}
NEGATIVE = ["this is the third time I am asking, absolutely useless service", "terrible, nobody ever answers"]
POSITIVE = ["thank you so much, you were wonderful", "great service, really happy with the help"]


def tiny_training_data() -> TrainingData:
    messages = [Message(data={"text": t, "intent": intent}) for intent, texts in EXAMPLES.items() for t in texts]
    for text in NEGATIVE:
        messages.append(
            Message(data={"text": text, "intent": "file_claim", "metadata": {"intent": {"sentiment": "negative"}}})
        )
    for text in POSITIVE:
        messages.append(
            Message(data={"text": text, "intent": "greet", "metadata": {"example": {"sentiment": "positive"}}})
        )
    return TrainingData(training_examples=messages)


def tiny_tweets(path: Path) -> Path:
    rows = [
        ("negative", "@united worst airline ever, lost my bag again"),
        ("negative", "@delta 3 hour delay and no one tells us anything. awful"),
        ("positive", "@JetBlue thanks for the great flight, crew was lovely"),
        ("positive", "@SouthwestAir love you guys, best service"),
        ("neutral", "@united what time does the gate open for flight 22?"),
        ("neutral", "@AmericanAir is there wifi on the 737 to Boston"),
    ] * 4
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tweet_id", "airline_sentiment", "text"])
        for i, (label, text) in enumerate(rows):
            writer.writerow([str(5700000 + i), label, text])
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, object]:
    tmp = tmp_path_factory.mktemp("nlu")
    (tmp / "storage").mkdir()
    storage = LocalModelStorage(tmp / "storage")
    resource = Resource("intent_sentiment")
    context = ExecutionContext(GraphSchema({}), "test")
    config = {
        "epochs": 3,
        "batch_size": 8,
        "sentiment_batch_size": 8,
        "validation_fraction": 0.25,
        "max_inscope_loss": 0.34,
        "airline_tweets": str(tiny_tweets(tmp / "Tweets.csv")),
        "progress": False,
    }
    component = IntentSentimentClassifier.create(
        {**IntentSentimentClassifier.get_default_config(), **config}, storage, resource, context
    )
    component.train(tiny_training_data())
    loaded = IntentSentimentClassifier.load(
        {**IntentSentimentClassifier.get_default_config(), **config}, storage, resource, context
    )
    return {"trained": component, "loaded": loaded}


def parse(component: IntentSentimentClassifier, text: str) -> Message:
    return component.process([Message(data={"text": text})])[0]


def test_a_loaded_model_predicts_what_the_trained_one_did(trained: Dict[str, object]) -> None:
    texts = ["I want to claim for my car accident", "how can I pay my premium", "hello there"]
    before = [parse(trained["trained"], t).as_dict(only_output_properties=True) for t in texts]  # type: ignore[arg-type]
    after = [parse(trained["loaded"], t).as_dict(only_output_properties=True) for t in texts]  # type: ignore[arg-type]
    for b, a in zip(before, after, strict=True):
        assert b["intent"]["name"] == a["intent"]["name"]
        assert a["intent"]["confidence"] == pytest.approx(b["intent"]["confidence"], abs=1e-5)
        assert a["sentiment"] == {
            "label": b["sentiment"]["label"],
            "confidence": pytest.approx(b["sentiment"]["confidence"], abs=1e-5),
            "scores": pytest.approx(b["sentiment"]["scores"], abs=1e-4),
        }
        assert set(a["sentiment"]["scores"]) == {"negative", "neutral", "positive"}


def test_a_parse_has_intent_ranking_and_sentiment(trained: Dict[str, object]) -> None:
    output = parse(trained["loaded"], "someone hit my car, I need to report an accident").as_dict(
        only_output_properties=True
    )  # type: ignore[arg-type]
    assert output["intent"]["name"] == "file_claim"
    ranking = output["intent_ranking"]
    assert [r["name"] for r in ranking][0] == "file_claim"
    assert {r["name"] for r in ranking} == set(EXAMPLES)
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0, abs=1e-4)
    assert all(isinstance(r["confidence"], float) for r in ranking)
    assert [r["confidence"] for r in ranking] == sorted((r["confidence"] for r in ranking), reverse=True)
    assert output["sentiment"]["label"] in {"negative", "neutral", "positive"}
    assert 0.0 < output["sentiment"]["confidence"] <= 1.0


def test_the_sentiment_head_learns_the_labelled_examples(trained: Dict[str, object]) -> None:
    component = trained["loaded"]
    assert parse(component, "worst service ever, nobody answers, terrible").get("sentiment")["label"] == "negative"  # type: ignore[arg-type]
    assert parse(component, "thanks so much, lovely service, really happy").get("sentiment")["label"] == "positive"  # type: ignore[arg-type]


def test_the_model_lives_inside_rasas_model_storage(trained: Dict[str, object], tmp_path: Path) -> None:
    component = trained["loaded"]
    files = {p.name for p in Path(component._model_storage._storage_path).rglob("*")}  # type: ignore[attr-defined]
    assert {"coverline_nlu.json", "heads.safetensors", "model.safetensors"} <= files
    assert not any(name.endswith((".pkl", ".pt", ".bin")) for name in files)


def test_empty_messages_get_no_intent_and_no_sentiment(trained: Dict[str, object]) -> None:
    """Said as Rasa's own classifiers say it: a message without a key made FallbackClassifier fail the turn."""
    messages = trained["loaded"].process([Message(data={"text": ""}), Message(data={"text": "   "})])  # type: ignore[union-attr]
    assert all(m.get("intent") == {"name": None, "confidence": 0.0} for m in messages)
    assert all(m.get("intent_ranking") == [] and m.get("sentiment") is None for m in messages)


def test_an_untrained_component_loads_and_predicts_nothing(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    component = IntentSentimentClassifier.load({}, storage, Resource("missing"), context)
    message = component.process([Message(data={"text": "hello"})])[0]
    assert message.get("intent") is None


def test_training_without_intent_examples_is_a_no_op(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    component = IntentSentimentClassifier.create({}, storage, Resource("empty"), context)
    assert component.train(TrainingData()) == Resource("empty")
    assert component.model is None


def test_the_fingerprint_changes_when_the_sentiment_file_changes(tmp_path: Path) -> None:
    path = tiny_tweets(tmp_path / "Tweets.csv")
    before = IntentSentimentClassifier.fingerprint_addon({"airline_tweets": str(path)})
    path.write_text(path.read_text() + "9999,negative,@united never again\n")
    assert IntentSentimentClassifier.fingerprint_addon({"airline_tweets": str(path)}) != before


# -- the pieces ---------------------------------------------------------------------------------------


def test_temperature_scaling_softens_an_overconfident_model() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 400)
    logits = rng.normal(0, 1, (400, 3))
    logits[np.arange(400), labels] += 1.0
    logits *= 8.0  # right ~70 % of the time but claims ~99 %
    temperature = fit_temperature(logits, labels)
    assert temperature > 3.0
    confident = softmax(logits, temperature).max(1).mean()
    accuracy = (logits.argmax(1) == labels).mean()
    assert abs(confident - accuracy) < 0.08


def test_the_floor_costs_at_most_the_allowed_share_of_in_scope_answers() -> None:
    confidences = np.linspace(0.05, 1.0, 200)
    correct = np.ones(200, dtype=bool)
    floor = choose_floor(confidences, correct, 0.05)
    assert ((confidences < floor) & correct).sum() == 10
    assert choose_floor(confidences, correct, 0.0) == 0.0
    assert choose_floor(confidences[:10], correct[:10], 0.05) == 0.0  # 10 messages: not one to spend


def test_no_temperature_is_fitted_from_too_little_evidence() -> None:
    logits = np.array([[5.0, 0.0], [0.0, 5.0]] * 20)
    labels = np.array([0, 1] * 20)
    assert fit_temperature(logits, labels) == 1.0  # not one error: sharpening would look free
    assert fit_temperature(logits[:4], np.array([1, 1, 0, 0])) == 1.0  # 4 messages


def test_stratified_split_keeps_rare_intents_in_training() -> None:
    labels = ["a"] * 20 + ["b"] * 3
    train, validation = stratified_split(labels, 0.25, seed=1)
    assert sorted(train + validation) == list(range(23))
    assert {labels[i] for i in validation} == {"a"} and len(validation) == 5


def test_sentiment_labels_come_from_example_or_intent_metadata() -> None:
    assert sentiment_of({"intent": {"sentiment": "Negative"}}) == "negative"
    assert sentiment_of({"intent": {"sentiment": "negative"}, "example": {"sentiment": "positive"}}) == "positive"
    assert sentiment_of(None) is None
    with pytest.raises(ValueError, match="not one of"):
        sentiment_of({"example": {"sentiment": "angry"}})


def test_social_text_is_normalised_like_tweeteval() -> None:
    assert normalise_social_text("@HarborMutual see https://x.co/abc now") == "@user see http now"


def test_shouting_is_marked_because_the_encoder_cannot_see_capitals() -> None:
    assert (
        normalise_social_text("WHY IS THERE A LATE FEE ON MY ACCOUNT")
        == "all caps: WHY IS THERE A LATE FEE ON MY ACCOUNT"
    )
    assert normalise_social_text("THANK YOU SO MUCH 🙌") == "all caps: THANK YOU SO MUCH raising hands"
    # an acronym or a policy number is not shouting, and marking twice changes nothing
    assert normalise_social_text("is PX-88123 active? need it for the DMV") == "is PX-88123 active? need it for the DMV"
    assert normalise_social_text("OK") == "OK"
    once = normalise_social_text("WHERE IS MY REFUND")
    assert normalise_social_text(once) == once


def test_the_airline_split_is_fixed_and_disjoint(tmp_path: Path) -> None:
    path = tiny_tweets(tmp_path / "Tweets.csv")
    train, heldout, everything = (airline_tweets(path, s) for s in ("train", "heldout", "all"))
    assert len(train) + len(heldout) == len(everything) == 24
    assert airline_tweets(path, "heldout") == heldout
    with pytest.raises(ValueError, match="unknown split"):
        airline_tweets(path, "test")


def test_training_holds_out_messages_to_calibrate_and_set_the_floor(trained: Dict[str, object]) -> None:
    calibration = trained["loaded"].model.calibration  # type: ignore[union-attr]
    # 25 % of 30 intent examples, stratified: 2 per intent are never trained on
    assert calibration.validation["messages"] == 6
    # the floor may cost 34 % of 6 held-out messages: it sits at the third-lowest right answer's confidence
    assert 0.0 < calibration.oos_floor < 1.0


def test_the_served_encoder_is_int8_and_the_archive_float32(trained: Dict[str, object], tmp_path: Path) -> None:
    """Quantisation happens at load, so the archive stays a plain encoder any tool can read, and the
    process that answers customers runs the int8 encoder it was calibrated with."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear

    from bot.nlu.intent_sentiment_model import IntentSentimentModel

    loaded = trained["loaded"].model  # type: ignore[union-attr]
    modules = list(loaded.serving_encoder.modules())
    served = [m for m in modules if isinstance(m, DynamicInt8Linear)]
    assert len(served) >= 6 * 6  # query, key, value, attention output, intermediate, output per layer
    assert not [m for m in modules if type(m) is torch.nn.Linear]
    trained["trained"].model.save(tmp_path / "copy")  # type: ignore[union-attr]
    float32 = IntentSentimentModel.load(tmp_path / "copy")
    assert float32.config.quantize
    with pytest.raises(RuntimeError, match="cannot be saved again"):
        loaded.save(tmp_path / "again")


def test_a_model_saved_before_quantisation_is_served_in_float32(trained: Dict[str, object], tmp_path: Path) -> None:
    """Its temperature and floor were fitted on float32 confidences; int8 would shift them."""
    import json

    from bot.nlu.intent_sentiment_model import MODEL_FILE, IntentSentimentModel

    trained["trained"].model.save(tmp_path / "old")  # type: ignore[union-attr]
    meta = json.loads((tmp_path / "old" / MODEL_FILE).read_text())
    del meta["config"]["quantize"]
    (tmp_path / "old" / MODEL_FILE).write_text(json.dumps(meta))
    old = IntentSentimentModel.load(tmp_path / "old")
    assert old.serving_encoder is None
    assert old.predict(["how do I pay my premium"])[0].intent_ranking[0][0] == "pay_premium"


def test_an_email_address_is_one_address_not_a_mention_or_a_greeting() -> None:
    # "hi@coverline.io" was "hi@user.io" to the model, read as a greeting (greet 0.999) in the update form
    assert normalise_social_text("hi@coverline.io") == "name@example.com"
    assert normalise_social_text("my new email is thanks.jo@gmail.com") == "my new email is name@example.com"
    assert normalise_social_text("@HarborMutual mail maria.lopez+ins@work-mail.co.uk pls") == (
        "@user mail name@example.com pls"
    )
    # a mention still becomes @user, a link http, and an @ inside a link is the link's
    assert normalise_social_text("@HarborMutual see https://x.co/u@abc") == "@user see http"
    assert normalise_social_text("cc @jo_smith and @ann") == "cc @user and @user"


def test_emoji_are_spelled_because_the_encoder_reads_every_emoji_as_one_unknown_token() -> None:
    # 👍 and 👎 were the same [UNK] to the encoder: "👍" alone fell to out_of_scope
    assert normalise_social_text("👍") == "thumbs up"
    assert normalise_social_text("👎") == "thumbs down"
    assert normalise_social_text("thanks 🙏🏽") == "thanks folded hands"  # a skin tone changes no meaning
    assert normalise_social_text("🚗💥 need to file a claim") == "automobile collision need to file a claim"
    # capitals are judged before the names' lower-case letters are added; spelling twice changes nothing
    shouted = normalise_social_text("WORST SERVICE EVER 😡😡")
    assert shouted == "all caps: WORST SERVICE EVER enraged face enraged face"
    assert normalise_social_text(shouted) == shouted
    assert normalise_social_text("café ok") == "café ok"  # letters outside ASCII are not emoji
    assert normalise_social_text("a\x02not_an_emoji\x03 😊") == "a not_an_emoji smiling face with smiling eyes"
