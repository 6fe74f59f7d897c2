"""`python -m benchmarks.analytics`: every analytics query timed over ~1,000,000 messages on PostgreSQL.

    .venv/bin/python -m benchmarks.analytics              # ~10 min on 2 busy cores; CPU heavy
    .venv/bin/python -m benchmarks.analytics --repeats 2 --conversations 20000 --results /tmp/analytics-smoke

A throw-away database (never `test` or `postgres`) is created, migrated (with the analytics indexes of
migrations 0014 and 0018), filled by benchmarks/analytics/generate.py (the log, then the summary the live code
keeps: storage/summary.py) and timed in every scenario; then the analytics indexes are
dropped and the main dashboard scenario timed again, to show what they buy; the database is dropped.
Results: benchmarks/results/analytics.json, .md and .png (the previous run's figures are kept in the JSON
as `previous`, so the Markdown shows before and after). The target (issue 17) is p95 ≤ 300 ms per query.
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
    "recommendation opens": lambda db, f: analytics.recommendation_open_rate(db, f),
    "drill-down: containment misses": _drill(Metric.CONTAINMENT, Part.MISSES),
    "drill-down: SLA misses": _drill(Metric.SLA, Part.MISSES),
    "drill-down: negative messages": _drill(Metric.SENTIMENT),
    "drill-down: recommendations opened": _drill(Metric.RECOMMENDATION_OPENS, Part.HITS),
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
    started = time.perf_counter()
    engine = create_engine(url, future=True)
    with engine.begin() as connection:
        generate.fill(connection, conversations)
        sizes = generate.counts(connection)
    generate.vacuum(engine)
    engine.dispose()
    return sizes, time.perf_counter() - started


def drop_analytics_indexes(url: str) -> None:
    """The database without the analytics indexes (migrations 0014 and 0018), to time the queries without them."""
    engine = create_engine(url, future=True)
    with engine.begin() as connection:
        generate.run(connection, [f"DROP INDEX {name}" for name in generate.ANALYTICS_INDEXES])
    generate.vacuum(engine)
    engine.dispose()


def index_sizes(url: str) -> Dict[str, str]:
    """The analytics indexes' sizes, then the summary tables' (with their primary keys and rows)."""
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        sizes = {
            name: connection.exec_driver_sql(f"SELECT pg_size_pretty(pg_relation_size('{name}'))").scalar_one()
            for name in generate.ANALYTICS_INDEXES
        }
        for table in generate.SUMMARY_TABLES:
            rows = connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
            size = connection.exec_driver_sql(f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))")
            sizes[f"table {table}"] = f"{size.scalar_one()}, {rows:,} rows"
    engine.dispose()
    return sizes


def _cell(figures: Dict[str, float]) -> str:
    p95 = figures["p95_ms"]
    shown = f"{figures['p50_ms']} / {p95}"
    return f"**{shown}**" if p95 > TARGET_MS else shown


def _p95(figures: Dict[str, Any], name: str) -> str:
    found = figures.get(name)
    return _cell(found) if found else "–"


def markdown(result: Dict[str, Any]) -> str:
    sizes = result["sizes"]
    main = "30 days by day"
    previous = result.get("previous") or {}
    lines = [
        f"# Analytics queries over {sizes['messages']:,} messages (PostgreSQL)",
        "",
        f"{sizes['messages']:,} messages, {sizes['conversations']:,} conversations, {sizes['escalations']:,} "
        f"handoffs, {sizes['answer_feedback']:,} ratings, {sizes.get('content_impressions', 0):,} recommendations "
        f"shown (benchmarks/analytics/generate.py, filled in "
        f"{result['fill_seconds']} s); {result['repeats']} timed runs per query after one warm-up; "
        f"{result['machine']}; load average {result.get('load', '?')} at the start; code at "
        f"{result.get('commit', '?')}, {result['when']}. Target: p95 ≤ {TARGET_MS:.0f} ms. Command: "
        "`nice -n 19 .venv/bin/python -m benchmarks.analytics`. Cells: p50 / p95 ms, bold when p95 is over the "
        "target.",
        "",
        "## Indexes and summary tables (migrations 0014_analytics_indexes, 0018_analytics_summary, "
        "0019_summary_products_started, 0020_summary_agent_waits, 0022_content_event_impression, "
        "0024_impression_opened_at; storage/models.py)",
        "",
        *[f"- `{name}` ({size})" for name, size in result.get("index_sizes", {}).items()],
        "",
        f"## Before and after, {main}",
        "",
        f"Before: the previous run ({previous.get('commit', '?')}, {previous.get('when', '?')}), as migrated then, "
        "with the queries of then. Without indexes: this code, the analytics indexes dropped. "
        "After: this code on the migrated schema.",
        "",
        "| query | before | without indexes | after |",
        "| --- | ---: | ---: | ---: |",
    ]
    before = previous.get("with_indexes", {}).get(main, {})
    without = result["without_indexes"][main]
    after = result["with_indexes"][main]
    for name in QUERIES:
        lines.append(f"| {name} | {_p95(before, name)} | {_p95(without, name)} | {_p95(after, name)} |")
    scenarios = list(result["with_indexes"])
    lines += ["", "## Every scenario, as migrated", ""]
    lines += ["| query | " + " | ".join(scenarios) + " |", "| --- |" + " ---: |" * len(scenarios)]
    for name in QUERIES:
        cells = [_p95(result["with_indexes"][scenario], name) for scenario in scenarios]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    earlier = previous.get("with_indexes", {})
    if earlier:
        lines += ["", f"## Every scenario, the previous run ({previous.get('commit', '?')})", ""]
        lines += ["| query | " + " | ".join(scenarios) + " |", "| --- |" + " ---: |" * len(scenarios)]
        for name in QUERIES:
            cells = [_p95(earlier.get(scenario, {}), name) for scenario in scenarios]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", *result.get("notes", []), ""]
    return "\n".join(lines)


def chart(result: Dict[str, Any], path: Path) -> None:
    """p95 per query in the main scenario, before and after, with the target line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = "30 days by day"
    names = list(QUERIES)
    before = (result.get("previous") or {}).get("with_indexes", {}).get(main, {})
    series = [
        ("before (previous run)", before),
        ("this code, without the analytics indexes", result["without_indexes"][main]),
        ("after (as migrated)", result["with_indexes"][main]),
    ]
    figure, axis = plt.subplots(figsize=(10, 7))
    height = 0.27
    for i, (label, figures) in enumerate(series):
        values = [figures.get(name, {}).get("p95_ms", 0.0) for name in names]
        axis.barh([y + (i - 1) * height for y in range(len(names))], values, height, label=label)
    axis.axvline(TARGET_MS, color="black", linestyle="--", linewidth=1, label=f"target {TARGET_MS:.0f} ms")
    axis.set_yticks(range(len(names)))
    axis.set_yticklabels(names, fontsize=8)
    axis.invert_yaxis()
    axis.set_xscale("log")
    axis.set_xlabel("p95 ms (log scale)")
    axis.set_title(f"Analytics queries, {main}, {result['sizes']['messages']:,} messages (PostgreSQL)")
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


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
    parser.add_argument("--report", action="store_true", help="only rewrite analytics.md and .png from the JSON")
    args = parser.parse_args()
    json_path = args.results / "analytics.json"
    if args.report:
        result = json.loads(json_path.read_text())
        (args.results / "analytics.md").write_text(markdown(result))
        chart(result, args.results / "analytics.png")
        return
    previous = json.loads(json_path.read_text()) if json_path.exists() else None
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{DATABASE}"
    load = os.getloadavg()[0]
    sizes, fill_seconds = build(url, args.conversations)
    print(f"generated {sizes} in {fill_seconds:.0f} s", flush=True)
    try:
        indexes = index_sizes(url)
        with_indexes = measure(url, list(SCENARIOS), args.repeats)
        drop_analytics_indexes(url)
        without = measure(url, ["30 days by day"], max(3, args.repeats // 2))
    finally:
        if not args.keep:
            _drop()
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "load": round(load, 1),
        "sizes": sizes,
        "fill_seconds": round(fill_seconds, 1),
        "index_sizes": indexes,
        "repeats": args.repeats,
        "target_p95_ms": TARGET_MS,
        "without_indexes": without,
        "with_indexes": with_indexes,
        "previous": _previous(previous),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (args.results / "analytics.md").write_text(markdown(result))
    chart(result, args.results / "analytics.png")
    print((args.results / "analytics.md").read_text())


def _previous(found: Any) -> Any:
    """The last run's own figures (not its `previous`: one step of history is enough)."""
    if not found:
        return None
    if "index_sizes" not in found and found.get("previous"):
        return found["previous"]
    return {key: found[key] for key in ("when", "commit", "without_indexes", "with_indexes") if key in found}


if __name__ == "__main__":
    main()
