"""The load benchmark's maths and rendering on fixed samples (benchmarks/load): no server, no timing."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

from benchmarks.load import profile, report
from benchmarks.load.conversation import CONVERSATION, channel_style_sender_id
from bot.channels.limits import valid_sender_id


def sample(
    start: float, latency: float, turn: int = 1, sender: str = "telegram:1", error: Any = None
) -> Dict[str, Any]:
    return {
        "label": "x",
        "start": start,
        "latency": latency,
        "turn": turn,
        "sender": sender,
        "bot_messages": 1,
        "error": error,
    }


@pytest.mark.parametrize("q", [0, 25, 50, 90, 95, 99, 100])
def test_percentile_interpolates_as_numpy_does(q: float) -> None:
    values = [random.Random(q).uniform(0.01, 2.0) for _ in range(37)]
    assert report.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_of_known_values() -> None:
    assert report.percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert report.percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert report.percentile([], 50) != report.percentile([], 50)  # nan


def test_summary_counts_errors_apart_and_rates_over_the_window() -> None:
    samples = [
        sample(100.0, 0.2, 1, "whatsapp:15550000001"),
        sample(100.0, 0.4, 1, "telegram:123456789"),
        sample(100.2, 0.6, 2, "whatsapp:15550000001"),
        sample(100.4, 1.6, 2, "telegram:123456789"),  # the last reply arrives at 102.0
        sample(100.8, 0.1, 3, "whatsapp:15550000001", error="HTTP 500: boom"),
        sample(100.9, 0.1, 4, "whatsapp:15550000001", error="no reply"),
    ]
    summary = report.summarise([samples])
    assert summary["requests"] == 6
    assert summary["replies"] == 4
    assert summary["errors"] == 2
    assert summary["error_reasons"] == {"HTTP 500": 1, "no reply": 1}
    assert summary["conversations"] == 2
    assert summary["seconds"] == pytest.approx(2.0)
    assert summary["replies_per_s"] == pytest.approx(2.0)  # 4 answered in 2 s; errors are not replies
    assert summary["p50"] == pytest.approx(0.5)  # of the answered latencies 0.2, 0.4, 0.6, 1.6
    assert summary["p95"] == pytest.approx(float(np.percentile([0.2, 0.4, 0.6, 1.6], 95)))
    assert summary["max"] == pytest.approx(1.6)


def test_rounds_add_their_windows_not_the_gap_between_them() -> None:
    first = [sample(0.0, 0.5), sample(0.5, 0.5)]  # 2 replies in 1 s
    second = [sample(1000.0, 1.0), sample(1001.0, 1.0)]  # 2 replies in 2 s, a quarter of an hour later
    summary = report.summarise([first, second])
    assert summary["seconds"] == pytest.approx(3.0)
    assert summary["replies_per_s"] == pytest.approx(4 / 3, abs=0.01)
    assert summary["p50"] == pytest.approx(0.75)


def test_per_turn_median_ignores_errors() -> None:
    samples = [sample(0, 0.1, 1), sample(0, 0.3, 1), sample(0, 0.5, 2), sample(0, 9.0, 2, error="timeout")]
    assert report.per_turn_p50(samples) == {"1": pytest.approx(0.2), "2": pytest.approx(0.5)}


def test_acceptance_needs_the_ratio_and_no_errors() -> None:
    stock = {"p95": 0.5, "errors": 0}
    assert report.acceptance(stock, {"p95": 0.75, "errors": 0})["met"] is True
    assert report.acceptance(stock, {"p95": 0.76, "errors": 0})["met"] is False
    failing = report.acceptance(stock, {"p95": 0.6, "errors": 3})
    assert failing["met"] is False and failing["p95_ratio"] == 1.2


def fixture_results() -> Dict[str, Any]:
    runs: List[Dict[str, Any]] = []
    summary: Dict[str, Dict[str, Any]] = {}
    for bot, base in (("stock", 0.4), ("coverline", 1.1)):
        for phase, users in (("alone", 1), ("concurrent", 20)):
            rounds = [[sample(r * 100 + i * 0.1, base * (1 + i / 10), i % 5 + 1) for i in range(10)] for r in range(2)]
            for number, samples in enumerate(rounds, 1):
                runs.append(
                    {
                        "bot": bot,
                        "phase": phase,
                        "round": number,
                        "users": users,
                        "summary": report.summarise([samples]),
                        "cpu_ms_per_reply": {"rasa": 20.0},
                    }
                )
            summary.setdefault(bot, {})[phase] = report.summarise(rounds)
    return {
        "meta": {
            "date": "2026-12-04 17:00 UTC",
            "commit": "abc1234",
            "machine": "x86_64 Linux, 2 CPUs",
            "locust": "2.46.0",
            "conversation": list(CONVERSATION),
            "users": 20,
            "rounds": 2,
            "alone_seconds": 20,
            "concurrent_seconds": 60,
        },
        "summary": summary,
        "acceptance": report.acceptance(summary["stock"]["concurrent"], summary["coverline"]["concurrent"]),
        "per_turn_p50": {"stock": {"1": 0.4}, "coverline": {"1": 1.1}},
        "runs": runs,
    }


def test_markdown_shows_the_figures_and_the_verdict() -> None:
    results = fixture_results()
    text = report.markdown(results)
    assert "not met" in text  # 1.1 s against 0.4 s is 2.75 ×
    stock_p95 = results["summary"]["stock"]["concurrent"]["p95"]
    assert f"{stock_p95 * 1000:.0f} ms" in text
    assert "## Where the time goes" in text
    assert "Not the acceptance measurement" not in text
    assert "| 1 | hi there | 400 ms | 1100 ms |" in text
    for message in CONVERSATION:
        assert message in text


def test_a_smaller_run_says_it_is_not_the_acceptance_measurement() -> None:
    results = fixture_results()
    results["meta"].update(users=2, concurrent_seconds=5, note="the machine was busy")
    assert "Not the acceptance measurement**: 2 conversation(s) at once for 5 s" in report.markdown(results)
    assert "the machine was busy" in report.markdown(results)


def test_write_produces_json_markdown_and_chart(tmp_path: Path) -> None:
    results = fixture_results()
    report.write(results, tmp_path)
    assert json.loads((tmp_path / "load.json").read_text())["acceptance"] == results["acceptance"]
    assert (tmp_path / "load.md").read_text().startswith("# Load")
    assert (tmp_path / "load.png").read_bytes()[:4] == b"\x89PNG"


def test_sender_ids_look_like_channels_and_pass_the_rest_door() -> None:
    rng = random.Random(7)
    ids = [channel_style_sender_id(rng) for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(valid_sender_id(sender) for sender in ids)
    prefixes = {sender.split(":")[0] if ":" in sender else "webchat" for sender in ids}
    assert prefixes == {"whatsapp", "telegram", "messenger", "webchat"}


MAIN = "thread (0x7F01): MainThread;serve (sanic/server/runners.py:155)"
RAW_PROFILE = (
    "\n".join(
        f"{MAIN};{stack}"
        for stack in (
            "save (rasa/core/tracker_store.py:1300);publish (bot/interaction_log_broker.py:50) 10",
            "save (rasa/core/tracker_store.py:1300);execute (sqlalchemy/engine/base.py:1) 20",
            "receive (bot/channels/rest.py:160);payloads_on_offer (bot/channels/untrusted.py:75);"
            "retrieve (rasa/core/tracker_store.py:1250) 5",
            "run (rasa/core/actions/action.py:700) 30",
            "process (bot/nlu/intent_sentiment_classifier.py:90);forward (torch/nn/modules/module.py:1) 25",
            "run (rasa/core/actions/action.py:100) 10",
        )
    )
    + "\nthread (0x7F02): ThreadPoolExecutor-0_0;_worker (concurrent/futures/thread.py:83) 20"
)


def test_profile_buckets_each_stack_once_most_specific_first() -> None:
    stacks = profile.parse_raw(RAW_PROFILE)
    assert len(stacks) == 7
    result = profile.bucket(stacks, profile.CATEGORIES_RASA, cpu_ms_per_reply=60.0, expected_samples=200)
    by_name = {row["name"]: row for row in result["categories"]}
    assert result["samples"] == 120
    assert result["main_thread_samples"] == 100
    assert result["main_thread_busy_share"] == pytest.approx(0.5)
    assert by_name["event broker: interaction log SQL"]["samples"] == 10
    assert by_name["tracker store: read + write of the conversation"]["samples"] == 20
    assert by_name["tracker store: read by the REST door (buttons on offer)"]["samples"] == 5
    assert (
        by_name["action server calls: tracker to JSON, HTTP, events back"]["samples"] == 30
    )  # line 700 is RemoteAction
    assert by_name["NLU: Coverline's intent + sentiment model (torch)"]["ms_per_reply"] == pytest.approx(12.5)
    assert by_name["Rasa processor, trackers, events, domain"]["samples"] == 10  # line 100 is another action
    assert by_name[profile.OTHER]["samples"] == 20
    assert sum(row["share"] for row in result["categories"]) == pytest.approx(1.0, abs=1e-3)


def test_markdown_renders_the_profile_and_the_action_calls() -> None:
    results = fixture_results()
    stacks = profile.parse_raw(RAW_PROFILE)
    results["profile"] = {
        "meta": {"py_spy": "0.4.3", "rate": 100, "seconds": 40, "users": 20},
        "coverline": {
            "rasa": {
                **profile.bucket(stacks, profile.CATEGORIES_RASA, 60.0, 200),
                "cpu_ms_per_reply": 60.0,
                "replies_per_s": 15.0,
            },
            "action_server_calls": [
                {"turn": 1, "text": "hi there", "actions": ["action_session_start", "action_read_handoff_signal"]}
            ],
        },
    }
    text = report.markdown(results)
    section = text.split("## Where the time goes")[1]
    assert "| event broker: interaction log SQL | 8.3 % | 5.0 | 100 % |" in section
    assert "on the CPU 50 % of the time" in section
    assert "| 1 | hi there | 2: action_session_start, action_read_handoff_signal |" in section


def test_os_threads_are_grouped_by_name_and_reported_beside_the_python_view() -> None:
    from benchmarks.load.profile import by_thread_name

    before = {1: ("rasa", 10.0), 2: ("tf_inter_op", 1.0), 3: ("tf_inter_op", 2.0)}
    after = {1: ("rasa", 12.0), 2: ("tf_inter_op", 1.5), 3: ("tf_inter_op", 3.0), 4: ("ThreadPoolExecutor", 0.2)}
    rows = by_thread_name(before, after, replies=100)
    assert rows == [
        {"thread": "rasa", "threads": 1, "ms_per_reply": 20.0},
        {"thread": "tf_inter_op", "threads": 2, "ms_per_reply": 15.0},
        {"thread": "ThreadPoolExecutor", "threads": 1, "ms_per_reply": 2.0},  # started during the run
    ]
    (line,) = report._thread_lines(rows)
    assert "`tf_inter_op` ×2 15.0 ms" in line and line.index("rasa") < line.index("tf_inter_op")
