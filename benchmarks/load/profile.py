"""Where a reply's time goes: py-spy on each server process under the benchmark's load, stacks bucketed.

`py-spy record --threads --format raw` samples every Python thread of a process (100 Hz), keeping only
threads on the CPU, and writes collapsed stacks (`thread;frame;frame;... count`). Each
stack goes to the first category whose test matches (CATEGORIES_* below, most specific first: the
broker's SQL runs inside the tracker store's save, which runs inside the processor). The main thread's
samples over rate × seconds say how busy the event loop was: near 1, it is the bottleneck.
ms per reply = a category's share of the samples × the process's CPU time per answered request.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from benchmarks.load import report
from benchmarks.load.conversation import CONVERSATION
from benchmarks.load.drive import run_locust, step
from benchmarks.load.servers import Bot, cpu_seconds, thread_cpu_seconds

PY_SPY_RATE = 100
Frames = Sequence[str]


@dataclass(frozen=True)
class Category:
    name: str
    matches: Callable[[Frames], bool]


def _any(*needles: str) -> Callable[[Frames], bool]:
    return lambda frames: any(needle in frame for frame in frames for needle in needles)


@lru_cache(maxsize=1)
def _remote_action_lines() -> Tuple[int, int]:
    """The source lines of Rasa's RemoteAction (the client side of every action server call), read from
    the installed file rather than imported (importing Rasa takes seconds and TensorFlow)."""
    spec = importlib.util.find_spec("rasa.core.actions.action")
    source = Path(spec.origin).read_text(encoding="utf-8").splitlines() if spec and spec.origin else []
    start = next((i for i, line in enumerate(source, 1) if line.startswith("class RemoteAction(")), 0)
    end = next((i for i, line in enumerate(source, 1) if i > start and line.startswith("class ")), len(source) + 1)
    return start, end


_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?):(?P<line>\d+)\)$")


def _in_remote_action(frames: Frames) -> bool:
    """Rasa's only HTTP client at run time is the action server's (aiohttp, through EndpointConfig)."""
    if any("rasa/utils/endpoints.py" in frame or "aiohttp/" in frame for frame in frames):
        return True
    start, end = _remote_action_lines()
    for frame in frames:
        found = _FRAME.match(frame)
        if found and found["file"].endswith("rasa/core/actions/action.py") and start <= int(found["line"]) < end:
            return True
    return False


def _both(first: Callable[[Frames], bool], second: Callable[[Frames], bool]) -> Callable[[Frames], bool]:
    return lambda frames: first(frames) and second(frames)


CATEGORIES_RASA = (
    Category(
        "event broker: interaction log SQL",
        _any("interaction_log_broker", "interaction_log_writer", "interaction_log.py", "conversations/projection.py"),
    ),
    Category(
        "tracker store: read by the REST door (buttons on offer)",
        _both(_any("bot/channels/untrusted.py"), _any("tracker_store.py")),
    ),
    Category(
        "tracker store: read + write of the conversation", _any("rasa/core/tracker_store.py", "bot/tracker_store.py")
    ),
    Category(
        "handoff signal slot, in-process", _any("bot/in_process_slot_mappings.py", "conversations/handoff_signal.py")
    ),
    Category("action server calls: tracker to JSON, HTTP, events back", _in_remote_action),
    Category("NLU: Coverline's intent + sentiment model (torch)", _any("bot/nlu/", "torch/", "transformers/")),
    Category(
        "NLU: other components (CRF, regex, featurizers, DIET)", _any("rasa/nlu/", "sklearn/", "sklearn_crfsuite")
    ),
    Category(
        "dialogue policies (TED, rules, memoization; TensorFlow)", _any("rasa/core/policies/", "tensorflow/", "keras/")
    ),
    Category("Rasa processor, trackers, events, domain", _any("rasa/core/", "rasa/shared/", "rasa/engine/")),
    Category(
        "HTTP server and the REST door (sanic, bot/channels)", _any("sanic/", "bot/channels/", "rasa/core/channels/")
    ),
    Category("SQLAlchemy elsewhere", _any("sqlalchemy/")),
)
CATEGORIES_ACTIONS = (
    Category(
        "past replies: embedding the question (MiniLM, torch)",
        _both(_any("retrieval/", "actions/past_replies.py"), _any("torch/", "transformers/", "sentence_transformers/")),
    ),
    Category("past replies: search, calibration, answer", _any("retrieval/", "actions/past_replies.py")),
    Category("actions: SQL (SQLAlchemy)", _both(_any("actions/"), _any("sqlalchemy/"))),
    Category("actions/handoff.py (handoff signal, session start)", _any("actions/handoff.py")),
    Category("other actions", _any("actions/")),
    Category("rasa-sdk: tracker from JSON, executor", _any("rasa_sdk/")),
    Category("HTTP server (sanic)", _any("sanic/")),
    Category("SQLAlchemy elsewhere", _any("sqlalchemy/")),
)
OTHER = "other (asyncio, logging, GC, …)"
# frames every request passes through: the server, the event loop and Rasa's graph runner
PLUMBING = ("(sanic/", "(asyncio/", "(dask/", "(rasa/engine/", "(connection_task)", "(handle_request)", "<module>")


def parse_raw(text: str) -> List[Tuple[List[str], int]]:
    """py-spy's raw output: one `frame;frame;...;frame count` line per distinct stack, root first (with
    `--threads` the root is `thread (0x…): <name>`)."""
    stacks: List[Tuple[List[str], int]] = []
    for line in text.splitlines():
        head, _, count = line.rstrip().rpartition(" ")
        if head and count.isdigit():
            stacks.append((head.split(";"), int(count)))
    return stacks


_THREAD = re.compile(r"thread \((?P<tid>\d+)\): (?P<name>.+)")


def python_thread_names(stacks: Sequence[Tuple[List[str], int]]) -> Dict[int, str]:
    """OS thread id → the Python thread's name, from the roots of py-spy's stacks; numbered pool threads
    (`uvloop_3`, `ThreadPoolExecutor-0_1`) are named as their pool."""
    names: Dict[int, str] = {}
    for frames, _ in stacks:
        found = _THREAD.match(frames[0]) if frames else None
        if found:
            names[int(found["tid"])] = re.sub(r"_\d+$", "_*", found["name"])
    return names


def _function(frame: str) -> str:
    """`function (file)` without the line: a function's samples wherever in it they fell."""
    found = _FRAME.match(frame)
    return f"{found['function']} ({found['file']})" if found else frame


def top_functions(inclusive: Mapping[str, int], total: int, limit: int = 6) -> List[Dict[str, Any]]:
    """The functions most of a category's samples pass through (inclusive), leaving out the ones nearly
    every sample passes through (the server's and the processor's own frames say nothing)."""
    telling = [
        (name, count)
        for name, count in inclusive.items()
        if 0.03 * total <= count < 0.9 * total and not any(part in name for part in PLUMBING)
    ]
    telling.sort(key=lambda item: -item[1])
    return [{"function": name, "share_of_category": round(count / total, 3)} for name, count in telling[:limit]]


def bucket(
    stacks: Sequence[Tuple[List[str], int]],
    categories: Sequence[Category],
    cpu_ms_per_reply: float,
    expected_samples: Optional[int] = None,
) -> Dict[str, Any]:
    """On-CPU samples per category (share, and ms per reply), and how busy the main thread (the event
    loop: sanic runs it there) was: its samples over the samples a thread busy all the time would have."""
    counts: Dict[str, int] = {category.name: 0 for category in categories}
    counts[OTHER] = 0
    functions: Dict[str, Dict[str, int]] = {name: {} for name in counts}
    on_main: Dict[str, int] = {name: 0 for name in counts}
    busy = main = 0
    for frames, count in stacks:
        thread = frames[0] if frames and frames[0].startswith("thread (") else ""
        frames = [frame for frame in frames if not frame.startswith(("thread (", "process "))]
        busy += count
        main += count if thread.endswith(": MainThread") else 0
        name = next((c.name for c in categories if c.matches(frames)), OTHER)
        counts[name] += count
        on_main[name] += count if thread.endswith(": MainThread") else 0
        for function in {_function(frame) for frame in frames}:
            functions[name][function] = functions[name].get(function, 0) + count
    rows = [
        {
            "name": name,
            "samples": count,
            "share": round(count / busy, 4) if busy else 0.0,
            "ms_per_reply": round(cpu_ms_per_reply * count / busy, 2) if busy else 0.0,
            "main_thread_share": round(on_main[name] / count, 3),
            "top_functions": top_functions(functions[name], count),
        }
        for name, count in sorted(counts.items(), key=lambda item: -item[1])
        if count
    ]
    return {
        "samples": busy,
        "main_thread_samples": main,
        "main_thread_busy_share": round(main / expected_samples, 3) if expected_samples else None,
        "categories": rows,
    }


def py_spy_version() -> str:
    from importlib.metadata import version

    return version("py-spy")


def record(pid: int, seconds: float, output: Path) -> subprocess.Popen:
    py_spy = Path(sys.executable).parent / "py-spy"
    command = [str(py_spy), "record", "--pid", str(pid), "--rate", str(PY_SPY_RATE), "--duration", str(int(seconds))]
    # blocking (py-spy pauses the process for each sample): with --nonblocking py-spy cannot tell a
    # waiting thread from a running one here, and every sample looks busy
    command += ["--format", "raw", "--threads", "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def action_server_calls(bot: Bot) -> List[Dict[str, Any]]:
    """Which actions run on the action server for each message of one conversation.

    Actions the Rasa server runs itself under Coverline's launcher are left out: the session start and
    the in-process slot mappings (bot/in_process_session_start.py, bot/in_process_slot_mappings.py).

    Custom actions (the domain's actions that are not responses or forms; a default action the domain
    lists, as Coverline does action_session_start, is overridden and runs remotely too: Rasa 3.6
    `action_for_name_or_text`) leave an ActionExecuted event in the tracker; the custom slot-mapping
    actions that ActionExtractSlots calls on every message (once per action per message, for mappings
    without conditions) leave none, so they are read from the domain."""
    import secrets

    from rasa.shared.core.constants import ACTION_SESSION_START_NAME

    from bot.in_process_slot_mappings import IN_PROCESS

    domain = bot.api("/domain")
    forms = set(domain.get("forms") or {})
    # what the Rasa server runs itself under Coverline's launcher (bot/in_process_*.py) never reaches the
    # action server; the stock bot's launcher installs none of it
    in_process = {ACTION_SESSION_START_NAME, *IN_PROCESS} if bot.name == "coverline" else set()
    custom = {
        name
        for name in domain.get("actions", [])
        if not name.startswith("utter_") and name not in forms and name not in in_process
    }
    slot_mapping_actions = sorted(
        {
            mapping["action"]
            for slot in (domain.get("slots") or {}).values()
            for mapping in slot.get("mappings", [])
            if mapping.get("type") == "custom"
            and mapping.get("action")
            and not mapping.get("conditions")
            and mapping["action"] not in in_process
        }
    )
    sender = f"profile:{secrets.token_hex(6)}"
    for text in CONVERSATION:
        bot.post(sender, text)
    events = bot.tracker(sender)["events"]
    rows: List[Dict[str, Any]] = []
    pending: List[str] = []
    for event in events:
        if event.get("event") == "user":
            rows.append(
                {"turn": len(rows) + 1, "text": event.get("text"), "actions": [*pending, *slot_mapping_actions]}
            )
            pending = []
        elif event.get("event") == "action" and event.get("name") in custom:
            (rows[-1]["actions"] if rows else pending).append(event["name"])
    return rows


def by_thread_name(
    before: Dict[int, Tuple[str, float]],
    after: Dict[int, Tuple[str, float]],
    replies: int,
    python_names: Optional[Mapping[int, str]] = None,
) -> List[Dict[str, Any]]:
    """CPU ms per reply of the process's OS threads (the kernel's accounting, not py-spy's guess of which
    samples were idle), grouped by the Python thread's name where py-spy saw one, else the OS name; the
    busiest first. A thread that started during the run counts from zero."""
    totals: Dict[str, List[float]] = {}
    for tid, (os_name, seconds) in after.items():
        name = (python_names or {}).get(tid, os_name)
        spent = seconds - before.get(tid, (os_name, 0.0))[1]
        entry = totals.setdefault(name, [0.0, 0.0])
        entry[0] += spent
        entry[1] += 1
    rows = [
        {"thread": name, "threads": int(count), "ms_per_reply": round(1000 * spent / max(replies, 1), 2)}
        for name, (spent, count) in totals.items()
    ]
    return sorted(rows, key=lambda row: -row["ms_per_reply"])


def profile_bot(bot: Bot, users: int, seconds: float, work: Path) -> Dict[str, Any]:
    """Load as in the measured rounds, with py-spy on each of the bot's processes meanwhile."""
    step(f"{bot.name}: profiling {sorted(bot.pids)} with py-spy, {users} conversations at once, {seconds:.0f} s")
    samples = work / f"profile-samples-{bot.name}.jsonl"
    samples.unlink(missing_ok=True)
    outputs = {name: work / f"profile-{bot.name}-{name}.txt" for name in bot.pids}
    before = cpu_seconds(bot.pids)
    threads_before = {name: thread_cpu_seconds(pid) for name, pid in bot.pids.items()}
    started = time.monotonic()
    recorders = {name: record(pid, seconds, outputs[name]) for name, pid in bot.pids.items()}
    run_locust(bot, users, seconds + 2, samples, f"{bot.name}/profile")
    for name, recorder in recorders.items():
        _, errors = recorder.communicate(timeout=120)
        if recorder.returncode != 0:
            raise RuntimeError(f"py-spy on {bot.name}/{name} failed: {errors[-1000:]}")
    after = cpu_seconds(bot.pids)
    threads_after = {name: thread_cpu_seconds(pid) for name, pid in bot.pids.items()}
    mine = [s for s in report.read_samples(samples) if s["label"] == f"{bot.name}/profile"]
    summary = report.summarise([mine])
    replies = max(summary["replies"], 1)
    result: Dict[str, Any] = {"load": summary, "wall_seconds": round(time.monotonic() - started, 1)}
    for name in bot.pids:
        cpu_ms = 1000 * (after[name] - before[name]) / replies
        categories = CATEGORIES_ACTIONS if name == "actions" else CATEGORIES_RASA
        stacks = parse_raw(outputs[name].read_text())
        result[name] = {
            **bucket(stacks, categories, cpu_ms, int(PY_SPY_RATE * seconds)),
            "cpu_ms_per_reply": round(cpu_ms, 2),
            "replies_per_s": summary["replies_per_s"],
            "threads": by_thread_name(threads_before[name], threads_after[name], replies, python_thread_names(stacks)),
        }
    return result


def profile_bots(bots: Sequence[Bot], users: int, seconds: float, work: Path) -> Dict[str, Any]:
    profile: Dict[str, Any] = {
        "meta": {"py_spy": py_spy_version(), "rate": PY_SPY_RATE, "seconds": seconds, "users": users}
    }
    for bot in bots:
        profile[bot.name] = profile_bot(bot, users, seconds, work)
        if bot.name == "coverline":
            profile[bot.name]["action_server_calls"] = action_server_calls(bot)
    return profile
