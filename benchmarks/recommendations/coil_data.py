"""Loader and splits for CoIL 2000 (`coil2000_caravan/Caravan.csv` in the shared data folder).

Research and education use only: this module is benchmark input. Nothing that ships imports it, and the data
is never copied into the repository (see /work/shared/data/README.md).

Columns (the CoIL 2000 data dictionary): 43 socio-demographic columns (MOSTYPE … MKOOPKLA, codes per postcode
area), then for each of 21 insurance products its contribution level (P…) and its number of policies (A…), and
``Purchase`` (CARAVAN, "Yes"/"No"). A customer *holds* a product when its number of policies is above zero.
Every loader raises on a surprising file instead of quietly returning another data set.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
from sklearn.model_selection import KFold

ROOT = Path(__file__).resolve().parents[2]
ROWS = 5822
DEMOGRAPHIC_COLUMNS = 43
# product code (the column name without its P/A prefix) → English name from the CoIL 2000 data dictionary
PRODUCTS: Dict[str, str] = {
    "WAPART": "private third party",
    "WABEDR": "third party (firms)",
    "WALAND": "third party (agriculture)",
    "PERSAUT": "car",
    "BESAUT": "delivery van",
    "MOTSCO": "motorcycle/scooter",
    "VRAAUT": "lorry",
    "AANHANG": "trailer",
    "TRACTOR": "tractor",
    "WERKT": "agricultural machines",
    "BROM": "moped",
    "LEVEN": "life",
    "PERSONG": "private accident",
    "GEZONG": "family accidents",
    "WAOREG": "disability",
    "BRAND": "fire",
    "ZEILPL": "surfboard",
    "PLEZIER": "boat",
    "FIETS": "bicycle",
    "INBOED": "property",
    "BYSTAND": "social security",
}
# the three products most customers hold; the issue asks for figures with them left out of what is ranked
DOMINANT = ("BRAND", "PERSAUT", "WAPART")


@dataclass(frozen=True)
class Coil:
    """The file as arrays, one row per customer in file order."""

    demographic_columns: Tuple[str, ...]
    demographics: np.ndarray  # (n, 43) int codes
    contributions: np.ndarray  # (n, 21) int contribution levels, the P… columns
    policies: np.ndarray  # (n, 21) int number of policies, the A… columns
    caravan: np.ndarray  # (n,) bool: bought caravan insurance

    @property
    def held(self) -> np.ndarray:
        return self.policies > 0

    @property
    def products(self) -> Tuple[str, ...]:
        return tuple(PRODUCTS)


def shared_data() -> Path:
    """Read at call time so a test or a CI job can point COVERLINE_SHARED_DATA elsewhere after import."""
    return Path(os.environ.get("COVERLINE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def data_file() -> Path:
    return shared_data() / "coil2000_caravan" / "Caravan.csv"


def parse(rows: List[List[str]]) -> Coil:
    """Header row + data rows → :class:`Coil`; checks the column layout the data dictionary describes."""
    header, body = rows[0], rows[1:]
    expected = [f"P{code}" for code in PRODUCTS] + [f"A{code}" for code in PRODUCTS] + ["Purchase"]
    if len(header) != DEMOGRAPHIC_COLUMNS + len(expected) or header[DEMOGRAPHIC_COLUMNS:] != expected:
        raise ValueError(f"unexpected CoIL 2000 columns: {header[DEMOGRAPHIC_COLUMNS:]}")
    purchase = [row[-1] for row in body]
    if set(purchase) - {"Yes", "No"}:
        raise ValueError(f"Purchase must be Yes or No, found {sorted(set(purchase) - {'Yes', 'No'})}")
    numbers = np.array([[int(cell) for cell in row[:-1]] for row in body], dtype=np.int64)
    if (numbers < 0).any():
        raise ValueError("negative code or count in CoIL 2000")
    n_products = len(PRODUCTS)
    return Coil(
        demographic_columns=tuple(header[:DEMOGRAPHIC_COLUMNS]),
        demographics=numbers[:, :DEMOGRAPHIC_COLUMNS],
        contributions=numbers[:, DEMOGRAPHIC_COLUMNS : DEMOGRAPHIC_COLUMNS + n_products],
        policies=numbers[:, DEMOGRAPHIC_COLUMNS + n_products :],
        caravan=np.array([value == "Yes" for value in purchase]),
    )


def load(path: Path | None = None) -> Coil:
    with open(path or data_file(), newline="", encoding="utf-8") as handle:
        coil = parse(list(csv.reader(handle)))
    if path is None and len(coil.caravan) != ROWS:
        raise ValueError(f"expected {ROWS} customers in {data_file()}, found {len(coil.caravan)}")
    return coil


def customer_folds(n_customers: int, folds: int = 5, seed: int = 2000) -> List[Tuple[np.ndarray, np.ndarray]]:
    """(train rows, test rows) per fold: every customer is tested exactly once, never in its own training set."""
    splitter = KFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(train, test) for train, test in splitter.split(np.zeros((n_customers, 1)))]


@dataclass(frozen=True)
class HiddenCase:
    """One test customer: what the ranker sees (held minus the hidden product), what it ranks, what it should find."""

    row: int
    visible: np.ndarray  # (21,) bool
    candidates: np.ndarray  # product indices: not held, plus the hidden one
    hidden: int


def hide_one(
    held: np.ndarray, rows: np.ndarray, seed: int, exclude: Tuple[int, ...] = (), min_held: int = 2
) -> List[HiddenCase]:
    """Leave-one-out cases for customers holding ≥ ``min_held`` products.

    One held product per customer is hidden, drawn uniformly with a seeded generator (so every model sees the
    same cases). Products in ``exclude`` are neither hidden nor ranked (they stay visible when held); customers
    with no held product outside ``exclude`` have no case.
    """
    rng = np.random.default_rng(seed)
    allowed = np.ones(held.shape[1], dtype=bool)
    allowed[list(exclude)] = False
    cases: List[HiddenCase] = []
    for row in rows:
        owned = held[row]
        hideable = np.flatnonzero(owned & allowed)
        if owned.sum() < min_held or len(hideable) == 0:
            continue
        hidden = int(rng.choice(hideable))
        visible = owned.copy()
        visible[hidden] = False
        candidates = np.flatnonzero((~owned & allowed) | (np.arange(len(owned)) == hidden))
        cases.append(HiddenCase(row=int(row), visible=visible, candidates=candidates, hidden=hidden))
    return cases


def caravan_holdout(n_customers: int, size: int = 1000, seed: int = 2000) -> Tuple[np.ndarray, np.ndarray]:
    """(train rows, hold-out rows): ``size`` customers drawn without replacement by ``default_rng(seed)``."""
    order = np.random.default_rng(seed).permutation(n_customers)
    return np.sort(order[size:]), np.sort(order[:size])


def islr_holdout(n_customers: int, size: int = 1000) -> Tuple[np.ndarray, np.ndarray]:
    """ISLR §4.6.6's split (the first 1,000 rows held out), so its published logistic-regression figure compares."""
    rows = np.arange(n_customers)
    return rows[size:], rows[:size]
