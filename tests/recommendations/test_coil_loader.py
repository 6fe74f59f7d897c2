"""The CoIL 2000 loader and splits: columns parsed where the data dictionary puts them, folds that never test a
customer on its own training data, hidden products chosen the same way for every model.

The parsing tests run on a small file written here; the checks of the real file skip when the shared data
folder is absent (it is never copied into the repository: research use only).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import List

import numpy as np
import pytest

from benchmarks.recommendations import coil_data
from benchmarks.recommendations.coil_data import DOMINANT, PRODUCTS

HEADER = [f"D{i}" for i in range(coil_data.DEMOGRAPHIC_COLUMNS)]
HEADER += [f"P{code}" for code in PRODUCTS] + [f"A{code}" for code in PRODUCTS] + ["Purchase"]
shared = pytest.mark.skipif(
    not coil_data.data_file().is_file(),
    reason=f"CoIL 2000 {coil_data.data_file()} is absent (set COVERLINE_SHARED_DATA to the shared data folder)",
)


def row(demographic: int, policies: dict, purchase: str = "No") -> List[str]:
    counts = [policies.get(code, 0) for code in PRODUCTS]
    levels = [min(3 * c, 9) for c in counts]
    return [str(demographic)] * coil_data.DEMOGRAPHIC_COLUMNS + [str(v) for v in levels + counts] + [purchase]


def write(path: Path, rows: List[List[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    return path


def test_columns_are_parsed_into_demographics_contributions_policies_and_caravan(tmp_path: Path) -> None:
    coil = coil_data.load(write(tmp_path / "c.csv", [row(7, {"BRAND": 1, "LEVEN": 2}, "Yes"), row(3, {})]))
    assert coil.demographics.shape == (2, 43) and (coil.demographics[0] == 7).all()
    assert coil.policies[0, list(PRODUCTS).index("LEVEN")] == 2
    assert coil.contributions[0, list(PRODUCTS).index("BRAND")] == 3
    assert coil.held.sum(axis=1).tolist() == [2, 0]
    assert coil.caravan.tolist() == [True, False]


def test_a_file_with_other_columns_or_values_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER[:-2] + ["AINBOED", "Purchase"][::-1], row(1, {})])
    with pytest.raises(ValueError, match="columns"):
        coil_data.load(path)
    with pytest.raises(ValueError, match="Yes or No"):
        coil_data.load(write(tmp_path / "bad2.csv", [row(1, {}, purchase="maybe")]))


def test_folds_cover_every_customer_once_and_never_test_on_training_rows() -> None:
    folds = coil_data.customer_folds(103, folds=5, seed=1)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(103))
    for train, test in folds:
        assert not set(train) & set(test)
        assert len(train) + len(test) == 103
    assert [t.tolist() for _, t in folds] == [t.tolist() for _, t in coil_data.customer_folds(103, folds=5, seed=1)]


def test_one_held_product_is_hidden_and_ranked_among_the_unheld() -> None:
    held = np.zeros((4, len(PRODUCTS)), dtype=bool)
    held[0, [0, 3, 11]] = True  # three products
    held[1, [15]] = True  # one product: no case
    held[2, [0, 3]] = True  # only dominant products
    held[3, [3, 15, 19]] = True
    cases = coil_data.hide_one(held, np.arange(4), seed=5)
    assert [c.row for c in cases] == [0, 2, 3]
    for case in cases:
        owned = held[case.row]
        assert owned[case.hidden] and not case.visible[case.hidden]
        assert case.visible.sum() == owned.sum() - 1
        assert set(case.candidates) == set(np.flatnonzero(~owned)) | {case.hidden}
    dominant = tuple(list(PRODUCTS).index(code) for code in DOMINANT)
    without = coil_data.hide_one(held, np.arange(4), seed=5, exclude=dominant)
    assert [c.row for c in without] == [0, 3]  # customer 2 holds only dominant products
    for case in without:
        assert case.hidden not in dominant and not set(case.candidates) & set(dominant)


def test_the_caravan_hold_out_is_fixed_by_its_seed() -> None:
    train, test = coil_data.caravan_holdout(5822, 1000, seed=2000)
    assert len(test) == 1000 and len(train) == 4822 and not set(train) & set(test)
    assert np.array_equal(test, coil_data.caravan_holdout(5822, 1000, seed=2000)[1])
    assert not np.array_equal(test, coil_data.caravan_holdout(5822, 1000, seed=2001)[1])


@shared
def test_the_real_file_has_the_published_shape() -> None:
    coil = coil_data.load()
    assert coil.demographics.shape == (5822, 43)
    assert int(coil.caravan.sum()) == 348  # 6 % bought caravan insurance, as the data README says
    assert coil.caravan[:1000].sum() == 59  # ISLR's first-1,000-row hold-out
    holders = dict(zip(PRODUCTS, coil.held.sum(axis=0), strict=True))
    assert sorted(holders, key=holders.get)[-3:] == sorted(DOMINANT, key=holders.get)
    assert coil.contributions[coil.policies == 0].max() == 0  # no contribution without a policy
