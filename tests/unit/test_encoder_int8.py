"""`Encoder(int8=True)`: MiniLM with its linear layers in int8, an instance of its own. Quantising it leaves every
float instance's vectors as they were (the retrieval answerer's thresholds are calibrated on them); a text's int8
vector is the same whatever it was embedded with; and it still finds the text a question is about."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.encoder import Encoder

QUESTION = "a stone cracked my windshield on the highway"
TEXTS = [
    "Cracked or chipped windshield: repair first. Windshield repairs have no deductible; book one quickly.",
    "Winter driving: before you set off. Clear the snow off the whole car and keep a scraper in the boot.",
    "Paying your bill: the ways to pay. Card, bank transfer or autopay, and when each payment lands.",
]


@pytest.fixture(scope="module")
def int8() -> Encoder:
    return Encoder(threads=1, int8=True)


@pytest.fixture(scope="module")
def float32() -> Encoder:
    return Encoder(threads=1)


def test_the_version_names_the_int8_weights(float32: Encoder, int8: Encoder) -> None:
    assert int8.version == float32.version + ":int8"


def test_quantising_one_instance_leaves_a_float_instance_unchanged(float32: Encoder, int8: Encoder) -> None:
    before = float32.encode([QUESTION, *TEXTS])
    quantised = int8.encode([QUESTION, *TEXTS])  # loads and quantises a model of its own
    after = float32.encode([QUESTION, *TEXTS])
    assert np.array_equal(before, after)
    assert not np.allclose(before, quantised, atol=1e-3)  # int8 vectors are not the float ones


def test_an_int8_vector_is_the_same_alone_and_in_a_batch(int8: Encoder) -> None:
    """Dynamic quantisation scales by the whole batch's range: batched with longer texts, a text would get
    another vector (cosine ~0.97). The int8 encoder embeds one text per forward, so it does not."""
    alone = int8.encode([TEXTS[2]])[0]
    batched = int8.encode([TEXTS[0], TEXTS[2], TEXTS[1] * 4])[1]
    assert np.array_equal(alone, batched)


def test_int8_still_finds_what_a_question_is_about(float32: Encoder, int8: Encoder) -> None:
    for encoder in (float32, int8):
        question, texts = encoder.encode([QUESTION])[0], encoder.encode(TEXTS)
        cosine = texts @ question
        assert int(np.argmax(cosine)) == 0 and cosine[0] >= 0.35 > max(cosine[1:])
    both = [encoder.encode(TEXTS) for encoder in (float32, int8)]
    assert float((both[0] * both[1]).sum(axis=1).min()) > 0.85  # close to the float vectors, not equal
