"""One recommendation as the action makes it, with 10,000 items and 100,000 customers (issue 16: p95 ≤ 30 ms).

    nice -n 10 .venv/bin/python -m benchmarks.recommendations.latency                 # fills SQLite, then measures
    nice -n 10 .venv/bin/python -m benchmarks.recommendations.latency --db /tmp/r.db  # keep the file; reuse it

A throwaway SQLite file, migrated (so with migration 0015's indexes on policies.customer_id, claims.policy_id and
quotes.conversation_id, and 0017's on content_items.updated_at for the library cache's change check), filled by
benchmarks/recommendations/latency_data.py (100,000 customers, ~200,000 policies, claims, quotes, one conversation
each with customer messages and bot replies, a fifth anonymous, escalations, 10,000 content items, 300,000
impressions, 60,000 opens and dismissals). No ANALYZE: nothing in Coverline runs it, so the planner works as it
does on a real deployment's file.

Timed: `recommend_for_conversation(session, conversation, moment, k=3)` inside `session_scope()`, exactly the call
`actions/recommend.py` makes, for random conversations and moments, after a warm-up that loads the encoder, reads
the library and embeds it (once per process in the action server too). The clock passed as `now` advances with
real time, so the popularity prior is re-read once a minute as in the server. Every call embeds its question
(the kept question vectors are forgotten before each call: a new customer's words are new), with the recommender's
own encoder (`recommendation_encoder()`: MiniLM with int8 linear layers run as a TorchScript trace, one thread, a
separate instance from the retrieval answerer's float one).

Only this cold mode is measured. A "warm" mode (earlier questions embedded in earlier turns) would matter only if
the recommender kept a vector per message; it embeds the last three questions joined into one text, which a new
message changes, so nothing from an earlier turn is reused except the same text recommended twice in one turn.
Keeping per-message vectors was measured and not adopted: benchmarks/recommendations/encoder_cost.py (every call
embedding all three costs more than the joined text; embedding only the newest, a quarter to a third less) and
benchmarks/results/recommendations_encoder.md.

The process's native thread pools (numpy's OpenBLAS, OpenMP) are capped as the action server caps them
(`actions.server.limit_native_threads`, ACTIONS_NATIVE_THREADS, 1 by default; `--native-threads` to compare):
left at one thread per core, OpenBLAS's idle worker spun after every similarity product and the process burned
about twice the CPU time of the work. The report gives the CPU time per call of all the process's threads, and
how much of it was not the calling thread's (spinning pools show there).

Side by side, on the same (conversation, moment) draws, taking turns at going first: **Coverline without the learned
ranker** (no stored model served: what the learned candidates and term cost), **Coverline with the eager encoder**
(the int8 MiniLM's layers called from Python instead of its TorchScript trace, the same vectors: what the trace
saves), and **most-popular**, the same
profile read, library, prior and constraints, then the most-opened permitted items: what a recommendation costs
without candidates, the encoder, similarity and ranking. The learned ranker is fitted on the book's opens and
dismissals before measuring (`python -m recommendations learn`'s code), once per database file.

A second pass times each stage with wrappers around the recommender's own functions (benchmark-side, nothing in
the shipped code): profile (and each of its queries), library and prior caches, constraints, rule candidates,
the question's embedding, similarity, ranking, and the session.

The 10,000 items repeat the demo library's 97 texts with new ids: the warm-up embeds 97 texts instead of 10,000
(minutes on this machine); every call still masks, scores and ranks all 10,000 rows.

Writes benchmarks/results/recommendations_latency.{json,md,png}.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from sqlalchemy import func, select, text
from threadpoolctl import threadpool_info

import recommendations.candidates as candidates_module
import recommendations.learned as learned_module
import recommendations.profile as profile_module
import recommendations.recommender as recommender_module
from actions.server import limit_native_threads
from benchmarks.recommendations.latency_data import Book, Sizes, conversation_id, fill, is_verified
from recommendations.constraints import permitted, room_today
from recommendations.items import Library
from recommendations.learned import learn
from recommendations.profile import load_profile
from recommendations.recommender import Prior, popularity_prior, recommend_for_conversation, shared_item_vectors
from recommendations.vocabulary import MOMENTS
from settings import current
from storage.engine import dispose_engines, session_scope
from storage.migrate import upgrade
from storage.models import Customer, RecommenderModel, utcnow

RESULTS = Path(__file__).resolve().parents[1] / "results"
NAME = "recommendations_latency"
TARGET_MS = 30.0
K = 3  # actions/recommend.py OFFERED
CALLS, BREAKDOWN_CALLS, WARM_UP = 1000, 300, 20
SEED = 7
TABLES = (
    "customers",
    "policies",
    "claims",
    "quotes",
    "conversations",
    "customer_verifications",
    "messages",
    "escalations",
    "content_items",
    "content_impressions",
    "content_events",
)
RECOMMENDERS = ("coverline", "coverline_unlearned", "coverline_eager", "most_popular")
LABELS = {
    "coverline": "Coverline (recommend_for_conversation)",
    "coverline_unlearned": "Coverline without the learned ranker",
    "coverline_eager": "Coverline with the eager (untraced) encoder",
    "most_popular": "most-popular (same reads)",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "recommendations", "benchmarks/recommendations"],
            capture_output=True,
            text=True,
        ).stdout
        return out.strip() + (" (+ uncommitted changes)" if dirty.strip() else "")
    except OSError:
        return "unknown"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.machine()}, {os.cpu_count()} CPUs ({model}), Python {platform.python_version()}"


def load_average() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


# -- the two recommenders, as one call each --------------------------------------------------------------------


def coverline(url: str, conversation: str, moment: str, now: datetime) -> int:
    """The action's call (actions/recommend.py offer_content, without rendering and recording the impressions)."""
    with session_scope(url) as session:
        return len(recommend_for_conversation(session, conversation, moment, k=K, now=now))


def coverline_unlearned(url: str, conversation: str, moment: str, now: datetime) -> int:
    """The same call with no stored ranker served (as before the recommender learned, or with too little
    feedback): what the learned candidates and term cost, side by side in the same draws."""
    served = recommender_module.served_model
    recommender_module.served_model = lambda session, now=None: None  # type: ignore[assignment]
    try:
        return coverline(url, conversation, moment, now)
    finally:
        recommender_module.served_model = served  # type: ignore[assignment]


_eager_vectors: List[candidates_module.ItemVectors] = []


def coverline_eager(url: str, conversation: str, moment: str, now: datetime) -> int:
    """The same call with the int8 encoder's eager forward (Python calling each layer) instead of its TorchScript
    trace: what the trace saves, side by side in the same draws. Same vectors (retrieval/encoder.py checks)."""
    if not _eager_vectors:
        from retrieval.encoder import Encoder

        _eager_vectors.append(candidates_module.ItemVectors(Encoder(threads=1, int8=True)))
    shared = recommender_module.shared_item_vectors
    recommender_module.shared_item_vectors = lambda encoder=None: _eager_vectors[0]  # type: ignore[assignment]
    try:
        return coverline(url, conversation, moment, now)
    finally:
        recommender_module.shared_item_vectors = shared  # type: ignore[assignment]


_popular_orders: Dict[Tuple[int, int], np.ndarray] = {}


def _popular_order(prior: Prior, library: Library) -> np.ndarray:
    """The most-opened order, worked out once per prior and library snapshot (as a popularity service would)."""
    key = (id(prior), id(library))
    if key not in _popular_orders:
        _popular_orders.clear()
        _popular_orders[key] = prior.order(library)
    return _popular_orders[key]


def most_popular(url: str, conversation: str, moment: str, now: datetime) -> int:
    """Baseline: the same profile read, library, prior and constraints; then the most-opened permitted items."""
    with session_scope(url) as session:
        profile = load_profile(session, conversation, now)
        library = recommender_module._library(session)
        prior = popularity_prior(session, now)
        room = room_today(profile, K)
        if room == 0:
            return 0
        order = _popular_order(prior, library)
        allowed = order[permitted(library, profile, now.date())[order]]
        return len([library.items[p] for p in allowed[:room]])


CALLERS: Dict[str, Callable[[str, str, str, datetime], int]] = {
    "coverline": coverline,
    "coverline_unlearned": coverline_unlearned,
    "coverline_eager": coverline_eager,
    "most_popular": most_popular,
}


# -- timing ------------------------------------------------------------------------------------------------------


@dataclass
class Call:
    recommender: str
    moment: str
    verified: bool
    ms: float
    cpu_ms: float  # every thread of the process
    thread_cpu_ms: float  # the calling thread's: the rest is pools' workers (spinning, when they are)
    returned: int
    stages: Dict[str, float] = field(default_factory=dict)


class Clock:
    """`now` for each call: the book's time plus the real time since measuring began (the prior's one-minute
    cache then expires as often as in the server)."""

    def __init__(self, base: datetime) -> None:
        self.base, self.began = base, time.perf_counter()

    def now(self) -> datetime:
        return self.base + timedelta(seconds=time.perf_counter() - self.began)


def draws(book_conversations: Sequence[str], calls: int, seed: int) -> List[Tuple[int, str]]:
    rng = random.Random(seed)
    return [(rng.randrange(len(book_conversations)), rng.choice(MOMENTS)) for _ in range(calls)]


def timed(recommender: str, url: str, conversations: Sequence[str], number: int, moment: str, clock: Clock) -> Call:
    for vectors in (shared_item_vectors(), *_eager_vectors):
        if vectors is not None:
            vectors.forget_queries()  # every call embeds its question, as a new question in the action would
    began, began_cpu, began_thread = time.perf_counter(), time.process_time(), time.thread_time()
    returned = CALLERS[recommender](url, conversations[number], moment, clock.now())
    return Call(
        recommender,
        moment,
        is_verified(number + 1),
        (time.perf_counter() - began) * 1000,
        (time.process_time() - began_cpu) * 1000,
        (time.thread_time() - began_thread) * 1000,
        returned,
    )


def warm_up(url: str, conversations: Sequence[str], clock: Clock) -> float:
    """Encoder, library and its vectors, prior, SQLite page cache for the indexes: what a running server has."""
    began = time.perf_counter()
    for n in range(WARM_UP):
        for recommender in RECOMMENDERS:
            CALLERS[recommender](
                url, conversations[n * 997 % len(conversations)], MOMENTS[n % len(MOMENTS)], clock.now()
            )
    return time.perf_counter() - began


def measure(url: str, conversations: Sequence[str], clock: Clock, calls: int, seed: int) -> List[Call]:
    """Every recommender on the same draws, taking turns at going first, so the neighbours' load hits all."""
    results: List[Call] = []
    for n, (number, moment) in enumerate(draws(conversations, calls, seed)):
        turn = n % len(RECOMMENDERS)
        order = RECOMMENDERS[turn:] + RECOMMENDERS[:turn]
        for recommender in order:
            results.append(timed(recommender, url, conversations, number, moment, clock))
        if (n + 1) % 200 == 0:
            log(f"  {n + 1}/{calls} draws")
    return results


# -- where the time goes: wrappers around the recommender's own functions ---------------------------------------

STAGE_WRAPS: Tuple[Tuple[ModuleType, str, str], ...] = (
    (recommender_module, "load_profile", "load_profile"),
    (recommender_module, "_library", "library"),
    (recommender_module, "popularity_prior", "prior"),
    (recommender_module, "shared_item_vectors", "vectors"),
    (recommender_module, "recommend", "recommend"),
    (recommender_module, "permitted", "permitted"),
    (recommender_module, "room_today", "room_today"),
    (recommender_module, "diverse_top", "diverse_top"),
    (recommender_module, "rule_candidates", "rule_candidates"),  # the per-item rules, before 17e01aa
    (recommender_module, "rule_priorities", "rule_candidates"),  # the same rules as arrays, from 17e01aa on
    (recommender_module, "similarities", "similarities"),
    (candidates_module.ItemVectors, "query", "encode_question"),
    (recommender_module, "served_model", "learned_cache"),
    (learned_module.LearnedRanker, "candidates", "learned"),
    (learned_module.LearnedRanker, "scores", "learned"),
)
PROFILE_PARTS = (
    "verified_customer_id",
    "_customer_conversations",
    "_recent_messages",
    "_policies",
    "_claims",
    "_quotes",
    "_consented",
    "_open_complaint",
    "_event_slugs",
    "_shown_recently",
)
# exclusive stages shown in the report, from the inclusive timings above
STAGES = (
    "profile read (SQL)",
    "library + prior caches",
    "constraints",
    "rule candidates",
    "learned ranker (candidates + scores)",
    "question embedding (MiniLM)",
    "similarity (10,000 × 384)",
    "scoring + ordering",
    "session open/commit, other",
)


class Stopwatch:
    """Replaces functions with timed wrappers while active; the time per name adds up across one call."""

    def __init__(self) -> None:
        self.spent: Dict[str, float] = defaultdict(float)
        self._undo: List[Tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name, None)
        if original is None:  # a name another version of the recommender does not have
            return

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[label] += (time.perf_counter() - began) * 1000

        setattr(owner, name, wrapper)
        self._undo.append((owner, name, original))

    def __enter__(self) -> "Stopwatch":
        for owner, name, label in STAGE_WRAPS:
            self.wrap(owner, name, label)
        for name in PROFILE_PARTS:
            self.wrap(profile_module, name, f"profile:{name.lstrip('_')}")
        self.wrap(profile_module.Session, "get", "profile:conversation_row")
        return self

    def __exit__(self, *_: object) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()

    def take(self) -> Dict[str, float]:
        spent, self.spent = dict(self.spent), defaultdict(float)
        return spent


def exclusive_stages(spent: Dict[str, float], total: float) -> Dict[str, float]:
    def s(name: str) -> float:
        return spent.get(name, 0.0)

    constraints = s("permitted") + s("room_today") + s("diverse_top")
    stages = {
        "profile read (SQL)": s("load_profile"),
        "library + prior caches": s("library") + s("prior") + s("learned_cache"),
        "constraints": constraints,
        "rule candidates": s("rule_candidates"),
        "learned ranker (candidates + scores)": s("learned"),
        "question embedding (MiniLM)": s("encode_question"),
        "similarity (10,000 × 384)": s("similarities") - s("encode_question"),
        "scoring + ordering": s("recommend") - constraints - s("rule_candidates") - s("similarities") - s("learned"),
    }
    outer = s("load_profile") + s("library") + s("prior") + s("learned_cache") + s("vectors") + s("recommend")
    stages["session open/commit, other"] = total - outer
    stages.update({name: value for name, value in spent.items() if name.startswith("profile:")})
    return stages


def breakdown(url: str, conversations: Sequence[str], clock: Clock, calls: int, seed: int) -> List[Call]:
    found: List[Call] = []
    with Stopwatch() as stopwatch:
        for number, moment in draws(conversations, calls, seed):
            stopwatch.take()
            call = timed("coverline", url, conversations, number, moment, clock)
            call.stages = exclusive_stages(stopwatch.take(), call.ms)
            found.append(call)
    return found


def encoder_alone(repeats: int = 5) -> Dict[str, Any]:
    """The question embedding on its own (the recommender's encoder, one thread), wall-clock and CPU, over three
    of the book's questions joined as the recommender joins them, for the reader to compare."""
    from benchmarks.recommendations.latency_data import QUESTIONS

    vectors = shared_item_vectors()
    if vectors is None:
        return {}
    times, cpu = [], []
    for n in range(len(QUESTIONS) * repeats):
        text = " ".join(QUESTIONS[(n + i) % len(QUESTIONS)] for i in range(3))
        began, began_cpu = time.perf_counter(), time.process_time()
        vectors.encoder.encode([text])
        times.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    return {
        "encoder": getattr(vectors.encoder, "version", type(vectors.encoder).__name__),
        "p50_ms": percentile(times, 50),
        "p95_ms": percentile(times, 95),
        "cpu_p50_ms": percentile(cpu, 50),
        "cpu_p95_ms": percentile(cpu, 95),
    }


# -- summaries ---------------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def summary(calls: Sequence[Call]) -> Dict[str, Any]:
    ms = [c.ms for c in calls]
    cpu = [c.cpu_ms for c in calls]
    return {
        "calls": len(calls),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
        "mean_ms": float(np.mean(ms)) if ms else float("nan"),
        "cpu_p50_ms": percentile(cpu, 50),
        "cpu_p95_ms": percentile(cpu, 95),
        "cpu_p99_ms": percentile(cpu, 99),
        "cpu_other_threads_mean_ms": float(np.mean([c.cpu_ms - c.thread_cpu_ms for c in calls])) if calls else 0.0,
        "mean_items_returned": float(np.mean([c.returned for c in calls])) if calls else 0.0,
        "share_over_target": float(np.mean([m > TARGET_MS for m in ms])) if ms else 0.0,
    }


def summaries(calls: Sequence[Call]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for recommender in RECOMMENDERS:
        mine = [c for c in calls if c.recommender == recommender]
        out[recommender] = {
            "overall": summary(mine),
            "per_moment": {m: summary([c for c in mine if c.moment == m]) for m in MOMENTS},
            "verified": summary([c for c in mine if c.verified]),
            "anonymous": summary([c for c in mine if not c.verified]),
            "latencies_ms": [round(c.ms, 2) for c in mine],
            "moments": [c.moment for c in mine],
        }
    return out


def stage_summary(calls: Sequence[Call]) -> Dict[str, Dict[str, float]]:
    names = list(dict.fromkeys(name for call in calls for name in call.stages))
    return {
        name: {
            "mean_ms": float(np.mean([c.stages.get(name, 0.0) for c in calls])),
            "p50_ms": percentile([c.stages.get(name, 0.0) for c in calls], 50),
            "p95_ms": percentile([c.stages.get(name, 0.0) for c in calls], 95),
        }
        for name in names
    }


def thread_pools() -> List[str]:
    """The native thread pools loaded in this process and their threads, e.g. `openblas 1 (libopenblas64_p...)`."""
    return [
        f"{pool['internal_api']} {pool['num_threads']} ({Path(pool['filepath']).name})" for pool in threadpool_info()
    ]


def counts(url: str) -> Dict[str, int]:
    with session_scope(url, read_only=True) as session:
        return {t: int(session.execute(text(f"SELECT count(*) FROM {t}")).scalar()) for t in TABLES}


# -- report ------------------------------------------------------------------------------------------------------


def _row(label: str, s: Dict[str, Any]) -> str:
    return (
        f"| {label} | {s['calls']} | {s['p50_ms']:.1f} | **{s['p95_ms']:.1f}** | {s['p99_ms']:.1f} | "
        f"{s['cpu_p50_ms']:.1f} / {s['cpu_p95_ms']:.1f} | {100 * s['share_over_target']:.1f} % | "
        f"{s['mean_items_returned']:.2f} |"
    )


def _other_threads(recommender: Dict[str, Any]) -> str:
    """CPU per call of the threads other than the calling one (`-0.00` from rounding shown as 0.00)."""
    return f"{max(0.0, recommender['overall'].get('cpu_other_threads_mean_ms', float('nan'))):.2f}"


def _threads(count: Optional[int]) -> str:
    return "?" if count is None else f"{count} thread" + ("" if count == 1 else "s")


def markdown(results: Dict[str, Any]) -> str:
    ours, popular = results["coverline"], results["most_popular"]
    met = ours["overall"]["p95_ms"] <= TARGET_MS
    c = results["counts"]
    lines = [
        "# Recommendations: latency of one recommendation inside the action",
        "",
        f"Run {results['run_at']} on commit {results['commit']}; `{results['command']}`; {results['machine']}; "
        f"niceness {results['niceness']}; load average {results['load_average_start']} at the start, "
        f"{results['load_average_end']} at the end.",
        "",
        f"SQLite, migrated (0015's and 0017's indexes included), no ANALYZE: {c['customers']:,} customers, "
        f"{c['policies']:,} policies, {c['claims']:,} claims, {c['quotes']:,} quotes, {c['conversations']:,} "
        f"conversations ({c['customer_verifications']:,} verified), {c['messages']:,} messages, "
        f"{c['escalations']:,} open escalations, **{c['content_items']:,} content items**, "
        f"{c['content_impressions']:,} impressions, {c['content_events']:,} opens/dismissals"
        + (f"; filled in {results['fill_seconds']:.0f} s." if results.get("fill_seconds") else ".")
        + f" {results['draws']} random (conversation, moment) draws, each timed with every recommender, "
        f"taking turns at going first, after a {results['warm_up_seconds']:.1f} s warm-up ({WARM_UP} calls each: "
        "encoder loaded, library read and embedded). Every call embeds its question."
        + learned_sentence(results.get("learned_model")),
        "",
        f"Target: p95 ≤ {TARGET_MS:.0f} ms. **Coverline p95 {ours['overall']['p95_ms']:.1f} ms: "
        + ("met**." if met else "not met**."),
        "",
        "| recommender | calls | p50 ms | p95 ms | p99 ms | CPU per call p50 / p95 ms | over 30 ms | items |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        _row(LABELS["coverline"], ours["overall"]),
        _row(LABELS["coverline_unlearned"], results["coverline_unlearned"]["overall"]),
        *(
            [_row(LABELS["coverline_eager"], results["coverline_eager"]["overall"])]
            if "coverline_eager" in results
            else []
        ),
        _row(LABELS["most_popular"], popular["overall"]),
        _row("Coverline, verified customers", ours["verified"]),
        _row("Coverline, anonymous conversations", ours["anonymous"]),
        "",
        "Per moment (Coverline / most-popular, p50 and p95 ms):",
        "",
        "| moment | calls | Coverline p50 | Coverline p95 | most-popular p50 | most-popular p95 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for moment in MOMENTS:
        o, p = ours["per_moment"][moment], popular["per_moment"][moment]
        cells = (o["p50_ms"], o["p95_ms"], p["p50_ms"], p["p95_ms"])
        lines.append(f"| {moment} | {o['calls']} | " + " | ".join(f"{v:.1f}" for v in cells) + " |")
    stages = results["breakdown"]["stages"]
    lines += [
        "",
        f"Where the time goes ({results['breakdown']['calls']} more Coverline calls with timers around the "
        "recommender's own functions, benchmark-side; their p50 / p95 "
        f"{results['breakdown']['overall']['p50_ms']:.1f} / {results['breakdown']['overall']['p95_ms']:.1f} ms):",
        "",
        "| stage | mean ms | p50 ms | p95 ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in STAGES:
        s = stages[name]
        lines.append(f"| {name} | {s['mean_ms']:.2f} | {s['p50_ms']:.2f} | {s['p95_ms']:.2f} |")
    lines += [
        "",
        "The profile read, query by query:",
        "",
        "| profile part | mean ms | p95 ms |",
        "| --- | ---: | ---: |",
    ]
    for name, s in sorted(stages.items(), key=lambda kv: -kv[1]["mean_ms"]):
        if name.startswith("profile:"):
            lines.append(f"| {name.split(':', 1)[1]} | {s['mean_ms']:.2f} | {s['p95_ms']:.2f} |")
    encoder = results.get("encoder_alone") or {}
    if encoder:
        lines += [
            "",
            f"The encoder alone ({encoder.get('encoder', 'MiniLM')}, one thread, three questions joined): "
            f"p50 {encoder['p50_ms']:.1f} ms, p95 {encoder['p95_ms']:.1f} ms"
            + (
                f"; CPU p50 {encoder['cpu_p50_ms']:.1f} ms, p95 {encoder['cpu_p95_ms']:.1f} ms."
                if "cpu_p50_ms" in encoder
                else "."
            ),
        ]
    lines += [
        "",
        "Notes:",
        "- Wall-clock times include waiting for a core; the CPU time per call (all threads of the process) is "
        "the figure the neighbours' load moves least. Of it, threads other than the calling one: Coverline "
        f"{_other_threads(ours)} ms, most-popular {_other_threads(popular)} ms per call on average.",
        f"- Native thread pools capped at {_threads(results.get('native_threads'))} per pool, as the action server "
        "caps them (ACTIONS_NATIVE_THREADS, actions/server.py `limit_native_threads`): "
        + ("; ".join(results.get("thread_pools") or []) or "none loaded")
        + ".",
        "- Most-popular shares the profile read, library and prior caches and constraints with Coverline, so the "
        "gap between them is what candidates, the question's embedding, similarity and ranking cost.",
        "- The 10,000 items repeat the demo library's 97 texts with new ids and slugs: the warm-up embeds 97 "
        "texts, not 10,000; each call still masks, scores and ranks all 10,000 rows, and the rules' groups are "
        "~100 times the demo library's.",
        "- Not timed: rendering the carousel and recording the impressions (`render_recommendations`), which "
        "the action does after choosing.",
        "",
        f"![latency per moment]({NAME}.png)",
    ]
    extra = results.get("notes")
    if extra:
        lines += ["", *extra]
    return "\n".join(lines) + "\n"


def chart(results: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    positions, data, colours = [], [], []
    for n, moment in enumerate(MOMENTS):
        for offset, recommender, colour in (
            (-0.3, "coverline", "#2b6cb0"),
            (-0.1, "coverline_unlearned", "#90cdf4"),
            (0.1, "coverline_eager", "#d69e2e"),
            (0.3, "most_popular", "#a0aec0"),
        ):
            mine = results[recommender]
            data.append([ms for ms, m in zip(mine["latencies_ms"], mine["moments"], strict=True) if m == moment])
            positions.append(n + offset)
            colours.append(colour)
    boxes = left.boxplot(data, positions=positions, widths=0.18, whis=(5, 95), showfliers=False, patch_artist=True)
    for patch, colour in zip(boxes["boxes"], colours, strict=True):
        patch.set_facecolor(colour)
    left.axhline(TARGET_MS, color="#c53030", linestyle="--", linewidth=1)
    left.text(
        len(MOMENTS) - 0.5, TARGET_MS, f" p95 target {TARGET_MS:.0f} ms", color="#c53030", va="bottom", ha="right"
    )
    left.set_xticks(range(len(MOMENTS)))
    left.set_xticklabels(MOMENTS, fontsize=8)
    left.set_ylabel("ms per recommendation (box: p25-p75, whiskers: p5-p95)")
    left.set_title(
        "Per moment: Coverline (dark blue), no learned ranker (light blue), eager encoder (amber), most-popular (grey)",
        fontsize=9,
    )
    top = max(TARGET_MS * 1.3, max(max(d) for d in data if d) * 1.05) if any(data) else TARGET_MS * 1.3
    left.set_ylim(0, min(top, max(TARGET_MS * 3, results["coverline"]["overall"]["p99_ms"] * 1.2)))
    stages = results["breakdown"]["stages"]
    means = [stages[name]["mean_ms"] for name in STAGES]
    right.barh(range(len(STAGES)), means, color="#2b6cb0")
    right.set_yticks(range(len(STAGES)))
    right.set_yticklabels(STAGES, fontsize=8)
    right.invert_yaxis()
    right.set_xlabel("mean ms per call")
    right.set_title("Where a Coverline call spends its time")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- main --------------------------------------------------------------------------------------------------------


def prepare(path: Path, sizes: Sizes) -> Tuple[str, List[str], datetime, Optional[float]]:
    """The filled database (reused when the file exists), its conversations and its clock."""
    url = f"sqlite:///{path}"
    if path.exists():
        log(f"reusing {url}")
        upgrade(url)  # a file filled before the latest migration gets its indexes, as a deployment would
        with session_scope(url, read_only=True) as session:
            now = session.execute(select(func.max(Customer.created_at))).scalar()
            customers = int(session.execute(select(func.count(Customer.id))).scalar())
        return url, [conversation_id(n) for n in range(1, customers + 1)], now, None
    now = utcnow().replace(microsecond=0)
    log(f"filling {url}")
    began = time.perf_counter()
    upgrade(url)
    book: Book = fill(url, now, sizes)
    seconds = time.perf_counter() - began
    log(f"  filled in {seconds:.0f} s: {book.counts}")
    return url, book.conversations, now, seconds


def ensure_learned_model(url: str, now: datetime) -> Optional[Dict[str, Any]]:
    """The content ranker fitted on the book's opens and dismissals (`python -m recommendations learn`), as a
    running service has one, so every timed call scores its learned term and candidates; fitted once per file."""
    with session_scope(url) as session:
        row = session.scalars(select(RecommenderModel).order_by(RecommenderModel.id.desc()).limit(1)).first()
        if row is None:
            log("fitting the content ranker on the book's opens and dismissals")
            model_id = learn(session, now=now)
            row = session.get(RecommenderModel, model_id) if model_id is not None else None
        if row is None:
            return None
        return {
            "id": row.id,
            "events": row.events,
            "customers": row.customers,
            "items": row.items,
            "fit_seconds": row.seconds,
            "blob_mb": round(len(row.blob) / 2**20, 1),
        }


def learned_sentence(model: Optional[Dict[str, Any]]) -> str:
    if not model:
        return " No learned ranker (too little feedback): the learned term is zero."
    return (
        f" The learned ranker (`python -m recommendations learn`) was fitted on {model['events']:,} opens and "
        f"dismissals of {model['customers']:,} customers over {model['items']:,} items in {model['fit_seconds']:.0f} s "
        f"({model['blob_mb']} MB stored); every Coverline call scores its candidates and learned term."
    )


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", type=Path, help="keep the filled SQLite file here and reuse it when it exists")
    parser.add_argument("--calls", type=int, default=CALLS, help=f"timed draws, each recommender (default {CALLS})")
    parser.add_argument("--breakdown-calls", type=int, default=BREAKDOWN_CALLS, help="calls with stage timers")
    parser.add_argument("--customers", type=int, default=Sizes.customers, help="book size (smaller: a dry run)")
    parser.add_argument("--items", type=int, default=Sizes.items, help="library size (smaller: a dry run)")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"folder for {NAME}.{{json,md,png}}")
    parser.add_argument(
        "--native-threads",
        type=int,
        help="threads per native pool (BLAS, OpenMP); default: the action server's (ACTIONS_NATIVE_THREADS)",
    )
    args = parser.parse_args(argv)
    native_threads = args.native_threads or current().actions.native_threads
    limit_native_threads(native_threads)
    started = time.time()
    load_start = load_average()
    path = args.db or Path(tempfile.mkdtemp(prefix="coverline-reco-latency-")) / "latency.db"
    url, conversations, base, fill_seconds = prepare(path, Sizes(customers=args.customers, items=args.items))
    learned_model = ensure_learned_model(url, base)
    dispose_engines()
    clock = Clock(base)
    log("warming up")
    warm = warm_up(url, conversations, clock)
    pools = thread_pools()  # after the warm-up, which loads torch and its OpenMP
    log(f"measuring {args.calls} draws")
    calls = measure(url, conversations, clock, args.calls, SEED)
    log(f"breakdown: {args.breakdown_calls} calls")
    staged = breakdown(url, conversations, clock, args.breakdown_calls, SEED + 1)
    results: Dict[str, Any] = {
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "commit": commit(),
        "command": "python -m benchmarks.recommendations.latency" + ("" if not argv else " " + " ".join(argv)),
        "machine": machine(),
        "niceness": os.nice(0),
        "load_average_start": load_start,
        "target_p95_ms": TARGET_MS,
        "k": K,
        "native_threads": native_threads,
        "thread_pools": pools,
        "counts": counts(url),
        "fill_seconds": fill_seconds,
        "learned_model": learned_model,
        "warm_up_seconds": warm,
        "draws": args.calls,
        **summaries(calls),
        "breakdown": {"calls": len(staged), "overall": summary(staged), "stages": stage_summary(staged)},
        "encoder_alone": encoder_alone(),
    }
    results["load_average_end"] = load_average()
    results["met"] = results["coverline"]["overall"]["p95_ms"] <= TARGET_MS
    results["seconds"] = round(time.time() - started, 1)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{NAME}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.results / f"{NAME}.md").write_text(markdown(results))
    chart(results, args.results / f"{NAME}.png")
    log(markdown(results))
    dispose_engines()
    if args.db is None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
