"""Harbor judged set: the recommender against most-popular, NDCG@3 and HR@3 (issue 16 acceptance: NDCG@3 ≥
most-popular + 0.15).

    python -m benchmarks.recommendations.judged_benchmark

Writes benchmarks/results/recommendations_judged.{json,md,png}. The set is an acceptance test, never a tuning
set: the recommender's weights were fixed by reasoning (recommendations/recommender.py) before this ran.

- **ours**: `recommend()` on each case's profile and moment, on the case's day, over the demo library, with the
  bot's MiniLM encoder and a cold prior (the judged set has no opens to learn popularity from).
- **most-popular**: items ranked by how many *other* cases grade them (leave-one-out, so a case never votes
  for itself), with the same hard constraints applied (no dismissed, no marketing where forbidden, no held
  offer, valid dates), so the gap measures ranking, not rule-breaking.
NDCG@3 with graded relevance is scikit-learn's `ndcg_score`; HR@3 (a graded item in the top 3) is rectools'
`HitRate`. The spread is a bootstrap over cases (95 %).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np
import pandas as pd
from rectools import Columns
from rectools.metrics import HitRate
from sklearn.metrics import ndcg_score

from benchmarks.recommendations.judged import JudgedCase, Profile, load_judged
from recommendations.candidates import ItemVectors
from recommendations.constraints import allowed, marketing_allowed
from recommendations.items import LibraryItem, from_spec
from recommendations.profile import CustomerProfile
from recommendations.recommender import Prior, recommend, recommendation_encoder

K = 3
RESULTS = Path(__file__).resolve().parents[1] / "results"
MARGIN = 0.15
BOOTSTRAP = 2000


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def customer_profile(profile: Profile) -> CustomerProfile:
    """The judged profile as the recommender's own type (the same fields)."""
    return CustomerProfile(
        anonymous=profile.anonymous,
        policies=profile.policies,  # the judged set's parts are the recommender's own types
        claims=profile.claims,
        quotes=profile.quotes,
        recent_intents=profile.recent_intents,
        recent_questions=profile.recent_questions,
        sentiment=profile.sentiment,
        channel=profile.channel,
        marketing_consent=profile.marketing_consent,
        open_complaint=profile.open_complaint,
        dismissed=profile.dismissed,
        payment_overdue_days=profile.payment_overdue_days,
    )


def ours(cases: Sequence[JudgedCase], library: Sequence[LibraryItem], vectors: ItemVectors) -> List[List[str]]:
    lists = []
    for case in cases:
        found = recommend(customer_profile(case.profile), case.moment, library, K, case.day, vectors, Prior())
        lists.append([r.slug for r in found])
    return lists


def most_popular(
    cases: Sequence[JudgedCase], library: Sequence[LibraryItem], by_moment: bool = False
) -> List[List[str]]:
    """Leave-one-out popularity over the other cases (of the same moment when `by_moment`), constraints applied."""
    votes = {
        moment: Counter(slug for case in cases if not by_moment or case.moment == moment for slug in case.relevant)
        for moment in {case.moment for case in cases}
    }
    order = {item.slug: rank for rank, item in enumerate(library)}
    lists = []
    for case in cases:
        own = Counter(case.relevant.keys())
        counts = votes[case.moment]
        permitted = allowed(library, customer_profile(case.profile), case.day)
        ranked = sorted(permitted, key=lambda item: (-(counts[item.slug] - own[item.slug]), order[item.slug]))
        lists.append([item.slug for item in ranked[:K]])
    return lists


def per_case_ndcg(
    cases: Sequence[JudgedCase], lists: Sequence[List[str]], library: Sequence[LibraryItem]
) -> np.ndarray:
    slugs = [item.slug for item in library]
    values = []
    for case, top in zip(cases, lists, strict=True):
        truth = np.array([[case.relevant.get(slug, 0) for slug in slugs]], dtype=float)
        score = np.zeros((1, len(slugs)))
        for position, slug in enumerate(top):
            score[0, slugs.index(slug)] = K - position
        values.append(ndcg_score(truth, score, k=K))
    return np.array(values)


def hit_rate(cases: Sequence[JudgedCase], lists: Sequence[List[str]]) -> float:
    reco = pd.DataFrame(
        [(case.id, slug, rank) for case, top in zip(cases, lists, strict=True) for rank, slug in enumerate(top, 1)],
        columns=[Columns.User, Columns.Item, Columns.Rank],
    )
    truth = pd.DataFrame(
        [(case.id, slug) for case in cases for slug in case.relevant], columns=[Columns.User, Columns.Item]
    )
    hits = HitRate(k=K).calc(reco, truth)
    # rectools averages over the users that have recommendations; a case with an empty list is a miss
    return float(hits) * reco[Columns.User].nunique() / len(cases)


def bootstrap(values: np.ndarray, seed: int = 0) -> List[float]:
    rng = np.random.default_rng(seed)
    means = [values[rng.integers(0, len(values), len(values))].mean() for _ in range(BOOTSTRAP)]
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def violations(
    cases: Sequence[JudgedCase], lists: Sequence[List[str]], items: Dict[str, LibraryItem]
) -> Dict[str, int]:
    counts = Counter()
    for case, top in zip(cases, lists, strict=True):
        profile = customer_profile(case.profile)
        for slug in top:
            item = items[slug]
            counts["marketing_forbidden"] += item.marketing and not marketing_allowed(profile)
            counts["dismissed_repeat"] += slug in profile.dismissed
            counts["held_product_offer"] += item.offers_product in profile.held_products
            counts["outside_validity"] += not item.valid_on(case.day)
    return {
        name: int(counts[name])
        for name in ("marketing_forbidden", "dismissed_repeat", "held_product_offer", "outside_validity")
    }


def summarise(
    cases: Sequence[JudgedCase], lists: Sequence[List[str]], library: Sequence[LibraryItem]
) -> Dict[str, Any]:
    ndcg = per_case_ndcg(cases, lists, library)
    moments = sorted({case.moment for case in cases})
    return {
        "ndcg@3": float(ndcg.mean()),
        "ndcg@3_ci95": bootstrap(ndcg),
        "hr@3": hit_rate(cases, lists),
        "per_moment_ndcg@3": {
            m: float(np.mean([v for v, c in zip(ndcg, cases, strict=True) if c.moment == m])) for m in moments
        },
        "per_case_ndcg@3": {case.id: round(float(v), 4) for case, v in zip(cases, ndcg, strict=True)},
    }


def markdown(results: Dict[str, Any]) -> str:
    o, p, m = results["ours"], results["most_popular"], results["most_popular_by_moment"]
    lines = [
        "# Recommendations: the Harbor judged set",
        "",
        f"Run {results['run_at']} on commit {results['commit']}: {results['cases']} (profile, moment) cases, "
        f"{results['library_items']} library items, top {K}. `python -m benchmarks.recommendations.judged_benchmark`.",
        "The set is kept out of tuning: the recommender's weights were set by reasoning before its first run on "
        "this set and have not been changed after seeing a result.",
        "",
        "| recommender | NDCG@3 (95 % bootstrap) | HR@3 |",
        "| --- | ---: | ---: |",
        f"| **Coverline** (rules + MiniLM similarity + cold prior, constraints) | {o['ndcg@3']:.3f} "
        f"({o['ndcg@3_ci95'][0]:.3f}–{o['ndcg@3_ci95'][1]:.3f}) | {o['hr@3']:.3f} |",
        f"| most-popular (leave-one-out over the other cases, same constraints) | {p['ndcg@3']:.3f} "
        f"({p['ndcg@3_ci95'][0]:.3f}–{p['ndcg@3_ci95'][1]:.3f}) | {p['hr@3']:.3f} |",
        f"| most-popular per moment (a stronger baseline: the other cases of the same moment) | {m['ndcg@3']:.3f} "
        f"({m['ndcg@3_ci95'][0]:.3f}–{m['ndcg@3_ci95'][1]:.3f}) | {m['hr@3']:.3f} |",
        "",
        f"Margin: **{results['margin']:+.3f}** NDCG@3 (acceptance: ≥ +{MARGIN}): "
        f"**{'met' if results['accepted'] else 'NOT met'}**. Over most-popular per moment: "
        f"{results['margin_over_by_moment']:+.3f}.",
        "",
        "| moment | cases | Coverline NDCG@3 | most-popular NDCG@3 | most-popular per moment NDCG@3 |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for moment, value in o["per_moment_ndcg@3"].items():
        lines.append(
            f"| {moment} | {results['cases_per_moment'][moment]} | {value:.3f} | {p['per_moment_ndcg@3'][moment]:.3f} "
            f"| {m['per_moment_ndcg@3'][moment]:.3f} |"
        )
    v = results["constraint_violations_ours"]
    lines += [
        "",
        "Constraint violations in Coverline's top 3 over every case: "
        + ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in v.items())
        + ".",
        "",
        "NDCG@3 is scikit-learn's `ndcg_score` on the graded items (3/2/1); HR@3 is rectools' `HitRate` (a graded "
        "item in the top 3). Chart: recommendations_judged.png.",
    ]
    return "\n".join(lines) + "\n"


def chart(results: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    moments = list(results["ours"]["per_moment_ndcg@3"])
    labels = ["all", *moments]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(9, 4))
    series = (
        ("ours", "Coverline"),
        ("most_popular", "most-popular"),
        ("most_popular_by_moment", "most-popular per moment"),
    )
    for offset, (name, label) in zip((-0.27, 0.0, 0.27), series, strict=True):
        values = [results[name]["ndcg@3"], *(results[name]["per_moment_ndcg@3"][m] for m in moments)]
        ax.bar(x + offset, values, width=0.27, label=label)
    ax.set_xticks(x, labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("NDCG@3")
    ax.set_title(f"Harbor judged set ({results['cases']} cases): NDCG@3 by moment")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: List[str] | None = None) -> Dict[str, Any]:
    started = time.time()
    cases, specs = load_judged()
    library = [from_spec(spec, rank) for rank, spec in enumerate(specs.values())]
    by_slug = {item.slug: item for item in library}
    log(f"{len(cases)} cases, {len(library)} items")
    encoder = recommendation_encoder()  # the recommender's MiniLM, loaded as the action server loads it
    lists_ours = ours(cases, library, ItemVectors(encoder))
    lists_popular = most_popular(cases, library)
    lists_by_moment = most_popular(cases, library, by_moment=True)
    results: Dict[str, Any] = {
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "commit": commit(),
        "cases": len(cases),
        "library_items": len(library),
        "k": K,
        "cases_per_moment": dict(sorted(Counter(case.moment for case in cases).items())),
        "encoder": encoder.version,
        "ours": summarise(cases, lists_ours, library),
        "most_popular": summarise(cases, lists_popular, library),
        "most_popular_by_moment": summarise(cases, lists_by_moment, library),
        "constraint_violations_ours": violations(cases, lists_ours, by_slug),
        "recommended_ours": {case.id: top for case, top in zip(cases, lists_ours, strict=True)},
        "recommended_most_popular": {case.id: top for case, top in zip(cases, lists_popular, strict=True)},
        "python": platform.python_version(),
        "seconds": round(time.time() - started, 1),
    }
    results["margin"] = results["ours"]["ndcg@3"] - results["most_popular"]["ndcg@3"]
    results["margin_over_by_moment"] = results["ours"]["ndcg@3"] - results["most_popular_by_moment"]["ndcg@3"]
    results["accepted"] = results["margin"] >= MARGIN
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "recommendations_judged.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (RESULTS / "recommendations_judged.md").write_text(markdown(results))
    chart(results, RESULTS / "recommendations_judged.png")
    log(markdown(results))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
