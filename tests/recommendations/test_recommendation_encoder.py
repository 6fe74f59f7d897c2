"""The recommender embeds with its own int8 MiniLM (`recommendation_encoder`), never the retrieval answerer's
float one, whose vectors its calibrated thresholds assume (tests/unit/test_encoder_int8.py: quantising one
instance leaves the other's vectors as they were)."""

from __future__ import annotations

from recommendations.recommender import recommendation_encoder, shared_item_vectors, warm_up
from retrieval.service import PastReplyAnswerer
from settings import current


def test_the_recommender_has_an_int8_encoder_and_the_answerer_a_float_one() -> None:
    encoder = recommendation_encoder()
    assert encoder.int8 and encoder.version.endswith(":int8") and encoder.threads == 1
    answerer = PastReplyAnswerer(settings=current().retrieval)
    assert not answerer.encoder.int8 and not answerer.encoder.version.endswith(":int8")
    assert encoder.version == answerer.encoder.version + ":int8"  # the same MiniLM weights, quantised


def test_warm_up_loads_the_recommenders_encoder_before_any_recommendation() -> None:
    warm_up()
    vectors = shared_item_vectors()
    assert vectors is not None and vectors.encoder.int8
    assert "model" in vars(vectors.encoder)  # loaded and quantised (a cached property), not left to a customer
