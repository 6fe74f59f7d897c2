"""A seeded month of simulated customer traffic with daily and weekly rhythm, written as real interaction-log rows.

Rates are customer messages per 5-minute bucket at the busiest hour of a weekday; nights fall to a sixth of
that and weekends to 60 %. About one message in ten is negative, more on complaints. A spike turns one channel
negative (and somewhat busier) from a given minute for a while, as an outage or a viral complaint would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from storage.models import Conversation, Message

MONTH_START = datetime(2026, 10, 1)  # a Thursday
DAYS = 30
BUCKET = timedelta(minutes=5)
CHANNEL_PEAK_RATES = {"whatsapp": 3.0, "twitter": 2.0, "facebook": 1.5, "telegram": 1.0}
SENDER_PREFIXES = {"whatsapp": "1555000", "twitter": "14402", "facebook": "5021", "telegram": "88"}
INTENTS: Tuple[Tuple[str, float, float], ...] = (  # intent, share of traffic, negative share
    ("claim_status", 0.25, 0.12),
    ("ask_coverage", 0.25, 0.04),
    ("pay_bill", 0.20, 0.08),
    ("file_claim", 0.15, 0.10),
    ("complain", 0.15, 0.30),
)
CUSTOMERS_PER_CHANNEL = 300


@dataclass(frozen=True)
class Spike:
    channel: str
    start: datetime
    duration: timedelta = timedelta(hours=2)
    negative_share: float = 0.8
    volume_factor: float = 4.0

    def covers(self, channel: str, moment: datetime) -> bool:
        return channel == self.channel and self.start <= moment < self.start + self.duration


def rhythm(moment: datetime) -> float:
    """Share of the peak rate at this time: a daytime hump (peak 13:00), a night floor, quieter weekends."""
    hour = moment.hour + moment.minute / 60
    daily = 1 / 6 + (5 / 6) * math.exp(-(((hour - 13) / 4.5) ** 2))
    return daily * (0.6 if moment.weekday() >= 5 else 1.0)


def sender_id(channel: str, number: int) -> str:
    return f"{channel}:{SENDER_PREFIXES[channel]}{number:04d}"


def simulated_rows(seed: int, spike: Optional[Spike] = None, days: int = DAYS) -> Iterator[Dict[str, object]]:
    """Message rows (customer messages only: the monitor reads nothing else), oldest first."""
    rng = np.random.default_rng(seed)
    names = [name for name, _, _ in INTENTS]
    weights = np.array([weight for _, weight, _ in INTENTS])
    negative_rates = np.array([negative for _, _, negative in INTENTS])
    moment, end, serial = MONTH_START, MONTH_START + timedelta(days=days), 0
    while moment < end:
        for channel, peak in CHANNEL_PEAK_RATES.items():
            spiking = spike is not None and spike.covers(channel, moment)
            rate = peak * rhythm(moment) * (spike.volume_factor if spiking and spike else 1.0)
            for _ in range(rng.poisson(rate)):
                serial += 1
                intent = int(rng.choice(len(names), p=weights))
                negative = rng.random() < (spike.negative_share if spiking and spike else negative_rates[intent])
                sent_at = moment + timedelta(seconds=float(rng.uniform(0, BUCKET.total_seconds())))
                if spiking and spike and sent_at < spike.start:
                    negative = rng.random() < negative_rates[intent]
                label = "negative" if negative else ("neutral" if rng.random() < 0.7 else "positive")
                yield {
                    "conversation_id": sender_id(channel, int(rng.integers(CUSTOMERS_PER_CHANNEL))),
                    "event_key": f"sim-{seed}-{serial}",
                    "platform_message_id": f"sim-{serial}",
                    "direction": "inbound",
                    "author": "customer",
                    "channel": channel,
                    "text": "simulated",
                    "intent": names[intent],
                    "confidence": 0.9,
                    "sentiment": {"label": label, "confidence": 0.9},
                    "sent_at": sent_at,
                    "created_at": sent_at,
                }
        moment += BUCKET


def write_month(session: Session, seed: int, spike: Optional[Spike] = None, days: int = DAYS) -> int:
    """Bulk-insert the month (conversations first, for the foreign key); the number of messages written."""
    rows: List[Dict[str, object]] = list(simulated_rows(seed, spike, days))
    conversations = sorted({(str(row["conversation_id"]), str(row["channel"])) for row in rows})
    session.execute(
        insert(Conversation),
        [
            {"id": cid, "channel": channel, "customer_identity": cid.split(":", 1)[1], "status": "pending",
             "created_at": MONTH_START, "last_message_at": MONTH_START}
            for cid, channel in conversations
        ],
    )  # fmt: skip
    for first in range(0, len(rows), 20000):
        session.execute(insert(Message), rows[first : first + 20000])
    return len(rows)
