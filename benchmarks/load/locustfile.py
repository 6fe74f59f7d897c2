"""The customers locust plays: each user holds one conversation at a time over the REST channel.

A conversation is CONVERSATION's five messages, sent one after the other as soon as the previous reply
arrives (no think time: the closed loop measures how many replies a bot can give, and what each costs at
that rate), then the user starts a new conversation under a new sender id shaped like a real channel's.
Every request is appended to LOAD_SAMPLES (JSON lines) with its own start time and latency, so the report
computes exact percentiles instead of locust's rounded ones.

Environment: LOAD_SAMPLES (path, required), LOAD_TOKEN (REST channel token; empty for the stock bot),
LOAD_LABEL (written into each sample).
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any, Dict, Optional, TextIO

from locust import FastHttpUser, constant, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # locust imports this file by path

from benchmarks.load.conversation import CONVERSATION, REST_WEBHOOK, channel_style_sender_id  # noqa: E402

REQUEST_TIMEOUT_SECONDS = 60.0


_samples: Optional[TextIO] = None


@events.test_start.add_listener
def open_samples(**_: Any) -> None:
    global _samples
    _samples = open(os.environ["LOAD_SAMPLES"], "a", encoding="utf-8")  # noqa: SIM115 (closed at test_stop)


@events.test_stop.add_listener
def close_samples(**_: Any) -> None:
    if _samples:
        _samples.close()


@events.request.add_listener
def record_sample(
    start_time: float, response_time: float, exception: Optional[BaseException], context: Dict[str, Any], **_: Any
) -> None:
    """One line per request: when it started, how long it took, whether the bot answered."""
    if _samples is None:
        return
    sample = {
        "label": os.environ.get("LOAD_LABEL", ""),
        "start": round(start_time, 6),
        "latency": round(response_time / 1000, 6),
        "turn": context.get("turn"),
        "sender": context.get("sender"),
        "bot_messages": context.get("bot_messages", 0),
        "error": None if exception is None else str(exception)[:200],
    }
    _samples.write(json.dumps(sample) + "\n")


class Customer(FastHttpUser):
    wait_time = constant(0)
    network_timeout = REQUEST_TIMEOUT_SECONDS
    connection_timeout = REQUEST_TIMEOUT_SECONDS

    def on_start(self) -> None:
        self.rng = random.Random()
        token = os.environ.get("LOAD_TOKEN", "")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    @task
    def conversation(self) -> None:
        sender = channel_style_sender_id(self.rng)
        for turn, text in enumerate(CONVERSATION, start=1):
            with self.client.post(
                REST_WEBHOOK,
                json={"sender": sender, "message": text},
                headers=self.headers,
                name=f"turn {turn}",
                context={"turn": turn, "sender": sender},
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}: {(response.text or '')[:120]}")
                    continue
                try:
                    replies = response.json()
                except ValueError:
                    response.failure("the body is not JSON")
                    continue
                if not isinstance(replies, list) or not replies:
                    response.failure("no reply")
                    continue
                # the session copied the context into the request's record, which is what the listener reads
                response.request_meta["context"]["bot_messages"] = len(replies)
