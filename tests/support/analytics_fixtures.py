"""A small interaction log written by hand for the analytics tests: ten conversations whose every metric is
worked out in tests/analytics/test_metrics.py.

Times are UTC, as the log stores them; the insurer is in America/New_York. Daylight saving time began on
2026-03-08 at 07:00 UTC (2 a.m. EST → 3 a.m. EDT) and ends on 2026-11-01 at 06:00 UTC (2 a.m. EDT → 1 a.m.
EST). The comments give local times.

C0  telegram:42                   Fri Mar 6 07:00 EST   outside the period (before it)
C1  whatsapp:15550001111          Sat Mar 7 09:00 EST   auto; past reply answered, 👍 → bot-resolved
C2  telegram:12345                Sat Mar 7 23:30 EST   home; answered, then silence → bot-resolved
                                  (Mar 8 in UTC: the local day is what counts)
C3  facebook:6789012345678901     Sun Mar 8 01:30 EST   fallback, second miss → handoff (fallback, p2) on a
                                  Sunday night; first agent reply Mon 08:10 EDT, resolved Mon 08:30 EDT
C4  whatsapp:15550002222          Mon Mar 9 11:00 EDT   auto; complaint → handoff (p1), answered in 3 min
C5  telegram:123456789            Mon Mar 9 12:00 EDT   travel; past reply 👍, then asks for a person (p3):
                                  the handoff wins; never answered
C6  instagram:1254459154682919    Tue Mar 10 09:00 EDT  renters; past reply 👎
C7  twitter:3001969357            Tue Mar 10 10:00 EDT  an agent took over without an escalation
C8  whatsapp:15550003999          Tue Mar 10 16:00 EDT  answered; less than 24 h of silence at AS_OF
C9  wechat:oUpF8-uMuAJO_M2pxb1Q9zNjWeS6o  Tue Mar 10 17:00 EDT  one customer message, no reply logged
C10 telegram:777001               Sun Nov 1 01:30 EDT and 01:30 EST: the repeated hour
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, List, Optional, Tuple

from sqlalchemy.orm import Session

from storage.models import (
    AnswerFeedback,
    ContentEvent,
    ContentImpression,
    ContentItem,
    Conversation,
    Escalation,
    Message,
    PastReply,
)

ZONE = "America/New_York"
AS_OF = datetime(2026, 3, 11, 12, 0)  # "now" for the bot-resolution silence and the SLA clocks
SLA_MINUTES = {1: 5, 2: 15, 3: 60}  # INBOX_SLA_MINUTES' defaults
# Harbor Mutual's "Mon-Fri 8am-8pm, Sat 9am-2pm ET"
WEEKDAYS = {day: (8 * 60, 20 * 60) for day in range(5)}
OPENING_HOURS = {**WEEKDAYS, 5: (9 * 60, 14 * 60)}

C0 = "telegram:42"
C1 = "whatsapp:15550001111"
C2 = "telegram:12345"
C3 = "facebook:6789012345678901"
C4 = "whatsapp:15550002222"
C5 = "telegram:123456789"
C6 = "instagram:1254459154682919"
C7 = "twitter:3001969357"
C8 = "whatsapp:15550003999"
C9 = "wechat:oUpF8-uMuAJO_M2pxb1Q9zNjWeS6o"
C10 = "telegram:777001"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class Said:
    """One logged message. `answers`: the label of the customer message a bot reply answers; `feedback`:
    the customer's 👍 (True) or 👎 (False) on this past-reply answer, given at `feedback_at`."""

    label: str
    sent_at: str
    author: str
    intent: Optional[str] = None
    sentiment: Optional[str] = None
    source: Optional[str] = None
    product: Optional[str] = None
    answers: Optional[str] = None
    past_reply: Optional[int] = None
    feedback: Optional[bool] = None
    feedback_at: Optional[str] = None


@dataclass
class Handoff:
    created_at: str
    reason: str
    priority: int
    resolved_at: Optional[str] = None
    outcome: Optional[str] = None


@dataclass
class Chat:
    id: str
    status: str
    messages: List[Said]
    handoffs: List[Handoff] = field(default_factory=list)

    @property
    def channel(self) -> str:
        return self.id.split(":", 1)[0]


def customer(label: str, sent_at: str, intent: str, sentiment: Optional[str], product: Optional[str] = None) -> Said:
    return Said(label, sent_at, "customer", intent=intent, sentiment=sentiment, product=product)


def bot(label: str, sent_at: str, source: str, answers: str, **extra: object) -> Said:
    return Said(label, sent_at, "bot", source=source, answers=answers, **extra)  # type: ignore[arg-type]


def agent(label: str, sent_at: str) -> Said:
    return Said(label, sent_at, "agent", source="agent")


CHATS = [
    Chat(
        C0,
        "pending",
        [
            customer("a", "2026-03-06 12:00:00", "greet", "neutral"),
            bot("b", "2026-03-06 12:00:01", "template", "a"),
        ],
    ),
    Chat(
        C1,
        "pending",
        [
            customer("a", "2026-03-07 14:00:00", "ask_coverage", "neutral", product="auto"),
            bot(
                "b",
                "2026-03-07 14:00:02",
                "retrieval",
                "a",
                past_reply=1,
                feedback=True,
                feedback_at="2026-03-07 14:01:00",
            ),  # fmt: skip
            customer("c", "2026-03-07 14:01:00", "affirm", "positive"),
            bot("d", "2026-03-07 14:01:01", "template", "c"),
        ],
    ),
    Chat(
        C2,
        "pending",
        [
            customer("a", "2026-03-08 04:30:00", "greet", "neutral"),
            bot("b", "2026-03-08 04:30:01", "template", "a"),
            customer("c", "2026-03-08 04:31:00", "ask_deductible", "neutral", product="home"),
            bot("d", "2026-03-08 04:31:02", "knowledge", "c"),
        ],
    ),
    Chat(
        C3,
        "resolved",
        [
            customer("a", "2026-03-08 06:30:00", "nlu_fallback", "neutral"),
            bot("b", "2026-03-08 06:30:01", "fallback", "a"),
            customer("c", "2026-03-08 06:31:00", "nlu_fallback", "negative"),
            bot("d", "2026-03-08 06:31:01", "handoff", "c"),
            customer("e", "2026-03-09 04:30:00", "complain", "negative"),  # Mon 00:30 EDT (Sun 23:30 in EST)
            agent("f", "2026-03-09 12:10:00"),
            customer("g", "2026-03-09 12:15:00", "thank", "positive"),
            agent("h", "2026-03-09 12:20:00"),
        ],
        [Handoff("2026-03-08 06:31:01", "fallback", 2, "2026-03-09 12:30:00", "resolved")],
    ),
    Chat(
        C4,
        "resolved",
        [
            customer("a", "2026-03-09 15:00:00", "complain", "negative", product="auto"),
            bot("b", "2026-03-09 15:00:02", "handoff", "a"),
            agent("c", "2026-03-09 15:03:02"),
            customer("d", "2026-03-09 15:04:00", "inform", "neutral"),
            customer("e", "2026-03-09 15:05:00", "inform", "neutral"),
            agent("f", "2026-03-09 15:06:00"),
            agent("g", "2026-03-09 15:06:30"),
        ],
        [Handoff("2026-03-09 15:00:02", "complaint", 1, "2026-03-09 15:10:02", "resolved")],
    ),
    Chat(
        C5,
        "escalated",
        [
            customer("a", "2026-03-09 16:00:00", "ask_coverage", "neutral", product="travel"),
            bot(
                "b",
                "2026-03-09 16:00:02",
                "retrieval",
                "a",
                past_reply=2,
                feedback=True,
                feedback_at="2026-03-09 16:01:00",
            ),  # fmt: skip
            customer("c", "2026-03-09 16:01:00", "affirm", "positive"),
            bot("d", "2026-03-09 16:01:01", "template", "c"),
            customer("e", "2026-03-09 16:02:00", "request_human", "neutral"),
            bot("f", "2026-03-09 16:02:01", "handoff", "e"),
        ],
        [Handoff("2026-03-09 16:02:01", "customer_request", 3)],
    ),
    Chat(
        C6,
        "pending",
        [
            customer("a", "2026-03-10 13:00:00", "ask_deductible", "neutral", product="renters"),
            bot(
                "b",
                "2026-03-10 13:00:02",
                "retrieval",
                "a",
                past_reply=1,
                feedback=False,
                feedback_at="2026-03-10 13:01:00",
            ),  # fmt: skip
            customer("c", "2026-03-10 13:01:00", "deny", "negative"),
            bot("d", "2026-03-10 13:01:01", "template", "c"),
        ],
    ),
    Chat(
        C7,
        "open",
        [
            customer("a", "2026-03-10 14:00:00", "claim_status", None),  # logged before sentiment existed
            bot("b", "2026-03-10 14:00:01", "lookup", "a"),
            agent("c", "2026-03-10 14:05:00"),
        ],
    ),
    Chat(
        C8,
        "pending",
        [
            customer("a", "2026-03-10 20:00:00", "greet", "positive"),
            bot("b", "2026-03-10 20:00:01", "template", "a"),
        ],
    ),
    Chat(C9, "pending", [customer("a", "2026-03-10 21:00:00", "complain", "negative")]),
    Chat(
        C10,
        "pending",
        [
            customer("a", "2026-11-01 05:30:00", "greet", "neutral"),  # 01:30 EDT
            bot("b", "2026-11-01 05:30:01", "template", "a"),
            customer("c", "2026-11-01 06:30:00", "greet", "neutral"),  # 01:30 EST, an hour later
            bot("d", "2026-11-01 06:30:01", "template", "c"),
        ],
    ),
]


def _past_replies(session: Session) -> None:
    for number in (1, 2):
        session.add(
            PastReply(
                id=number,
                external_id=f"analytics-{number}",
                question=f"question {number}",
                reply=f"reply {number}",
                product_line="general",
            )
        )
    session.flush()


def _message(chat: Chat, said: Said, ids: Dict[str, int]) -> Message:
    sent_at = at(said.sent_at)
    return Message(
        conversation_id=chat.id,
        event_key=f"{chat.id}|{said.label}",
        direction="inbound" if said.author == "customer" else "outbound",
        author=said.author,
        channel=chat.channel,
        text=f"{said.author} {said.label}",
        intent=said.intent,
        confidence=0.9 if said.intent else None,
        entities=[{"entity": "product", "value": said.product}] if said.product else [],
        sentiment={"label": said.sentiment, "confidence": 0.9} if said.sentiment else None,
        answer_source=said.source,
        past_reply_id=said.past_reply,
        in_reply_to_id=ids[said.answers] if said.answers else None,
        sent_at=sent_at,
        created_at=sent_at,
    )


def write_chat(session: Session, chat: Chat) -> None:
    first, last = at(chat.messages[0].sent_at), at(chat.messages[-1].sent_at)
    session.add(Conversation(id=chat.id, channel=chat.channel, customer_identity=chat.id, status=chat.status,
                             created_at=first, last_message_at=last))  # fmt: skip
    session.flush()
    ids: Dict[str, int] = {}
    for said in chat.messages:
        message = _message(chat, said, ids)
        session.add(message)
        session.flush()
        ids[said.label] = message.id
        if said.feedback is not None:
            session.add(
                AnswerFeedback(
                    conversation_id=chat.id,
                    past_reply_id=said.past_reply,
                    message_id=message.id,
                    helpful=said.feedback,
                    created_at=at(said.feedback_at or said.sent_at),
                )
            )
    for handoff in chat.handoffs:
        resolved = at(handoff.resolved_at) if handoff.resolved_at else None
        session.add(
            Escalation(
                conversation_id=chat.id,
                reason=handoff.reason,
                priority=handoff.priority,
                note="",
                open=resolved is None,
                created_at=at(handoff.created_at),
                resolved_at=resolved,
                outcome=handoff.outcome,
            )
        )
    session.flush()


# Recommendations shown (impressions) and what became of them: (conversation, shown at, item, events (kind, at)).
# Per day: D7 C1 two shown, one opened (its link followed twice), the other dismissed; D8 C3 one shown (Sun 23:30
# EDT); D9 C4 one shown; D10 C6 two shown, one opened. C0's is before the period.
RECOMMENDATIONS = [
    (C0, "2026-03-06 12:01:00", "tip-a", [("open", "2026-03-06 12:02:00")]),
    (C1, "2026-03-07 14:02:00", "tip-a", [("open", "2026-03-07 14:05:00"), ("open", "2026-03-07 14:10:00")]),
    (C1, "2026-03-07 14:02:00", "guide-b", [("dismiss", "2026-03-07 14:06:00")]),
    (C3, "2026-03-09 03:30:00", "guide-b", []),
    (C4, "2026-03-09 15:05:00", "tip-a", []),
    (C6, "2026-03-10 13:05:00", "tip-a", [("open", "2026-03-10 13:07:00")]),
    (C6, "2026-03-10 13:05:00", "guide-b", []),
]


def write_recommendations(session: Session, shown: List[Tuple[str, str, str, List[Tuple[str, str]]]]) -> None:
    """Impressions and their events as `render_recommendations` and the `/r/<token>` redirect write them, of two
    content items made here: (conversation, shown at, item, [(event kind, at)])."""
    items = {}
    for slug, category in (("tip-a", "safety_tip"), ("guide-b", "claim_guide")):
        item = ContentItem(slug=slug, category=category, title=slug, summary=slug, body=slug, content_hash=slug)
        session.add(item)
        session.flush()
        items[slug] = item.id
    for conversation_id, shown_at, slug, events in shown:
        channel = conversation_id.split(":")[0]
        impression = ContentImpression(
            content_item_id=items[slug],
            conversation_id=conversation_id,
            channel=channel,
            moment="answer_given",
            shown_at=at(shown_at),
        )
        session.add(impression)
        session.flush()
        for kind, when in [("impression", shown_at), *events]:
            session.add(
                ContentEvent(
                    kind=kind,
                    content_item_id=items[slug],
                    impression_id=impression.id,
                    conversation_id=conversation_id,
                    channel=channel,
                    at=at(when),
                )
            )
    session.flush()


def write_fixture(session: Session) -> None:
    """The whole log above, into a migrated database with no conversations yet."""
    _past_replies(session)
    for chat in CHATS:
        write_chat(session, chat)
    write_recommendations(session, RECOMMENDATIONS)
