"""The learning loop's live run, inside the throwaway clone `python -m benchmarks.learning_loop` made.

Everything goes through the doors a deployment has: customers over Rasa's REST channel, the agent through
the inbox's HTTP API (login, CSRF token, review queue), the retrain and rollback through `python -m learning`
as `make retrain` runs it, and the parses through the running Rasa server's `/model/parse`.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import requests
import yaml
from sqlalchemy import select

PHRASINGS = Path(__file__).resolve().parent / "phrasings"
PROBE_SIZE = 120  # held-out messages whose parses a rollback must give back
AGENT_EMAIL = "reviewer@harbor.example"


def log(message: str) -> None:
    print(f"[learning-loop {datetime.now(timezone.utc):%H:%M:%S}] {message}", flush=True)


def elapsed(started: float) -> float:
    return round(time.monotonic() - started, 1)


class LiveBot:
    """The running Rasa server, asked the way the inbox and the learning CLI ask it."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token

    def parse(self, text: str) -> Tuple[str, float]:
        response = requests.post(
            f"{self.url}/model/parse", params={"token": self.token}, json={"text": text}, timeout=60
        )
        response.raise_for_status()
        intent = response.json()["intent"]
        return intent["name"], round(float(intent["confidence"]), 4)

    def parses(self, texts: List[str]) -> List[Tuple[str, float]]:
        return [self.parse(text) for text in texts]

    def model_file(self) -> str:
        response = requests.get(f"{self.url}/status", params={"token": self.token}, timeout=30)
        response.raise_for_status()
        return str(response.json().get("model_file"))

    def customer_says(self, sender: str, text: str) -> None:
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=120,
        )
        response.raise_for_status()


class Inbox:
    """An agent in the inbox: a logged-in session with its CSRF token."""

    def __init__(self, url: str, email: str, password: str) -> None:
        self.url = url
        self.session = requests.Session()
        response = self.session.post(f"{url}/api/auth/login", json={"email": email, "password": password}, timeout=30)
        response.raise_for_status()
        self.csrf = response.json()["csrf_token"]

    def queue(self) -> List[Dict[str, Any]]:
        response = self.session.get(f"{self.url}/api/review/queue", params={"limit": 500}, timeout=60)
        response.raise_for_status()
        return response.json()["items"]

    def prefilled_entities(self, message_id: int) -> List[Dict[str, Any]]:
        """What the review page starts the entity list with (inbox/web/static/review.js `blankDraft`): the
        model's entities that are exact spans of the text. An agent who picks the intent and leaves the
        entities alone submits these; sending none would teach the model that "stolen" in "excess for a
        stolen car?" is no incident type (the session-13 run's candidate unlearned it that way)."""
        response = self.session.get(f"{self.url}/api/review/messages/{message_id}", timeout=60)
        response.raise_for_status()
        message = response.json()["message"]
        text = message.get("text") or ""
        return [
            {"entity": e["entity"], "value": e["value"], "start": e["start"], "end": e["end"]}
            for e in message.get("entities") or []
            if isinstance(e.get("start"), int)
            and isinstance(e.get("end"), int)
            and text[e["start"] : e["end"]] == e.get("value")
        ]

    def annotate(self, message_id: int, intent: str, fixed: Sequence[Dict[str, Any]] = ()) -> Dict[str, Any]:
        """The intent picked, and the entities as the page would submit them: pre-filled, with the agent's
        `fixed` spans replacing whatever they overlap (review.js `addEntity`)."""
        entities = [
            e
            for e in self.prefilled_entities(message_id)
            if not any(e["start"] < f["end"] and f["start"] < e["end"] for f in fixed)
        ]
        entities = sorted([*entities, *fixed], key=lambda e: e["start"])
        response = self.session.post(
            f"{self.url}/api/review/messages/{message_id}/annotation",
            json={"intent": intent, "entities": entities},
            headers={"X-CSRF-Token": self.csrf},
            timeout=60,
        )
        if response.status_code != 201:
            raise RuntimeError(f"annotation of message {message_id} refused: {response.status_code} {response.text}")
        return response.json()


MARK = re.compile(r"\[([^\]]+)\]\(([a-z_]+)(?::[a-z_]+)?\)")


def unmark(line: str) -> Tuple[str, List[Dict[str, Any]]]:
    """A phrasing with Rasa-style marks → the words a customer types, and the agent's entity spans on them."""
    text, entities, position = "", [], 0
    for match in MARK.finditer(line):
        text += line[position : match.start()]
        words = match.group(1)
        entities.append({"entity": match.group(2), "value": words, "start": len(text), "end": len(text) + len(words)})
        text += words
        position = match.end()
    return text + line[position:], entities


def accuracy(parses: List[Tuple[str, float]], expected: List[str]) -> float:
    return round(100.0 * sum(p[0] == e for p, e in zip(parses, expected, strict=True)) / len(expected), 1)


def logged_message_ids(db_url: str, senders: List[str], timeout: float = 120.0) -> Dict[str, int]:
    """Each sender's logged customer message: the interaction log's writer stores it just after Rasa answers."""
    from storage.engine import session_scope
    from storage.models import Message

    deadline = time.monotonic() + timeout
    found: Dict[str, int] = {}
    while time.monotonic() < deadline:
        with session_scope(db_url) as s:
            rows = s.execute(
                select(Message.conversation_id, Message.id).where(
                    Message.conversation_id.in_(senders), Message.direction == "inbound"
                )
            ).all()
        found = {conversation: message_id for conversation, message_id in rows}
        if len(found) == len(senders):
            return found
        time.sleep(0.5)
    raise RuntimeError(f"only {len(found)} of {len(senders)} messages were logged")


def run_learning(command: str, env: Dict[str, str], cwd: Path, log_path: Path) -> Tuple[int, float, str]:
    """`python -m learning <command>`, its output shown (training progress) and kept."""
    started = time.monotonic()
    lines: List[str] = []
    with (
        subprocess.Popen(
            [sys.executable, "-m", "learning", command],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        ) as process,
        log_path.open("w", encoding="utf-8") as out,
    ):
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            lines.append(line)
            if not line.startswith(" ") and ("step" in line or "learning" in line or "candidate" in line):
                print(f"    {line.rstrip()[:160]}", flush=True)
    return process.returncode, elapsed(started), "".join(lines)


def probe_texts(root: Path) -> List[str]:
    rows = yaml.safe_load((root / "tests" / "fixtures" / "nlu_heldout.yml").read_text(encoding="utf-8"))
    rows = rows.get("examples") if isinstance(rows, dict) else rows
    texts = [str(row["text"]) for row in rows]
    return random.Random(5).sample(texts, min(PROBE_SIZE, len(texts)))


def verdict_lines(output: str) -> List[str]:
    """The gate's explanation as `python -m learning retrain` printed it (from its "candidate <version>:" line)."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"candidate \S+: (promoted|refused)", line)), None)
    return [line for line in lines[start:] if line.strip()] if start is not None else []


def run(root: Path, results_dir: Path, shuffled: bool, phrasing_set: str = "excess") -> int:
    from benchmarks.learning_loop.report import write_results
    from inbox.services.agents import create_agent
    from runner.servers import Ports, ServerSet, api_token
    from storage.engine import session_scope
    from storage.migrate import upgrade
    from tests.support.network import free_port

    data = yaml.safe_load((PHRASINGS / f"{phrasing_set}.yml").read_text(encoding="utf-8"))
    intent, new = data["intent"], list(data["new"])
    taught, fixes = map(list, zip(*(unmark(line) for line in data["taught"]), strict=True))
    work = root / "var" / "learning-loop"
    work.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{work / 'coverline.db'}"
    upgrade(db_url)
    password = secrets.token_urlsafe(18)
    with session_scope(db_url) as db:
        create_agent(db, AGENT_EMAIL, "Robin Reviewer", "admin", password)
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port(), webchat=free_port(), inbox=free_port()),
        db_url=db_url,
        with_webchat=False,
        with_inbox=True,
        log_dir=work,
    )
    result: Dict[str, Any] = {
        "scenario": "shuffled labels" if shuffled else "correct labels",
        "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip(),
        "command": f"python -m benchmarks.learning_loop --set {phrasing_set}" + (" --shuffled" if shuffled else ""),
        "set": phrasing_set,
        "intent": intent,
        "taught": len(taught),
        "new": len(new),
    }
    log("starting Rasa, the action server and the inbox")
    servers.start()
    try:
        servers.wait_ready(timeout=600)
        bot = LiveBot(servers.rasa_url, api_token())
        rasa_pid = servers.processes["rasa"].pid
        probe = probe_texts(root)
        before_new, before_taught, before_probe = bot.parses(new), bot.parses(taught), bot.parses(probe)
        result["before"] = {
            "new_accuracy": accuracy(before_new, [intent] * len(new)),
            "taught_accuracy": accuracy(before_taught, [intent] * len(taught)),
            "model_file": bot.model_file(),
        }
        log(
            f"before: new phrasings {result['before']['new_accuracy']} % right, "
            f"taught {result['before']['taught_accuracy']} %"
        )

        senders = [f"ll{secrets.token_hex(6)}" for _ in taught]
        for sender, text in zip(senders, taught, strict=True):
            bot.customer_says(sender, text)
        ids = logged_message_ids(db_url, senders)
        log(f"{len(ids)} customer messages logged")

        inbox = Inbox(servers.inbox_url, AGENT_EMAIL, password)
        queued = {item["id"] for item in inbox.queue()}
        result["taught_in_review_queue"] = sum(ids[s] in queued for s in senders)
        labels = [intent] * len(taught)
        if shuffled:
            others = sorted(set(bot_intents(root)) - {intent, "inform", "nlu_fallback"})
            rng = random.Random(17)
            labels = [rng.choice(others) for _ in taught]
        for sender, label, fixed in zip(senders, labels, fixes, strict=True):
            inbox.annotate(ids[sender], label, fixed)
        result["annotated"] = len(senders)
        log(
            f"annotated {len(senders)} messages through the inbox API "
            f"({result['taught_in_review_queue']} were in the review queue)"
        )

        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "RASA_URL": servers.rasa_url,
            "RASA_API_TOKEN": api_token(),
            "COVERLINE_KEEP_PRIO": "1",
        }
        code, seconds, output = run_learning("retrain", env, root, work / "retrain.log")
        result["retrain"] = {
            "exit_code": code,
            "seconds": seconds,
            "promoted": code == 0,
            "report": verdict_lines(output),
        }
        log(f"retrain: exit {code} after {seconds} s ({'promoted' if code == 0 else 'not promoted'})")
        if code not in (0, 3):
            result["error"] = output[-3000:]
            write_results(results_dir, result_name(phrasing_set, shuffled), result)
            return 1

        after_new, after_probe = bot.parses(new), bot.parses(probe)
        result["after"] = {
            "new_accuracy": accuracy(after_new, [intent] * len(new)),
            "taught_accuracy": accuracy(bot.parses(taught), [intent] * len(taught)),
            "model_file": bot.model_file(),
            "rasa_restarted": servers.processes["rasa"].pid != rasa_pid or servers.processes["rasa"].poll() is not None,
            "probe_changed": sum(a[0] != b[0] for a, b in zip(after_probe, before_probe, strict=True)),
        }
        log(f"after: new phrasings {result['after']['new_accuracy']} % right (model {result['after']['model_file']})")
        result["examples"] = [
            {"text": text, "before": b[0], "after": a[0], "after_confidence": a[1]}
            for text, b, a in zip(new, before_new, after_new, strict=True)
        ]
        if code == 0:
            code, seconds, output = run_learning("rollback", env, root, work / "rollback.log")
            rolled = bot.parses(probe)
            result["rollback"] = {
                "exit_code": code,
                "seconds": seconds,
                "probe": len(probe),
                "same_intent": sum(a[0] == b[0] for a, b in zip(rolled, before_probe, strict=True)),
                "max_confidence_difference": max(abs(a[1] - b[1]) for a, b in zip(rolled, before_probe, strict=True)),
                "new_accuracy": accuracy(bot.parses(new), [intent] * len(new)),
                "output": output.strip().splitlines()[-1:] if output.strip() else [],
            }
            log(f"rollback: {seconds} s, {result['rollback']['same_intent']}/{len(probe)} probe parses as before")
        write_results(results_dir, result_name(phrasing_set, shuffled), result)
        return 0
    finally:
        servers.stop()


def result_name(phrasing_set: str, shuffled: bool) -> str:
    return f"learning_loop_{phrasing_set}" + ("_shuffled" if shuffled else "")


def bot_intents(root: Path) -> List[str]:
    intents: List[str] = []
    for path in sorted((root / "bot" / "domain").glob("*.yml")):
        intents += [
            i if isinstance(i, str) else next(iter(i))
            for i in (yaml.safe_load(path.read_text()) or {}).get("intents", [])
        ]
    return intents
