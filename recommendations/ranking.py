"""The ranker: learns from implicit feedback which items a customer is likely to take, with popularity when cold.

Feedback is a list of (customer, item, positive) events: a held product or an opened item is positive, an item
that was shown and dismissed is negative. Two stages, both fitted in :meth:`Ranker.fit`:

1. Collaborative signals from ``implicit`` (a maintained library): item-item cosine similarities
   (``CosineRecommender``) and ALS factors over the positives, plus each item's popularity and dismissal rate.
2. A gradient-boosted model (scikit-learn's ``HistGradientBoostingClassifier``) over (customer, item) pairs:
   the stage-1 signals of the pair, the customer's side features (demographics, channel, ... as numbers) and the
   item's ALS factors, so it can learn which kind of customer takes which kind of item. It is trained
   leave-one-out, out of fold: a customer's positive is hidden and the signals are computed by stage-1 models
   fitted on *other* customers, so the model learns to find what a customer has not taken yet, as it must live.
   In a small catalogue (an insurer's two dozen products, up to ``small_catalogue`` items) the pairs also carry
   one column per item the customer holds, the item itself as a category, and a stage-1 conditional model's
   log-probability (multinomial logistic regression: "given what this customer holds and who they are, which
   item was hidden"), all fitted out of fold like the similarities. ``rankable`` restricts training to the
   items that will actually be offered, and ``min_history`` to cases with at least that much history left.

Scoring one customer is a few sparse row sums, one small least-squares solve and one batched tree prediction:
no per-item loop, so a few hundred candidates from a catalogue of 10,000 score in milliseconds.
A customer with no history and no features, or a ranker fitted on too little feedback, gets popularity.
Items the customer dismissed are pushed down (the recommender's constraints remove them outright).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Dict, Hashable, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
from implicit.als import AlternatingLeastSquares
from implicit.nearest_neighbours import CosineRecommender
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController

Customer = Hashable
Item = Hashable


@dataclass(frozen=True)
class Feedback:
    """One implicit-feedback event: ``positive`` for held/opened, ``False`` for shown-and-dismissed."""

    customer: Customer
    item: Item
    positive: bool = True
    strength: float = 1.0  # how much of a positive the customer holds (a premium band, a policy count); > 0


@dataclass(frozen=True)
class RankerConfig:
    neighbours: int = 50  # item-item similarities kept per item
    factors: int = 8  # ALS factors (0: no ALS signal)
    als_iterations: int = 15
    hides_per_customer: int = 3  # leave-one-out training cases drawn per customer
    negatives_per_case: int = 50  # non-held items sampled as negatives per case (all when fewer)
    min_cases: int = 20  # fewer positive cases than this: stage 2 is skipped (popularity + similarity only)
    max_iter: int = 150
    learning_rate: float = 0.08
    max_leaf_nodes: int = 15
    l2_regularization: float = 1.0
    dismissed_factor: float = 0.1  # a dismissed item's score is multiplied by this
    min_history: int = 0  # a training case keeps at least this many of the customer's positives visible
    small_catalogue: int = 64  # up to this many items: per-item history columns and a conditional model
    conditional_c: float = 0.1  # inverse L2 strength of the conditional model (multinomial logistic regression)
    seed: int = 0


@dataclass
class _Signals:
    """Stage 1, fitted on one set of customers: everything a pair's features are computed from."""

    similarity: sp.csr_matrix  # items × items, zero diagonal
    popularity: np.ndarray  # (items,) log1p(positive count), scaled to [0, 1]
    dismiss_rate: np.ndarray  # (items,) smoothed share of dismissals among an item's events
    item_factors: np.ndarray  # (items, factors), zeros when ALS is off
    als: Optional[AlternatingLeastSquares]
    conditional: Optional[Pipeline] = None  # [history, features] → which item was hidden (small catalogues)


@dataclass
class _History:
    positives: np.ndarray  # item indices
    negatives: np.ndarray  # item indices
    strengths: Optional[np.ndarray] = None  # aligned with positives; None: every positive 1.0

    def __post_init__(self) -> None:
        if self.strengths is None:
            self.strengths = np.ones(len(self.positives))

    def without_positive(self, item: int) -> "_History":
        keep = self.positives != item
        return _History(self.positives[keep], self.negatives, self.strengths[keep])


@dataclass
class Ranker:
    """Fit on feedback (and optional customer features); score a customer's candidate items.

    Items unknown at fit time score below every known item; customers unknown at fit time are scored from the
    history and features passed to :meth:`score` (a live profile is usually newer than the last fit).
    """

    config: RankerConfig = field(default_factory=RankerConfig)
    items: List[Item] = field(default_factory=list)
    feature_count: int = 0
    _item_index: Dict[Item, int] = field(default_factory=dict, repr=False)
    _histories: Dict[Customer, _History] = field(default_factory=dict, repr=False)
    _features: Dict[Customer, np.ndarray] = field(default_factory=dict, repr=False)
    _signals: Optional[_Signals] = field(default=None, repr=False)
    _model: Optional[HistGradientBoostingClassifier] = field(default=None, repr=False)
    _rankable: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool), repr=False)
    _graded: bool = field(default=False, repr=False)  # some positive had a strength other than 1.0

    # ---- fitting -------------------------------------------------------------------------------------------

    def fit(
        self,
        feedback: Iterable[Feedback],
        customer_features: Optional[Mapping[Customer, Sequence[float]]] = None,
        items: Optional[Sequence[Item]] = None,
        rankable: Optional[Iterable[Item]] = None,
    ) -> "Ranker":
        """Learn from ``feedback``; ``items`` adds catalogue items nobody has touched yet (they stay cold).

        ``rankable`` (default: every item) are the items that will be offered: the training cases hide and rank
        only those, the others only count as history, so the model learns the choice it will be asked to make.
        """
        events = list(feedback)
        self.items = list(dict.fromkeys([*(items or []), *(e.item for e in events)]))
        self._item_index = {item: i for i, item in enumerate(self.items)}
        self._rankable = np.ones(len(self.items), dtype=bool)
        if rankable is not None:
            self._rankable[:] = False
            self._rankable[[self._item_index[i] for i in rankable if i in self._item_index]] = True
        self._features = {c: np.asarray(v, dtype=np.float64) for c, v in (customer_features or {}).items()}
        self.feature_count = _feature_width(self._features)
        self._histories = _histories(events, self._item_index)
        self._graded = any(not np.all(h.strengths == 1.0) for h in self._histories.values())
        customers = list(self._histories)
        positives, negatives = _matrices(customers, self._histories, len(self.items))
        with _threads().limit(limits=1):
            self._signals = self._fit_signals(customers, positives, negatives)
            self._model = self._fit_model(customers)
        return self

    @property
    def _small(self) -> bool:
        """A catalogue small enough for one column per item (an insurer's products, not 10,000 articles)."""
        return 0 < len(self.items) <= self.config.small_catalogue

    def _fit_signals(self, customers: List[Customer], positives: sp.csr_matrix, negatives: sp.csr_matrix) -> _Signals:
        n_items = positives.shape[1]
        knn = CosineRecommender(K=min(self.config.neighbours, max(n_items, 1)), num_threads=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # implicit converts our CSR to COO and back, and says so
            knn.fit(positives, show_progress=False)
        similarity = sp.csr_matrix(knn.similarity, dtype=np.float64)
        similarity = sp.csr_matrix(similarity - sp.diags(similarity.diagonal()))  # an item is not its own neighbour
        similarity.eliminate_zeros()
        counts = np.asarray(positives.sum(axis=0)).ravel()
        dismissals = np.asarray(negatives.sum(axis=0)).ravel()
        popularity = np.log1p(counts)
        popularity = popularity / popularity.max() if popularity.max() > 0 else popularity
        dismiss_rate = (dismissals + 1.0) / (dismissals + counts + 2.0)
        als, factors = None, np.zeros((n_items, max(self.config.factors, 0)))
        if self.config.factors > 0 and positives.nnz > 0 and n_items > self.config.factors:
            als = AlternatingLeastSquares(
                factors=self.config.factors,
                iterations=self.config.als_iterations,
                regularization=0.1,
                random_state=self.config.seed,
                num_threads=1,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # implicit warns about thread settings it cannot change here
                als.fit(positives, show_progress=False)
            factors = _dense(als.item_factors)
        conditional = self._fit_conditional(customers) if self._small else None
        return _Signals(similarity, popularity, dismiss_rate, factors, als, conditional)

    def _fit_conditional(self, customers: List[Customer]) -> Optional[Pipeline]:
        """Multinomial logistic regression: from what a customer holds (one column per item) and their features,
        which item was hidden. Every hide-one case of these customers, weighted so each customer counts once:
        the direct estimate of "what else does someone like this hold", which similarity sums only approximate."""
        rows, targets, weights = [], [], []
        for customer in customers:
            history = self._histories[customer]
            hideable = self._hideable(history)
            for hidden in hideable:
                visible = history.without_positive(hidden)
                rows.append(self._conditional_input(visible, self._features_of(customer, None)))
                targets.append(int(hidden))
                weights.append(1.0 / len(hideable))
        if len(set(targets)) < 2 or len(targets) < self.config.min_cases:
            return None
        model = make_pipeline(StandardScaler(), LogisticRegression(C=self.config.conditional_c, max_iter=2000))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lbfgs may stop just short of its tolerance; the fit is still usable
            model.fit(np.vstack(rows), np.array(targets), logisticregression__sample_weight=np.array(weights))
        return model

    def _conditional_input(self, history: _History, vector: np.ndarray) -> np.ndarray:
        held = np.zeros(len(self.items))
        held[history.positives] = 1.0
        if not self._graded:
            return np.concatenate([held, vector])
        strength = np.zeros(len(self.items))
        strength[history.positives] = history.strengths
        return np.concatenate([held, strength, vector])

    def _hideable(self, history: _History) -> np.ndarray:
        """Positives a training case may hide: rankable ones, leaving ``min_history`` positives visible."""
        if len(history.positives) <= self.config.min_history:
            return np.zeros(0, dtype=np.int64)
        return history.positives[self._rankable[history.positives]]

    def _fit_model(self, customers: List[Customer]) -> Optional[HistGradientBoostingClassifier]:
        """Stage 2 on out-of-fold leave-one-out cases; ``None`` when there is too little to learn from."""
        rng = np.random.default_rng(self.config.seed)
        half = rng.permutation(len(customers)) % 2
        blocks: List[np.ndarray] = []
        labels: List[np.ndarray] = []
        weights: List[np.ndarray] = []
        for part in (0, 1):
            fit_on = [c for c, h in zip(customers, half, strict=True) if h != part]
            cases_for = [c for c, h in zip(customers, half, strict=True) if h == part]
            if not fit_on or not cases_for:
                continue
            pos, neg = _matrices(fit_on, self._histories, len(self.items))
            signals = self._fit_signals(fit_on, pos, neg)
            cases = _Cases()
            for customer in cases_for:
                self._add_cases(cases, customer, rng)
            if cases.pair_case:
                blocks.append(self._batch_features(signals, *cases.arrays(len(self.items), self.feature_count)))
                labels.append(np.array(cases.labels))
                weights.append(np.array(cases.weights))
        if not blocks:
            return None
        x, y, w = np.vstack(blocks), np.concatenate(labels), np.concatenate(weights)
        if y.sum() < self.config.min_cases or y.sum() == len(y):
            return None
        model = HistGradientBoostingClassifier(
            max_iter=self.config.max_iter,
            learning_rate=self.config.learning_rate,
            max_leaf_nodes=self.config.max_leaf_nodes,
            l2_regularization=self.config.l2_regularization,
            random_state=self.config.seed,
            categorical_features=self._categorical_columns(x.shape[1]),
        )
        return model.fit(x, y, sample_weight=w)

    def _categorical_columns(self, width: int) -> Optional[np.ndarray]:
        """The item's own index is a category (small catalogues only: it is the last column)."""
        if not self._small:
            return None
        mask = np.zeros(width, dtype=bool)
        mask[-1] = True
        return mask

    def _add_cases(self, cases: "_Cases", customer: Customer, rng: np.random.Generator) -> None:
        """A hidden positive (label 1) against sampled items the customer never took (label 0), and each
        dismissal (label 0) with that dismissal hidden from the history, as it was before it happened."""
        history = self._histories[customer]
        vector = self._features_of(customer, None)
        taken = np.zeros(len(self.items), dtype=bool)
        taken[history.positives] = True
        untaken = np.flatnonzero(~taken & self._rankable)
        hides = rng.permutation(self._hideable(history))[: self.config.hides_per_customer]
        for hidden in hides:
            sample = untaken
            if len(untaken) > self.config.negatives_per_case:
                sample = rng.choice(untaken, self.config.negatives_per_case, replace=False)
            visible = history.without_positive(hidden)
            items = np.concatenate([[hidden], sample])
            # each customer weighs one hidden item in all, as when one held item is hidden at random
            cases.add(visible, vector, items, [1.0] + [0.0] * len(sample), weight=1.0 / len(hides))
        for dismissed in history.negatives:
            visible = _History(history.positives, history.negatives[history.negatives != dismissed], history.strengths)
            cases.add(visible, vector, np.array([dismissed]), [0.0])

    # ---- scoring -------------------------------------------------------------------------------------------

    def score(
        self,
        customer: Optional[Customer],
        candidates: Sequence[Item],
        *,
        positives: Optional[Sequence[Item] | Mapping[Item, float]] = None,
        negatives: Optional[Sequence[Item]] = None,
        features: Optional[Sequence[float]] = None,
    ) -> np.ndarray:
        """Scores in ``candidates`` order, higher is better.

        ``positives`` / ``negatives`` / ``features`` override what was learnt about ``customer`` at fit time
        (pass them for a customer the ranker has not seen, or whose profile changed since the fit). ``positives``
        may map each item to its strength, as :class:`Feedback` carries it; a plain sequence means 1.0 each.
        """
        if self._signals is None:
            raise RuntimeError("fit the ranker before scoring")
        index = np.array([self._item_index.get(item, -1) for item in candidates], dtype=np.int64)
        known = index >= 0
        scores = np.full(len(candidates), -1.0)
        if not known.any():
            return scores
        history = self._history_of(customer, positives, negatives)
        vector = self._features_of(customer, features)
        items = index[known]
        if self._model is None or (len(history.positives) == 0 and not vector.any() and len(history.negatives) == 0):
            known_scores = self._signals.popularity[items].copy()
        else:
            cases = _Cases()
            cases.add(history, vector, items, [])
            x = self._batch_features(self._signals, *cases.arrays(len(self.items), self.feature_count))
            with _threads().limit(limits=1, user_api="openmp"):
                known_scores = self._model.predict_proba(x)[:, 1]
        dismissed = np.isin(items, history.negatives)
        known_scores[dismissed] *= self.config.dismissed_factor
        scores[known] = known_scores
        return scores

    def recommend(
        self,
        customer: Optional[Customer],
        candidates: Sequence[Item],
        k: int = 3,
        *,
        exclude: Iterable[Item] = (),
        **profile: object,
    ) -> List[Tuple[Item, float]]:
        """The ``k`` best candidates not in ``exclude``, best first, with their scores."""
        excluded = set(exclude)
        kept = [item for item in dict.fromkeys(candidates) if item not in excluded]
        if not kept or k <= 0:
            return []
        scores = self.score(customer, kept, **profile)  # type: ignore[arg-type]
        order = np.argsort(-scores, kind="stable")[:k]
        return [(kept[i], float(scores[i])) for i in order]

    def for_serving(self) -> "Ranker":
        """The same scores for histories passed to :meth:`score`, without what was learnt per customer (the
        largest part of a fitted ranker with many customers; a server is given each profile as it is now)."""
        return replace(self, _histories={}, _features={})

    def neighbours(self, positives: Sequence[Item], k: int) -> List[Item]:
        """Up to ``k`` offerable items most similar (item-kNN) to ``positives``, best first, none of them: the
        learned candidates, a sparse row sum, cheap enough for every request of a 10,000-item catalogue."""
        if self._signals is None:
            raise RuntimeError("fit the ranker before asking for neighbours")
        held = [self._item_index[i] for i in positives if i in self._item_index]
        if not held or k <= 0:
            return []
        closeness = np.asarray(self._signals.similarity[held].sum(axis=0)).ravel()
        closeness[~self._rankable] = 0.0
        closeness[held] = 0.0
        found = np.flatnonzero(closeness > 0)
        if len(found) > k:
            found = found[np.argpartition(-closeness[found], k - 1)[:k]]
        order = found[np.argsort(-closeness[found], kind="stable")]
        return [self.items[i] for i in order]

    def known(self, items: Iterable[Item]) -> List[Item]:
        """The given items the ranker learnt about (others cannot steer a score)."""
        return [item for item in items if item in self._item_index]

    def popularity(self, candidates: Sequence[Item]) -> np.ndarray:
        """The cold-start order on its own (unknown items −1)."""
        if self._signals is None:
            raise RuntimeError("fit the ranker before scoring")
        return np.array(
            [self._signals.popularity[self._item_index[i]] if i in self._item_index else -1.0 for i in candidates]
        )

    # ---- internals -----------------------------------------------------------------------------------------

    def _history_of(
        self,
        customer: Optional[Customer],
        positives: Optional[Sequence[Item] | Mapping[Item, float]],
        negatives: Optional[Sequence[Item]],
    ) -> _History:
        learnt = self._histories.get(customer) if customer is not None else None
        empty = np.zeros(0, dtype=np.int64)

        def indices(given: Optional[Sequence[Item]], fallback: np.ndarray) -> np.ndarray:
            if given is None:
                return fallback
            return np.array(sorted({self._item_index[i] for i in given if i in self._item_index}), dtype=np.int64)

        negative = indices(negatives, learnt.negatives if learnt else empty)
        if positives is None:
            return _History(learnt.positives, negative, learnt.strengths) if learnt else _History(empty, negative)
        positive = indices(list(positives), empty)
        if not isinstance(positives, Mapping):
            return _History(positive, negative)
        strength = {self._item_index[i]: float(v) for i, v in positives.items() if i in self._item_index}
        return _History(positive, negative, np.array([strength[i] for i in positive]))

    def _features_of(self, customer: Optional[Customer], given: Optional[Sequence[float]]) -> np.ndarray:
        if given is not None:
            vector = np.asarray(given, dtype=np.float64)
            if vector.shape != (self.feature_count,):
                raise ValueError(f"expected {self.feature_count} customer features, got {vector.shape}")
            return vector
        if customer is not None and customer in self._features:
            return self._features[customer]
        return np.zeros(self.feature_count)

    def _batch_features(
        self,
        signals: _Signals,
        positives: sp.csr_matrix,
        negatives: sp.csr_matrix,
        strengths: sp.csr_matrix,
        vectors: np.ndarray,
        pair_case: np.ndarray,
        pair_item: np.ndarray,
    ) -> np.ndarray:
        """One row per (case, item) pair: similarity to what the case's customer took and dismissed, popularity,
        dismissal rate, ALS affinity, how much the customer took and dismissed, the item's ALS factors and the
        customer's features; in small catalogues also what the customer holds, item by item (and how much, when
        the feedback is graded). Cases are customers at a moment (rows of ``positives``/``negatives``/``vectors``).
        Sparse products over every case at once, so training and serving share this one code path."""
        similarity = signals.similarity
        to_positives = _gather(positives @ similarity, pair_case, pair_item)
        to_negatives = _gather(negatives @ similarity, pair_case, pair_item)
        taken = np.diff(positives.indptr).astype(np.float64)
        dismissed = np.diff(negatives.indptr).astype(np.float64)
        affinity = np.zeros(len(pair_case))
        if signals.als is not None:
            users = _dense(signals.als.recalculate_user(np.arange(positives.shape[0]), positives))
            affinity = np.einsum("ij,ij->i", users[pair_case], signals.item_factors[pair_item])
            affinity[taken[pair_case] == 0] = 0.0
        columns = [
            to_positives,
            to_positives / np.maximum(taken[pair_case], 1.0),
            to_negatives,
            signals.popularity[pair_item],
            signals.dismiss_rate[pair_item],
            affinity,
            taken[pair_case],
            dismissed[pair_case],
        ]
        blocks = [np.column_stack(columns), signals.item_factors[pair_item], vectors[pair_case]]
        if self._small:
            held = positives.toarray()
            history = np.hstack([held, strengths.toarray()]) if self._graded else held
            conditional = np.zeros(len(pair_case))
            if signals.conditional is not None:
                proba = signals.conditional.predict_proba(np.hstack([history, vectors]))
                full = np.full((len(held), len(self.items)), 1e-6)
                full[:, signals.conditional.classes_] = np.maximum(proba, 1e-6)
                conditional = np.log(full[pair_case, pair_item])
            blocks += [conditional[:, None], history[pair_case], pair_item[:, None].astype(np.float64)]
        return np.hstack(blocks)


@dataclass
class _Cases:
    """Customers at a moment (their visible history and features) and the items to score for each."""

    positive_rows: List[np.ndarray] = field(default_factory=list)
    negative_rows: List[np.ndarray] = field(default_factory=list)
    strength_rows: List[np.ndarray] = field(default_factory=list)
    vectors: List[np.ndarray] = field(default_factory=list)
    pair_case: List[np.ndarray] = field(default_factory=list)
    pair_item: List[np.ndarray] = field(default_factory=list)
    labels: List[float] = field(default_factory=list)
    weights: List[float] = field(default_factory=list)

    def add(
        self, history: _History, vector: np.ndarray, items: np.ndarray, labels: Sequence[float], weight: float = 1.0
    ) -> None:
        case = len(self.vectors)
        self.positive_rows.append(history.positives)
        self.negative_rows.append(history.negatives)
        self.strength_rows.append(history.strengths)
        self.vectors.append(vector)
        self.pair_case.append(np.full(len(items), case, dtype=np.int64))
        self.pair_item.append(np.asarray(items, dtype=np.int64))
        self.labels.extend(labels)
        self.weights.extend([weight] * len(labels))

    def arrays(
        self, n_items: int, n_features: int
    ) -> Tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
        vectors = np.vstack(self.vectors) if n_features else np.zeros((len(self.vectors), 0))
        return (
            _rows_matrix(self.positive_rows, n_items),
            _rows_matrix(self.negative_rows, n_items),
            _rows_matrix(self.positive_rows, n_items, self.strength_rows),
            vectors,
            np.concatenate(self.pair_case),
            np.concatenate(self.pair_item),
        )


def _rows_matrix(
    rows: Sequence[np.ndarray], n_items: int, values: Optional[Sequence[np.ndarray]] = None
) -> sp.csr_matrix:
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    indices = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    data = np.concatenate(values) if values else np.ones(len(indices))
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), n_items))


_DENSE_GATHER = 4_000_000  # up to this many cells (a few hundred cases of 10,000 items), gather from a dense copy


def _gather(matrix: sp.spmatrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """matrix[rows[i], cols[i]] for every i. Scoring one customer gathers from a 1 × items row, where scipy's
    sparse fancy indexing costs more than the row itself; the values are the same either way."""
    if matrix.shape[0] * matrix.shape[1] <= _DENSE_GATHER:
        return np.asarray(matrix.toarray()[rows, cols], dtype=np.float64)
    return np.asarray(sp.csr_matrix(matrix)[rows, cols]).ravel()


_CONTROLLER: List[ThreadpoolController] = []


def _threads() -> ThreadpoolController:
    """One thread for OpenMP/BLAS while fitting and scoring: a single customer's trees predicted on several
    threads wait for each other whenever the cores are busy (10 ms a tree under load, 0.5 ms on one thread).
    The controller scans the loaded libraries once; limiting through it afterwards is cheap."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def _dense(array: object) -> np.ndarray:
    """implicit returns numpy arrays on CPU and its own matrices on GPU; we only run on CPU."""
    return np.asarray(array.to_numpy() if hasattr(array, "to_numpy") else array, dtype=np.float64)


def _feature_width(features: Mapping[Customer, np.ndarray]) -> int:
    widths = {v.shape for v in features.values()}
    if len(widths) > 1 or any(len(w) != 1 for w in widths):
        raise ValueError(f"customer features must be vectors of one length, got shapes {sorted(widths)}")
    return next(iter(widths))[0] if widths else 0


def _histories(events: Sequence[Feedback], item_index: Mapping[Item, int]) -> Dict[Customer, _History]:
    """Per customer: positives with their strength (the largest given), and dismissals of items the customer never
    took (a held item stays held)."""
    positive: Dict[Customer, Dict[int, float]] = {}
    negative: Dict[Customer, set] = {}
    for event in events:
        held = positive.setdefault(event.customer, {})
        index = item_index[event.item]
        if event.positive:
            if not event.strength > 0:
                raise ValueError(f"a positive's strength must be above 0, got {event.strength!r}")
            held[index] = max(held.get(index, 0.0), float(event.strength))
        else:
            negative.setdefault(event.customer, set()).add(index)
    histories = {}
    for c, p in positive.items():
        items = np.array(sorted(p), dtype=np.int64)
        histories[c] = _History(
            items,
            np.array(sorted(negative.get(c, set()) - set(p)), dtype=np.int64),
            np.array([p[i] for i in items], dtype=np.float64),
        )
    return histories


def _matrices(
    customers: Sequence[Customer], histories: Mapping[Customer, _History], n_items: int
) -> Tuple[sp.csr_matrix, sp.csr_matrix]:
    def matrix(pick: str) -> sp.csr_matrix:
        rows = [np.full(len(getattr(histories[c], pick)), r) for r, c in enumerate(customers)]
        cols = [getattr(histories[c], pick) for c in customers]
        r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        k = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        return sp.csr_matrix((np.ones(len(r)), (r, k)), shape=(len(customers), n_items))

    return matrix("positives"), matrix("negatives")
