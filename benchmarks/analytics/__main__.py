"""`python -m benchmarks.analytics`: every analytics query timed over ~1,000,000 messages on PostgreSQL.

    .venv/bin/python -m benchmarks.analytics              # ~10 min on 2 busy cores; CPU heavy
    .venv/bin/python -m benchmarks.analytics --repeats 2 --conversations 20000 --results /tmp/analytics-smoke

A throw-away database (never `test` or `postgres`) is created, migrated, filled by benchmarks/analytics/
generate.py, timed first as the migrations leave it (the main dashboard query only) and then with the
indexes proposed for analytics (every scenario), and dropped. Results: benchmarks/results/analytics.json
and .md. The target (issue 17) is p95 ≤ 300 ms per query.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

import analytics
from analytics import BusinessHours, Granularity, Metric, MetricFilter, Part
from benchmarks.analytics import generate
from storage.engine import dispose_engines
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
ADMIN_URL = os.environ.get("COVERLINE_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
DATABASE = "coverline_bench_analytics"
ZONE = "America/New_York"
HOURS = BusinessHours(ZONE, {**{d: (480, 1200) for d in range(5)}, 5: (540, 840)})
SLA = {1: 5, 2: 15, 3: 60}
AS_OF = datetime(2026, 11, 1, 12)
TARGET_MS = 300.0

Query = Callable[[Session, MetricFilter], Any]


def _local(*parts: int) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*parts, tzinfo=ZoneInfo(ZONE))


SCENARIOS: Dict[str, Callable[[], MetricFilter]] = {
    "30 days by day": lambda: MetricFilter(_local(2026, 10, 2), _local(2026, 11, 1), Granularity.DAY, ZONE),
    "7 days by hour": lambda: MetricFilter(_local(2026, 10, 25), _local(2026, 11, 1), Granularity.HOUR, ZONE),
    "92 days by week": lambda: MetricFilter(_local(2026, 8, 1), _local(2026, 11, 1), Granularity.WEEK, ZONE),
    "30 days, channel whatsapp": lambda: MetricFilter(
        _local(2026, 10, 2), _local(2026, 11, 1), Granularity.DAY, ZONE, channel="whatsapp"
    ),
    "30 days, product auto": lambda: MetricFilter(
        _local(2026, 10, 2), _local(2026, 11, 1), Granularity.DAY, ZONE, product="auto"
    ),
    "30 days, intent claim_status": lambda: MetricFilter(
        _local(2026, 10, 2), _local(2026, 11, 1), Granularity.DAY, ZONE, intent="claim_status"
    ),
}


def _drill(metric: Metric, part: Part = Part.ALL) -> Query:
    def query(db: Session, filt: MetricFilter) -> Any:
        bucket = filt.buckets[len(filt.buckets) // 2]
        return analytics.conversation_ids(db, metric, bucket, filt, part, sla_minutes=SLA, as_of=AS_OF)

    return query


QUERIES: Dict[str, Query] = {
    "conversations": lambda db, f: analytics.conversation_volume(db, f),
    "conversations by channel": lambda db, f: analytics.conversation_volume(db, f, by="channel"),
    "conversations by product": lambda db, f: analytics.conversation_volume(db, f, by="product"),
    "messages": lambda db, f: analytics.message_volume(db, f),
    "messages by intent": lambda db, f: analytics.message_volume(db, f, by="intent"),
    "containment": lambda db, f: analytics.containment(db, f),
    "bot resolution": lambda db, f: analytics.bot_resolution(db, f, as_of=AS_OF),
    "handoff rate by reason": lambda db, f: analytics.handoff_rate(db, f),
    "first response time": lambda db, f: analytics.first_response_time(db, f, as_of=AS_OF),
    "first response time, business hours": lambda db, f: analytics.first_response_time(db, f, HOURS, AS_OF),
    "reply time": lambda db, f: analytics.reply_time(db, f, as_of=AS_OF),
    "resolution time": lambda db, f: analytics.resolution_time(db, f, as_of=AS_OF),
    "SLA met": lambda db, f: analytics.sla_met(db, f, SLA, as_of=AS_OF),
    "CSAT": lambda db, f: analytics.csat(db, f),
    "fallback rate": lambda db, f: analytics.fallback_rate(db, f),
    "past-reply rate": lambda db, f: analytics.past_reply_rate(db, f),
    "past-reply 👍 rate": lambda db, f: analytics.past_reply_helpful_rate(db, f),
    "sentiment share": lambda db, f: analytics.sentiment_share(db, f),
    "drill-down: containment misses": _drill(Metric.CONTAINMENT, Part.MISSES),
    "drill-down: SLA misses": _drill(Metric.SLA, Part.MISSES),
    "drill-down: negative messages": _drill(Metric.SENTIMENT),
}


def percentile(samples: List[float], fraction: float) -> float:
    ordered = sorted(samples)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def timed(db: Session, query: Query, filt: MetricFilter, repeats: int) -> Dict[str, float]:
    query(db, filt)  # warm the cache: a dashboard asks the same question again and again
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        query(db, filt)
        samples.append((time.perf_counter() - started) * 1000)
        db.rollback()
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(percentile(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
    }


def measure(url: str, scenarios: List[str], repeats: int) -> Dict[str, Dict[str, Dict[str, float]]]:
    engine = create_engine(url, future=True)
    found: Dict[str, Dict[str, Dict[str, float]]] = {}
    with Session(engine, future=True) as db:
        for scenario in scenarios:
            filt = SCENARIOS[scenario]()
            found[scenario] = {}
            for name, query in QUERIES.items():
                found[scenario][name] = timed(db, query, filt, repeats)
                print(f"{scenario:32} {name:40} p95 {found[scenario][name]['p95_ms']:8.1f} ms", flush=True)
    engine.dispose()
    return found


def _admin(statement: str) -> None:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as connection:
        connection.exec_driver_sql(statement)
    admin.dispose()


def _drop() -> None:
    dispose_engines()
    _admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{DATABASE}' AND pid <> pg_backend_pid()"
    )
    _admin(f'DROP DATABASE IF EXISTS "{DATABASE}"')


def build(url: str, conversations: int) -> Tuple[Dict[str, int], float]:
    _drop()
    _admin(f'CREATE DATABASE "{DATABASE}"')
    upgrade(url)
    dispose_engines()  # the migration's pooled connection would keep the database from being dropped
    statements = generate.statements(conversations)
    started = time.perf_counter()
    engine = create_engine(url, future=True)
    with engine.begin() as connection:
        generate.run(connection, statements)
        sizes = generate.counts(connection)
    generate.vacuum(engine)
    engine.dispose()
    return sizes, time.perf_counter() - started


def add_indexes(url: str) -> float:
    started = time.perf_counter()
    engine = create_engine(url, future=True)
    with engine.begin() as connection:
        generate.run(connection, generate.INDEXES)
    generate.vacuum(engine)
    engine.dispose()
    return time.perf_counter() - started


def _cell(figures: Dict[str, float]) -> str:
    p95 = figures["p95_ms"]
    shown = f"{figures['p50_ms']} / {p95}"
    return f"**{shown}**" if p95 > TARGET_MS else shown


def markdown(result: Dict[str, Any]) -> str:
    sizes = result["sizes"]
    lines = [
        f"# Analytics queries over {sizes['messages']:,} messages (PostgreSQL)",
        "",
        f"{sizes['messages']:,} messages, {sizes['conversations']:,} conversations, {sizes['escalations']:,} "
        f"handoffs, {sizes['answer_feedback']:,} ratings (benchmarks/analytics/generate.py, filled in "
        f"{result['fill_seconds']} s); {result['repeats']} timed runs per query after one warm-up; "
        f"{result['machine']}; code at {result.get('commit', '?')}, {result['when']}. Target: p95 ≤ "
        f"{TARGET_MS:.0f} ms. Command: `.venv/bin/python -m benchmarks.analytics`. Cells: p50 / p95 ms, bold "
        "when p95 is over the target.",
        "",
        "## Without the proposed indexes (as migrated today), 30 days by day",
        "",
        "| query | p50 / p95 ms |",
        "| --- | ---: |",
    ]
    for name, figures in result["without_indexes"]["30 days by day"].items():
        lines.append(f"| {name} | {_cell(figures)} |")
    lines += ["", "## With the proposed indexes", "", f"Built in {result['index_seconds']} s:", ""]
    lines += [f"- `{statement}`" for statement in generate.INDEXES]
    scenarios = list(result["with_indexes"])
    lines += ["", "| query | " + " | ".join(scenarios) + " |", "| --- |" + " ---: |" * len(scenarios)]
    for name in QUERIES:
        cells = [_cell(result["with_indexes"][scenario][name]) for scenario in scenarios]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", *result.get("notes", []), ""]
    return "\n".join(lines)


def _commit() -> str:
    try:
        found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "?"
    return found.stdout.strip() or "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--conversations", type=int, default=generate.CONVERSATIONS)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the database for EXPLAIN ANALYZE")
    parser.add_argument("--report", action="store_true", help="only rewrite analytics.md from analytics.json")
    args = parser.parse_args()
    if args.report:
        result = json.loads((args.results / "analytics.json").read_text())
        (args.results / "analytics.md").write_text(markdown(result))
        return
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{DATABASE}"
    sizes, fill_seconds = build(url, args.conversations)
    print(f"generated {sizes} in {fill_seconds:.0f} s", flush=True)
    try:
        without = measure(url, ["30 days by day"], max(3, args.repeats // 2))
        index_seconds = add_indexes(url)
        with_indexes = measure(url, list(SCENARIOS), args.repeats)
    finally:
        if not args.keep:
            _drop()
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "sizes": sizes,
        "fill_seconds": round(fill_seconds, 1),
        "index_seconds": round(index_seconds, 1),
        "repeats": args.repeats,
        "target_p95_ms": TARGET_MS,
        "without_indexes": without,
        "with_indexes": with_indexes,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "analytics.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (args.results / "analytics.md").write_text(markdown(result))
    print((args.results / "analytics.md").read_text())


if __name__ == "__main__":
    main()
