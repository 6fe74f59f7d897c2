"""Rasa's CRF entity extractor, trained on a copy of the training data so that training it changes nothing else.

Rasa's `CRFEntityExtractor.train` writes BILOU tags into the shared training messages, in place. Rasa's training
cache keys every later component (the entity synonym mapper, Coverline's intent + sentiment model) by the
fingerprint of the data it receives, so on a first training those components are keyed by the *tagged* data,
and on every later `rasa train`, where the CRF comes from the cache and tags nothing, by the untagged data: the
intent + sentiment model was trained twice on every fresh machine (`make train`, then `make test`'s train), and
the second model, not the first, was the one the tests judged. Training on a copy keeps the keys the same from
the first training on. Prediction is Rasa's, unchanged.
"""

from __future__ import annotations

import copy

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.nlu.extractors.crf_entity_extractor import CRFEntityExtractor as RasaCRFEntityExtractor
from rasa.shared.nlu.training_data.training_data import TrainingData


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class CRFEntityExtractor(RasaCRFEntityExtractor):
    def train(self, training_data: TrainingData) -> Resource:
        return super().train(copy.deepcopy(training_data))


__all__ = ["CRFEntityExtractor"]
