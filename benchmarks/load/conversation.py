"""What every simulated customer says, and the sender ids they say it under (no locust import here:
the orchestrator and the tests read these without gevent patching their process)."""

from __future__ import annotations

import random
import uuid

REST_WEBHOOK = "/webhooks/rest/webhook"
# Read the same by both bots: a greeting, a coverage question (Coverline answers it from past replies and
# asks whether that helped), a yes, a bot challenge and a goodbye. None of them hands off to a person.
CONVERSATION = (
    "hi there",
    "does home insurance cover a burst pipe?",
    "yes, thanks",
    "are you a bot?",
    "goodbye",
)


def channel_style_sender_id(rng: random.Random) -> str:
    """A sender id as Coverline's doors write them, `<channel>:<platform user id>`, or a web chat session:
    new for every conversation, so each one starts its own tracker."""
    shape = rng.randrange(4)
    if shape == 0:
        return f"whatsapp:1555{rng.randrange(10**7):07d}"
    if shape == 1:
        return f"telegram:{rng.randrange(10**8, 10**10)}"
    if shape == 2:
        return f"messenger:{rng.randrange(10**15, 10**16)}"
    return uuid.UUID(int=rng.getrandbits(128)).hex
