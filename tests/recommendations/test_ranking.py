"""The ranker as a user of the recommender notices it: it learns who takes what, never recommends what is excluded,
falls back to popularity when it knows nothing, and pushes down what a customer dismissed.

The feedback is synthetic with a known structure (two kinds of customers with different tastes), so every
assertion has a right answer a broken ranker would miss.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import pytest

from recommendations.ranking import Feedback, Ranker, RankerConfig

ITEMS = [f"item{i}" for i in range(12)]
# drivers take car guides, home owners take home guides; everyone often takes the two general items
DRIVER = ["item0", "item1", "item2", "item3"]
HOME = ["item4", "item5", "item6", "item7"]
GENERAL = ["item8", "item9"]
SMALL = RankerConfig(max_iter=60, factors=4, neighbours=12, seed=1)


def population(seed: int = 7, customers: int = 400) -> Tuple[List[Feedback], Dict[str, List[float]]]:
    """Half drivers (feature 1.0), half home owners (feature 0.0); each takes 2-3 items of its kind, often a
    general one, and dismisses items of the other kind."""
    rng = np.random.default_rng(seed)
    feedback: List[Feedback] = []
    features: Dict[str, List[float]] = {}
    for n in range(customers):
        customer = f"c{n}"
        driver = n % 2 == 0
        own, other = (DRIVER, HOME) if driver else (HOME, DRIVER)
        for item in rng.choice(own, size=int(rng.integers(2, 4)), replace=False):
            feedback.append(Feedback(customer, str(item)))
        if rng.random() < 0.6:
            feedback.append(Feedback(customer, str(rng.choice(GENERAL))))
        if rng.random() < 0.5:
            feedback.append(Feedback(customer, str(rng.choice(other)), positive=False))
        features[customer] = [1.0 if driver else 0.0, float(rng.normal())]
    return feedback, features


@pytest.fixture(scope="module")
def ranker() -> Ranker:
    feedback, features = population()
    return Ranker(SMALL).fit(feedback, features, items=ITEMS)


def top(ranker: Ranker, k: int = 3, **profile: object) -> List[str]:
    return [item for item, _ in ranker.recommend(None, ITEMS, k, **profile)]


def test_a_driver_gets_car_items_and_a_home_owner_home_items(ranker: Ranker) -> None:
    driver = top(ranker, positives=["item0"], features=[1.0, 0.0], exclude=["item0"])
    home = top(ranker, positives=["item4"], features=[0.0, 0.0], exclude=["item4"])
    assert set(driver[:2]) <= set(DRIVER), driver
    assert set(home[:2]) <= set(HOME), home


def test_the_history_alone_steers_the_ranking(ranker: Ranker) -> None:
    """Same (neutral) features, different held items: the other items of the held kind come first."""
    scores = ranker.score(None, ITEMS, positives=["item1", "item2"], features=[0.5, 0.0])
    best_driver = max(scores[ITEMS.index(i)] for i in DRIVER if i not in ("item1", "item2"))
    best_home = max(scores[ITEMS.index(i)] for i in HOME)
    assert best_driver > best_home


def test_an_excluded_held_product_is_never_recommended(ranker: Ranker) -> None:
    for held in (DRIVER[:2], HOME[:3], ["item8"]):
        for k in (1, 3, len(ITEMS)):
            picked = top(ranker, k, positives=held, features=[1.0, 0.0], exclude=held)
            assert not set(picked) & set(held)
            assert len(picked) == min(k, len(ITEMS) - len(held))


def test_a_cold_customer_gets_the_popularity_order(ranker: Ranker) -> None:
    """No history, no features, unknown id: exactly the order of how many customers took each item."""
    feedback, _ = population()
    takers = {item: len({f.customer for f in feedback if f.positive and f.item == item}) for item in ITEMS}
    expected = sorted(ITEMS, key=lambda item: -takers[item])[:3]
    assert top(ranker) == expected
    assert top(ranker) == [item for item, _ in Ranker.recommend(ranker, "never-seen", ITEMS, 3)]
    cold = ranker.score("never-seen", ITEMS)
    assert np.array_equal(np.argsort(-cold, kind="stable"), np.argsort(-ranker.popularity(ITEMS), kind="stable"))


def test_too_little_feedback_falls_back_to_popularity() -> None:
    feedback = [Feedback("a", "item0"), Feedback("b", "item0"), Feedback("b", "item1")]
    ranker = Ranker(SMALL).fit(feedback, items=ITEMS)
    scores = ranker.score("a", ITEMS)
    assert ITEMS[int(np.argmax(scores))] == "item0"
    assert scores[ITEMS.index("item1")] > scores[ITEMS.index("item5")]  # taken once beats never taken


def test_a_dismissed_item_scores_lower_than_before_the_dismissal(ranker: Ranker) -> None:
    profile = {"positives": ["item0", "item1"], "features": [1.0, 0.0]}
    before = ranker.score(None, ITEMS, **profile)
    after = ranker.score(None, ITEMS, negatives=["item2"], **profile)
    i = ITEMS.index("item2")
    assert after[i] < before[i]
    assert "item2" not in top(ranker, negatives=["item2"], **profile)


def test_learnt_dismissals_count_for_a_known_customer() -> None:
    feedback, features = population()
    feedback.append(Feedback("c0", "item9", positive=False))
    with_dismissal = Ranker(SMALL).fit(feedback, features, items=ITEMS)
    i = ITEMS.index("item9")
    assert with_dismissal.score("c0", ITEMS)[i] < with_dismissal.score("c0", ITEMS, negatives=[])[i]


def test_items_the_ranker_never_saw_rank_last_and_duplicates_once(ranker: Ranker) -> None:
    ranked = ranker.recommend(None, ["new-item", "item8", "item8", "item0"], 3, positives=["item1"])
    assert [item for item, _ in ranked][-1] == "new-item"
    assert len(ranked) == 3


def test_scoring_before_fitting_or_with_wrong_features_is_refused(ranker: Ranker) -> None:
    with pytest.raises(RuntimeError):
        Ranker().score(None, ITEMS)
    with pytest.raises(ValueError, match="2 customer features"):
        ranker.score(None, ITEMS, features=[1.0, 2.0, 3.0])


def test_fitting_twice_on_the_same_feedback_gives_the_same_scores() -> None:
    feedback, features = population(customers=120)
    first = Ranker(SMALL).fit(feedback, features, items=ITEMS).score("c3", ITEMS)
    second = Ranker(SMALL).fit(feedback, features, items=ITEMS).score("c3", ITEMS)
    assert np.allclose(first, second)


def test_a_ranker_trained_on_the_offered_items_only_still_learns_who_takes_what() -> None:
    """The general items are history only (never offered), and every training case keeps some history: the
    driver/home split is still learnt, and a held general item does not confuse it."""
    feedback, features = population()
    config = RankerConfig(max_iter=60, factors=4, neighbours=12, seed=1, min_history=1)
    ranker = Ranker(config).fit(feedback, features, items=ITEMS, rankable=DRIVER + HOME)
    offered = DRIVER + HOME
    driver = [
        i
        for i, _ in ranker.recommend(
            None, offered, 2, positives=["item0", "item8"], features=[0.5, 0.0], exclude=["item0"]
        )
    ]
    home = [
        i
        for i, _ in ranker.recommend(
            None, offered, 2, positives=["item4", "item9"], features=[0.5, 0.0], exclude=["item4"]
        )
    ]
    assert set(driver) <= set(DRIVER), driver
    assert set(home) <= set(HOME), home


def graded_population(seed: int = 11, customers: int = 400) -> List[Feedback]:
    """Everyone holds item0; how much of it (strength 1-9) decides what else they take: a large holder takes
    item1, a small one item2. Held or not, the two kinds look the same; only the strength tells them apart."""
    rng = np.random.default_rng(seed)
    feedback: List[Feedback] = []
    for n in range(customers):
        customer = f"g{n}"
        strength = float(rng.integers(1, 10))
        feedback.append(Feedback(customer, "item0", strength=strength))
        feedback.append(Feedback(customer, "item1" if strength >= 5 else "item2"))
        if rng.random() < 0.5:
            feedback.append(Feedback(customer, str(rng.choice(GENERAL))))
    return feedback


def test_how_much_a_customer_holds_steers_the_ranking() -> None:
    ranker = Ranker(SMALL).fit(graded_population(), items=ITEMS)
    big = top(ranker, 1, positives={"item0": 8.0}, exclude=["item0"])
    small = top(ranker, 1, positives={"item0": 2.0}, exclude=["item0"])
    assert (big, small) == (["item1"], ["item2"])
    # a known customer is scored with the strengths learnt for them
    held: Dict[str, Dict[str, float]] = {}
    for f in graded_population():
        held.setdefault(f.customer, {})[f.item] = f.strength
    for customer in ("g0", "g1", "g2"):
        assert np.allclose(ranker.score(customer, ITEMS), ranker.score(None, ITEMS, positives=held[customer]))
    # a plain list is strength 1 each: a small holder
    assert top(ranker, 1, positives=["item0"], exclude=["item0"]) == ["item2"]


def test_a_positive_without_strength_is_refused() -> None:
    for strength in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="strength must be above 0"):
            Ranker(SMALL).fit([Feedback("a", "item0", strength=strength)], items=ITEMS)


def test_neighbours_are_the_offerable_items_customers_who_took_the_same_took(ranker: Ranker) -> None:
    near = ranker.neighbours(["item0", "item1"], 3)
    assert set(near[:2]) <= set(DRIVER) - {"item0", "item1"}, near
    assert "item0" not in near and "item1" not in near
    assert ranker.neighbours(["unknown-item"], 3) == [] and ranker.neighbours(["item0"], 0) == []
    offered_only = Ranker(SMALL).fit(population()[0], items=ITEMS, rankable=HOME)
    assert set(offered_only.neighbours(["item0", "item4"], 5)) <= set(HOME)


def test_a_ranker_for_serving_scores_a_given_history_alike_and_keeps_no_customer(ranker: Ranker) -> None:
    served = ranker.for_serving()
    profile = {"positives": ["item0", "item8"], "negatives": ["item5"], "features": [1.0, 0.3]}
    assert np.array_equal(served.score(None, ITEMS, **profile), ranker.score(None, ITEMS, **profile))
    assert served._histories == {} and served._features == {}
    assert ranker._histories  # the fitted one is untouched
