"""A seeded month of service traffic for the analytics page's browser test and its screenshot: a few dozen
conversations a day on six channels, busier on weekdays and in the afternoon, written through the analytics
fixture's writer (tests/support/analytics_fixtures.py) so every metric has something real to show.

Each conversation: the customer's question (intent, product, sentiment), the bot's answer (a template, a
past reply the customer may rate, or a fallback), and then either a follow-up the bot answers, silence,
or a handoff (reason and priority by mood) that an agent answers after a few minutes to an hour and often
resolves. Times are naive UTC, as the log stores them; the days are the insurer's local days.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from typing import List, Optional, Tuple
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from tests.support.analytics_fixtures import (
    Chat,
    Handoff,
    Said,
    _past_replies,
    agent,
    bot,
    customer,
    write_chat,
    write_recommendations,
)

CHANNELS = (("whatsapp", 0.34), ("facebook", 0.18), ("instagram", 0.14), ("telegram", 0.12), ("twitter", 0.12),
            ("socketio", 0.10))  # fmt: skip
INTENTS = (("ask_coverage", 0.22), ("claim_status", 0.2), ("pay_bill", 0.14), ("file_claim", 0.12),
           ("ask_deductible", 0.1), ("complain", 0.12), ("request_human", 0.05), ("greet", 0.05))  # fmt: skip
PRODUCTS = ("auto", "home", "renters", "travel", "life")
WEEKDAY_VOLUME = (46, 44, 42, 43, 38, 22, 17)  # Monday first
SLA_HOURS = (8, 20)  # when agents are at their desks (local), answers are quick


def _pick(rng: random.Random, weighted: Tuple[Tuple[str, float], ...]) -> str:
    return rng.choices([name for name, _ in weighted], weights=[w for _, w in weighted])[0]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _local_start(rng: random.Random, day: date, zone: ZoneInfo) -> datetime:
    """A daytime hump peaking mid-afternoon, a little night traffic."""
    hour = min(23.9, max(0.0, rng.gauss(14, 4.2))) if rng.random() > 0.08 else rng.uniform(0, 24)
    return datetime.combine(day, time(0), tzinfo=zone) + timedelta(hours=hour, seconds=rng.randint(0, 59))


def _mood(rng: random.Random, intent: str, bad_day: bool) -> str:
    negative = {"complain": 0.65, "claim_status": 0.25, "request_human": 0.3}.get(intent, 0.08)
    negative += 0.2 if bad_day else 0
    roll = rng.random()
    return "negative" if roll < negative else "positive" if roll > 0.82 else "neutral"


def _first_reply_minutes(rng: random.Random, local_hour: float, priority: int) -> float:
    if SLA_HOURS[0] <= local_hour < SLA_HOURS[1]:
        return rng.lognormvariate(1.3 + 0.45 * priority, 0.7)
    return rng.uniform(60, 9 * 60)  # overnight: the morning shift answers


def one_conversation(rng: random.Random, number: int, start_local: datetime, bad_day: bool) -> Chat:
    channel = _pick(rng, CHANNELS)
    intent = _pick(rng, INTENTS)
    mood = _mood(rng, intent, bad_day)
    product = rng.choice(PRODUCTS) if intent in ("ask_coverage", "ask_deductible", "file_claim", "pay_bill") else None
    now = _utc(start_local)
    said: List[Said] = [customer("q", _stamp(now), intent, mood, product=product)]
    roll = rng.random()
    source = "fallback" if roll < 0.09 else "retrieval" if roll < 0.33 else "template"
    rating: Optional[bool] = None
    if source == "retrieval" and rng.random() < 0.45:
        rating = rng.random() < (0.45 if mood == "negative" else 0.8)
    now += timedelta(seconds=rng.randint(1, 3))
    extra: dict = {"past_reply": 1} if source == "retrieval" else {}
    if rating is not None:
        extra.update(feedback=rating, feedback_at=_stamp(now + timedelta(minutes=1)))
    said.append(bot("a", _stamp(now), source, "q", **extra))
    wants_person = intent in ("complain", "request_human") or mood == "negative" or source == "fallback"
    handoffs: List[Handoff] = []
    status = "pending"
    if wants_person and rng.random() < 0.7:
        now += timedelta(minutes=rng.uniform(0.5, 3))
        said.append(customer("r", _stamp(now), "request_human" if mood != "negative" else "complain", mood))
        now += timedelta(seconds=1)
        said.append(bot("h", _stamp(now), "handoff", "r"))
        reason = ("fallback" if source == "fallback" else "complaint" if intent == "complain"
                  else "negative_sentiment" if mood == "negative" else "customer_request")  # fmt: skip
        priority = 1 if reason == "complaint" else 2 if mood == "negative" else 3
        handed_over = now
        local_hour = start_local.hour + start_local.minute / 60
        if rng.random() < 0.93:
            now += timedelta(minutes=_first_reply_minutes(rng, local_hour, priority))
            said.append(agent("f", _stamp(now)))
            resolved = rng.random() < 0.85
            if resolved:
                now += timedelta(minutes=rng.uniform(4, 50))
                said.append(agent("g", _stamp(now)))
            handoffs.append(Handoff(_stamp(handed_over), reason, priority, _stamp(now) if resolved else None,
                                    "resolved" if resolved else None))  # fmt: skip
            status = "resolved" if resolved else "open"
        else:
            handoffs.append(Handoff(_stamp(handed_over), reason, priority))
            status = "escalated"
    elif rng.random() < 0.45:
        now += timedelta(minutes=rng.uniform(0.5, 4))
        follow_up = rng.choice(["affirm", "thank", "inform"])
        said.append(customer("c", _stamp(now), follow_up, "positive" if mood != "negative" else mood))
        now += timedelta(seconds=1)
        said.append(bot("d", _stamp(now), "template", "c"))
    return Chat(f"{channel}:{900000 + number}", status, said, handoffs)


def month_of_traffic(last_day: date, zone_name: str, days: int = 30, seed: int = 17) -> List[Chat]:
    """`days` local days ending with `last_day`; one bad day in the middle (an outage) turns customers negative."""
    rng = random.Random(seed)
    zone = ZoneInfo(zone_name)
    first = last_day - timedelta(days=days - 1)
    bad_day = first + timedelta(days=days // 2)
    chats: List[Chat] = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        volume = int(WEEKDAY_VOLUME[day.weekday()] * rng.uniform(0.8, 1.2) * (1.6 if day == bad_day else 1))
        for _ in range(volume):
            chats.append(one_conversation(rng, len(chats), _local_start(rng, day, zone), day == bad_day))
    return chats


def write_month(session: Session, chats: List[Chat]) -> None:
    """Into a migrated database; the two past replies the bot quotes come first (as the fixture's do). Every
    third conversation is shown two recommendations a minute after it starts, and opens one in three."""
    _past_replies(session)
    for chat in chats:
        write_chat(session, chat)
    shown = []
    for n, chat in enumerate(chats[::3]):
        at = datetime.fromisoformat(chat.messages[0].sent_at) + timedelta(minutes=1)
        opened = [("open", (at + timedelta(minutes=2)).isoformat(sep=" "))] if n % 3 == 0 else []
        shown += [(chat.id, at.isoformat(sep=" "), "tip-a", opened), (chat.id, at.isoformat(sep=" "), "guide-b", [])]
    write_recommendations(session, shown)
