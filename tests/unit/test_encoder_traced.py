"""`Encoder(int8=True, traced=True)`, the recommender's encoder: the transformer runs as a TorchScript trace, which
must give the eager vectors for every length (a length the trace had baked in would embed other texts wrongly),
the whole demo library and questions with emoji, accents and stray spaces included; a trace that does not match
is never used."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import retrieval.encoder as encoder_module
from recommendations.library import DEMO_LIBRARY, load_library
from recommendations.recommender import recommendation_encoder
from retrieval.encoder import Encoder

QUESTIONS = [
    "hi",
    "any tips for winter driving on icy roads?",
    "my claim is still not paid 😡😡",
    "   spaced   out   question about   my deductible  ",
    "ÜNÏCÖDÉ façade: naïve question about my renters policy",
    "a stone cracked my windshield on the highway what do I do now and does it affect my premium at renewal",
    " ".join(["my basement flooded after the storm and the carpet is ruined"] * 40),  # cut at 256 tokens
]


@pytest.fixture(scope="module")
def eager() -> Encoder:
    return Encoder(threads=1, int8=True)


@pytest.fixture(scope="module")
def traced() -> Encoder:
    encoder = Encoder(threads=1, int8=True, traced=True)
    encoder.encode(["warm up"])
    return encoder


def test_the_recommenders_encoder_is_traced_and_uses_its_trace() -> None:
    encoder = recommendation_encoder()
    encoder.encode(["warm up"])
    assert encoder.traced and encoder._trace is not None


def test_traced_vectors_are_the_eager_ones_for_questions_and_the_whole_library(eager: Encoder, traced: Encoder) -> None:
    items = [f"{spec.title}. {spec.summary}" for spec in load_library([DEMO_LIBRARY])]
    for texts in (QUESTIONS, items):
        expected, got = eager.encode(texts), traced.encode(texts)
        assert got.shape == expected.shape and got.dtype == np.float32
        assert np.abs(expected - got).max() < 1e-5
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_a_trace_that_embeds_differently_is_not_used(
    eager: Encoder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A trace with a baked-in length (traced on a padded probe, as a batch would be) must be caught at load."""
    real = encoder_module.traced_transformer

    def baked(model):  # type: ignore[no-untyped-def]
        trace = real(model)
        return lambda ids, mask: trace(ids, mask) * 0.5 + trace(ids[:, :1].expand_as(ids), mask) * 0.5

    monkeypatch.setattr(encoder_module, "traced_transformer", baked)
    encoder = Encoder(threads=1, int8=True, traced=True)
    with caplog.at_level(logging.WARNING, logger="retrieval.encoder"):
        vectors = encoder.encode(QUESTIONS[:3])
    assert encoder._trace is None and "not used" in caplog.text
    assert np.abs(vectors - eager.encode(QUESTIONS[:3])).max() < 1e-6  # the eager forward answered


def test_a_float_or_batched_encoder_is_never_traced() -> None:
    assert not Encoder(threads=1, traced=True).traced  # batches are padded: the trace is for one text per forward
