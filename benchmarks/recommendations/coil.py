"""`python -m benchmarks.recommendations.coil`: Coverline's ranker on CoIL 2000 insurance products.

    .venv/bin/python -m benchmarks.recommendations.coil                    # ~2-4 min on 2 shared cores
    .venv/bin/python -m benchmarks.recommendations.coil --results /tmp/r   # somewhere else

(a) Next product: customers holding ≥ 2 of the 21 products, 5 folds by customer; in each test customer one held
product (seeded draw) is hidden and the products the customer does not hold, plus the hidden one, are ranked.
HR@3 and NDCG@3 (scikit-learn's ``top_k_accuracy_score`` and ``ndcg_score``) of our ranker, most-popular
(rectools ``PopularModel``) and item-kNN (rectools over implicit's ``CosineRecommender``); again with fire, car
and private third party (the three dominant products) neither hidden nor ranked. Mean ± std over folds.
(b) CARAVAN propensity on a fixed hold-out of 1,000 customers (``default_rng(2000)`` permutation; and ISLR's first
1,000 rows): buyers in the top 20 % and AUC (``roc_auc_score``), our ranker beside logistic regression.
Data: $COVERLINE_SHARED_DATA/coil2000_caravan (default ../shared/data); research use only, never shipped.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
import sklearn
from implicit.nearest_neighbours import CosineRecommender
from rectools import Columns
from rectools.dataset import Dataset
from rectools.models import ImplicitItemKNNWrapperModel, PopularModel
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ndcg_score, roc_auc_score, top_k_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from benchmarks.recommendations import coil_data, coil_report
from benchmarks.recommendations.coil_data import DOMINANT, PRODUCTS, Coil, HiddenCase
from recommendations.ranking import Feedback, Ranker, RankerConfig

RESULTS = coil_data.ROOT / "benchmarks" / "results"
K = 3
FOLDS = 5
SEED = 2000
CARAVAN = "CARAVAN"
MODELS = ("coverline", "most_popular", "item_knn")
# Scores handed to the metrics: rank r (0 best) → K_MAX - r; products a model did not rank get 0.
K_MAX = 100.0
# Our ranker's settings here, fixed before the outer test folds were scored (see the report's "How each choice
# was made"): training cases keep ≥ 1 product visible, as the test cases (customers holding ≥ 2) do.
NEXT_PRODUCT_CONFIG = {
    "min_history": 1,
    "max_iter": 80,
    "learning_rate": 0.05,
    "max_leaf_nodes": 7,
    "l2_regularization": 5.0,
}
# How much of each held product the ranker is told a customer holds (history_strength): None (held or not),
# "contribution" or "policies"; chosen on inner folds (coil_inner.py), see CHOICES.
HISTORY_STRENGTH: Optional[str] = None
# CARAVAN is scored for every hold-out customer, also those holding no other product: no minimum history.
CARAVAN_CONFIG = {"min_history": 0}

Scorer = Callable[[Sequence[HiddenCase]], np.ndarray]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=coil_data.ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ---- models ----------------------------------------------------------------------------------------------------


def customer_id(row: int) -> str:
    return f"c{row}"


def feedback(
    held: np.ndarray, rows: Sequence[int], products: Sequence[str], strength: Optional[np.ndarray] = None
) -> List[Feedback]:
    return [
        Feedback(customer_id(r), products[j], strength=1.0 if strength is None else float(strength[r, j]))
        for r in rows
        for j in np.flatnonzero(held[r])
    ]


def history_strength(coil: Coil, kind: Optional[str]) -> Optional[np.ndarray]:
    """How much of each held product a customer holds, as the ranker's graded feedback: its contribution level
    (the P… column, at least 1 when held: a few customers hold a policy at level 0) or its number of policies."""
    if kind is None:
        return None
    if kind == "contribution":
        return np.where(coil.held, np.maximum(coil.contributions, 1), 0).astype(float)
    if kind == "policies":
        return coil.policies.astype(float)
    raise ValueError(f"unknown history strength {kind!r}")


def visible_history(
    case_row: int, visible: np.ndarray, products: Sequence[str], strength: Optional[np.ndarray]
) -> List[str] | Dict[str, float]:
    """What the ranker is told the customer holds: the visible products, with their strength when graded."""
    held = [products[j] for j in np.flatnonzero(visible)]
    if strength is None:
        return held
    return {products[j]: float(strength[case_row, j]) for j in np.flatnonzero(visible)}


def fit_ranker(
    coil: Coil,
    rows: np.ndarray,
    held: np.ndarray,
    products: Sequence[str],
    seed: int,
    settings: Dict[str, Any],
    exclude: Sequence[int] = (),
    strength: Optional[np.ndarray] = None,
) -> Ranker:
    """Products in ``exclude`` stay history only: the ranker is trained to choose among the others, as asked."""
    features = {customer_id(r): coil.demographics[r].astype(float) for r in rows}
    rankable = [p for j, p in enumerate(products) if j not in exclude]
    return Ranker(RankerConfig(seed=seed, **settings)).fit(
        feedback(held, rows, products, strength), features, items=products, rankable=rankable
    )


def ours(
    coil: Coil,
    train: np.ndarray,
    seed: int,
    exclude: Sequence[int] = (),
    settings: Optional[Dict[str, Any]] = None,
    strength_kind: Optional[str] = HISTORY_STRENGTH,
) -> Scorer:
    """A ranker per variant, fitted on the training folds' hide-one cases of that variant."""
    products = list(PRODUCTS)
    strength = history_strength(coil, strength_kind)
    config = NEXT_PRODUCT_CONFIG if settings is None else settings
    ranker = fit_ranker(coil, train, coil.held, products, seed, config, exclude, strength)

    def score(cases: Sequence[HiddenCase]) -> np.ndarray:
        out = np.zeros((len(cases), len(products)))
        for i, case in enumerate(cases):
            candidates = [products[j] for j in case.candidates]
            out[i, case.candidates] = ranker.score(
                None,
                candidates,
                positives=visible_history(case.row, case.visible, products, strength),
                features=coil.demographics[case.row].astype(float),
            )
            out[i, case.candidates] += 2.0  # above every product that is not a candidate
        return out

    return score


def rectools_dataset(coil: Coil, train: np.ndarray, cases: Sequence[HiddenCase]) -> Dataset:
    """Training customers with everything they hold, test customers with what they still show (not the hidden)."""
    pairs = [(customer_id(r), j) for r in train for j in np.flatnonzero(coil.held[r])]
    pairs += [(customer_id(c.row), j) for c in cases for j in np.flatnonzero(c.visible)]
    frame = pd.DataFrame(pairs, columns=[Columns.User, Columns.Item])
    frame[Columns.Weight] = 1.0
    frame[Columns.Datetime] = pd.Timestamp("2000-01-01")
    return Dataset.construct(frame)


def library_model(name: str, seed: int) -> Any:
    if name == "most_popular":
        return PopularModel(popularity="n_users")
    return ImplicitItemKNNWrapperModel(CosineRecommender(K=len(PRODUCTS), num_threads=1))


def library(name: str, coil: Coil, train: np.ndarray, seed: int) -> Scorer:
    def score(cases: Sequence[HiddenCase]) -> np.ndarray:
        dataset = rectools_dataset(coil, train, cases)
        model = library_model(name, seed).fit(dataset)
        allowed = sorted({int(j) for c in cases for j in c.candidates})
        recos = model.recommend(
            [customer_id(c.row) for c in cases],
            dataset,
            k=len(PRODUCTS),
            filter_viewed=True,
            items_to_recommend=allowed,
        )
        ranks = {
            (u, i): r for u, i, r in zip(recos[Columns.User], recos[Columns.Item], recos[Columns.Rank], strict=True)
        }
        out = np.zeros((len(cases), len(PRODUCTS)))
        for n, case in enumerate(cases):
            for j in case.candidates:
                rank = ranks.get((customer_id(case.row), int(j)))
                out[n, j] = 2.0 + (K_MAX - rank if rank is not None else 0.0)
        return out

    return score


# ---- metrics ---------------------------------------------------------------------------------------------------


def metrics(cases: Sequence[HiddenCase], scores: np.ndarray) -> Dict[str, float]:
    """HR@3 and NDCG@3 with one relevant product per case; products outside the candidates score lowest."""
    hidden = np.array([c.hidden for c in cases])
    relevance = np.zeros_like(scores)
    relevance[np.arange(len(cases)), hidden] = 1.0
    labels = np.arange(scores.shape[1])
    return {
        "hr@3": float(top_k_accuracy_score(hidden, scores, k=K, labels=labels)),
        "ndcg@3": float(ndcg_score(relevance, scores, k=K)),
    }


def next_product(coil: Coil) -> Dict[str, Any]:
    dominant = tuple(list(PRODUCTS).index(code) for code in DOMINANT)
    variants = {"all": (), "without_dominant": dominant}
    folds = coil_data.customer_folds(len(coil.caravan), FOLDS, SEED)
    table: Dict[str, Any] = {v: {m: [] for m in MODELS} for v in variants}
    cases_per_fold: Dict[str, List[int]] = {v: [] for v in variants}
    hidden_counts: Dict[str, Dict[str, int]] = {v: {} for v in variants}
    seconds: Dict[str, float] = {m: 0.0 for m in MODELS}
    for fold, (train, test) in enumerate(folds):
        for variant, exclude in variants.items():
            scorers = {}
            for name in MODELS:
                began = time.perf_counter()
                if name == "coverline":
                    scorers[name] = ours(coil, train, SEED + fold, exclude)
                else:
                    scorers[name] = library(name, coil, train, SEED)
                seconds[name] += time.perf_counter() - began
            cases = coil_data.hide_one(coil.held, test, SEED + fold, exclude=exclude)
            cases_per_fold[variant].append(len(cases))
            for case in cases:
                code = list(PRODUCTS)[case.hidden]
                hidden_counts[variant][code] = hidden_counts[variant].get(code, 0) + 1
            for name in MODELS:
                began = time.perf_counter()
                result = metrics(cases, scorers[name](cases))
                seconds[name] += time.perf_counter() - began
                table[variant][name].append(result)
                log(f"  fold {fold + 1} {variant} {name}: HR@3 {result['hr@3']:.3f} NDCG@3 {result['ndcg@3']:.3f}")
    summary = {
        variant: {
            name: {
                "folds": folds_,
                **{
                    f"{metric}_{stat}": float(fn([f[metric] for f in folds_]))
                    for metric in ("hr@3", "ndcg@3")
                    for stat, fn in (("mean", np.mean), ("std", np.std))
                },
            }
            for name, folds_ in models.items()
        }
        for variant, models in table.items()
    }
    for variant in variants:
        summary[variant]["cases_per_fold"] = cases_per_fold[variant]
        summary[variant]["hidden_products"] = dict(sorted(hidden_counts[variant].items(), key=lambda kv: -kv[1]))
        summary[variant]["verdict"] = verdict(summary[variant])
    summary["seconds"] = seconds
    return summary


def verdict(variant: Dict[str, Any]) -> Dict[str, Any]:
    """The headline (strict) rule: ours beats a baseline beyond the spread when its mean NDCG@3 minus its std is
    above the baseline's mean plus the baseline's std. Beside it the paired view, since every model is scored on
    the same folds and cases: the per-fold difference ours − baseline, its mean and std, and whether every fold
    is positive. The paired view is reported, never used to turn a FAIL into a PASS."""
    ours_ = variant["coverline"]
    out: Dict[str, Any] = {}
    for name in ("most_popular", "item_knn"):
        base = variant[name]
        per_fold = [o["ndcg@3"] - b["ndcg@3"] for o, b in zip(ours_["folds"], base["folds"], strict=True)]
        out[name] = {
            "margin": ours_["ndcg@3_mean"] - base["ndcg@3_mean"],
            "beyond_spread": ours_["ndcg@3_mean"] - ours_["ndcg@3_std"] > base["ndcg@3_mean"] + base["ndcg@3_std"],
            "wins_every_fold": all(d > 0 for d in per_fold),
            "per_fold_difference": per_fold,
            "paired_mean": float(np.mean(per_fold)),
            "paired_std": float(np.std(per_fold)),
        }
    return out


# How each setting of our ranker was chosen; printed in the report beside the figures.
CHOICES = [
    "### How each choice was made",
    "",
    "- Fixed by the protocol before any run: the ranker is trained on hide-one cases built like the test cases "
    "(customers keeping ≥ 1 product visible: `min_history=1`; one hidden product per customer in weight); "
    "in the dominant-excluded variant a separate ranker is fitted per fold whose training cases hide and rank only "
    "the 18 other products (`rankable`), with fire, car and third party kept as history. Stacked signals "
    "(item-kNN similarity, ALS affinity, the conditional logistic model's log-probability) for a training "
    "customer come from models fitted on the other half of the training customers, never on that customer.",
    "- Chosen by inner cross-validation inside the training data only: the conditional model and the per-item "
    "history columns, and the gradient-boosting settings (`max_iter=80, learning_rate=0.05, max_leaf_nodes=7, "
    "l2_regularization=5.0` against the previous `150, 0.08, 15, 1.0`; `conditional_c=0.1` against 0.03) were "
    "compared on 3 inner folds of outer fold 1's training customers (their own hide-one cases, seeds 100-102). "
    "The stronger regularisation won the dominant-excluded inner folds (0.506 and 0.511 against 0.454 and 0.493) "
    "and tied on all products; the third inner fold of that comparison was not finished before the time limit. "
    "Caveat: outer fold 1's training customers are the test customers of folds 2-5, though no outer test metric "
    "was looked at while choosing. The outer test folds were scored once, with these settings.",
    "- CARAVAN propensity keeps `min_history=0` (hold-out customers are scored whatever they hold) and the "
    "ranker's default boosting settings; not tuned.",
]


# ---- CARAVAN propensity ----------------------------------------------------------------------------------------


def caravan_scores_ours(coil: Coil, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    products = [*PRODUCTS, CARAVAN]
    held = np.column_stack([coil.held, coil.caravan])
    ranker = fit_ranker(coil, train, held, products, SEED, CARAVAN_CONFIG)
    return np.array(
        [
            ranker.score(
                None,
                [CARAVAN],
                positives=[products[j] for j in np.flatnonzero(coil.held[r])],
                features=coil.demographics[r].astype(float),
            )[0]
            for r in test
        ]
    )


def caravan_scores_logistic(coil: Coil, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Logistic regression on every column (demographics, contributions, policy counts), standardised."""
    x = np.hstack([coil.demographics, coil.contributions, coil.policies]).astype(float)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    model.fit(x[train], coil.caravan[train])
    return model.predict_proba(x[test])[:, 1]


def propensity(coil: Coil) -> Dict[str, Any]:
    splits = {
        "seeded_1000": coil_data.caravan_holdout(len(coil.caravan), 1000, SEED),
        "islr_first_1000": coil_data.islr_holdout(len(coil.caravan), 1000),
    }
    out: Dict[str, Any] = {}
    for split, (train, test) in splits.items():
        truth = coil.caravan[test]
        top = int(round(0.2 * len(test)))
        out[split] = {"customers": len(test), "buyers": int(truth.sum()), "top": top}
        for name, fn in (("coverline", caravan_scores_ours), ("logistic_regression", caravan_scores_logistic)):
            scores = fn(coil, train, test)
            order = np.argsort(-scores, kind="stable")[:top]
            out[split][name] = {
                "buyers_in_top_20pct": int(truth[order].sum()),
                "auc": float(roc_auc_score(truth, scores)),
            }
            log(f"  CARAVAN {split} {name}: {out[split][name]}")
    return out


# ---- speed -----------------------------------------------------------------------------------------------------


def scoring_latency(coil: Coil) -> Dict[str, float]:
    """One customer's 21 products scored at a time, as the action would: p50/p95 over every customer of a fold."""
    train, test = coil_data.customer_folds(len(coil.caravan), FOLDS, SEED)[0]
    products = list(PRODUCTS)
    ranker = fit_ranker(coil, train, coil.held, products, SEED, NEXT_PRODUCT_CONFIG)
    times = []
    for r in test:
        began = time.perf_counter()
        ranker.score(
            None,
            products,
            positives=[products[j] for j in np.flatnonzero(coil.held[r])],
            features=coil.demographics[r].astype(float),
        )
        times.append((time.perf_counter() - began) * 1000)
    return {"calls": len(times), "p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95))}


def main(argv: List[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for recommendations_coil.{json,md,png}")
    args = parser.parse_args(argv)
    log(f"loading {coil_data.data_file()}")
    coil = coil_data.load()
    log("1/3 next product: 5 folds by customer, three models, with and without the dominant products")
    ranking = next_product(coil)
    log("2/3 CARAVAN propensity on the fixed hold-outs")
    caravan = propensity(coil)
    log("3/3 scoring latency")
    latency = scoring_latency(coil)
    import implicit
    import rectools

    results = {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python -m benchmarks.recommendations.coil",
            "commit": commit(),
            "python": platform.python_version(),
            "versions": {
                "numpy": np.__version__,
                "scikit-learn": sklearn.__version__,
                "implicit": implicit.__version__,
                "rectools": rectools.__version__,
            },
            "data": str(coil_data.data_file()),
            "customers": len(coil.caravan),
            "customers_with_2_or_more": int((coil.held.sum(axis=1) >= 2).sum()),
            "products": {
                code: {"name": name, "holders": int(coil.held[:, i].sum())}
                for i, (code, name) in enumerate(PRODUCTS.items())
            },
            "dominant": list(DOMINANT),
            "folds": FOLDS,
            "seed": SEED,
            "ranker_config": {**RankerConfig().__dict__, **NEXT_PRODUCT_CONFIG},
            "caravan_ranker_config": {**RankerConfig().__dict__, **CARAVAN_CONFIG},
        },
        "next_product": ranking,
        "caravan": caravan,
        "latency": latency,
        "choices": CHOICES,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "recommendations_coil.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    coil_report.write(results, args.results)
    log(f"wrote {args.results / 'recommendations_coil.json'}, .md and .png")


if __name__ == "__main__":
    main()
