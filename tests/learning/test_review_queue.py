"""The review queue as an annotator meets it: conversations logged by the event broker's projection, ranked
by what they would teach, each message with its reasons; on SQLite and on PostgreSQL when it answers."""

from __future__ import annotations

from typing import Dict, List

import pytest

from learning import annotations, review_queue
from learning.review_queue import WEIGHTS, offered_intents
from storage.engine import session_scope
from storage.models import Agent
from tests.support.review_logs import Chat

FLOOR = 0.6


@pytest.fixture
def people(db_url: str) -> Dict[str, int]:
    with session_scope(db_url) as db:
        rows = {
            "agent": Agent(email="agent@harbor.example", name="Ana", role="agent", password_hash="-"),
            "admin": Agent(email="admin@harbor.example", name="Ade", role="admin", password_hash="-"),
        }
        db.add_all(rows.values())
        db.flush()
        return {key: row.id for key, row in rows.items()}


def ranked(db_url: str, reason: str | None = None, floor: float = FLOOR) -> List[review_queue.QueueItem]:
    with session_scope(db_url) as db:
        items, total = review_queue.queue(db, floor, limit=50, reason=reason)
        assert total == len(items)
        return items


def texts(items: List[review_queue.QueueItem]) -> List[str]:
    return [item.message.text for item in items]


def reasons(item: review_queue.QueueItem) -> List[str]:
    return [r["reason"] for r in item.reasons]


@pytest.fixture
def logged(db_url: str) -> Dict[str, int]:
    """A morning of chats: a 👎 on a retrieved answer, a fallback, a low-confidence quote request, and the
    ordinary messages that teach nothing."""
    ids = {}
    pipe = Chat(db_url, "whatsapp:15550001111")
    ids["hello"] = pipe.customer("hi there", "greet", 0.99)
    pipe.bot("Hi, I'm Harbor Mutual's virtual assistant.", utter_action="utter_greet")
    ids["pipe"] = pipe.customer("my basement flooded from a burst pipe, am I covered", "ask_coverage", 0.88)
    pipe.retrieved_answer("Sudden burst pipes are covered; gradual leaks are not.", helpful=False)

    iguana = Chat(db_url, "telegram:123456789", channel="telegram")
    ids["iguana"] = iguana.customer("can u insure my iguana lol", "nlu_fallback", 0.3)
    iguana.bot("Sorry, I didn't get that. Could you say it another way?", utter_action="utter_ask_rephrase")

    teen = Chat(db_url, "messenger:4455667788", channel="messenger")
    ids["teen"] = teen.customer("how much more if my 16yo starts driving the civic", "get_quote", 0.52)
    teen.bot("Which cover would you like a quote for?", utter_action="utter_ask_product")
    ids["thanks"] = teen.customer("ok thanks", "thank_you", 0.97)
    ids["weather"] = teen.customer("what's the weather tomorrow", "out_of_scope", 0.81)
    teen.bot("I can only help with your insurance.", utter_action="utter_out_of_scope")
    return ids


def test_fallback_and_thumbs_down_come_first_with_their_reasons(db_url: str, logged: Dict[str, int]) -> None:
    items = ranked(db_url)
    assert texts(items) == [
        "my basement flooded from a burst pipe, am I covered",  # 👎: 5
        "can u insure my iguana lol",  # nlu_fallback: 4
        "what's the weather tomorrow",  # out_of_scope: 2, newer than the quote request
        "how much more if my 16yo starts driving the civic",  # confidence 0.52 < 0.6: 2
    ]
    assert [reasons(i) for i in items] == [["thumbs_down"], ["fallback"], ["out_of_scope"], ["low_confidence"]]
    assert [i.score for i in items] == [5, 4, 2, 2]
    assert items[0].reasons[0]["why"] == "the customer gave the bot's answer to it a 👎"
    assert items[3].reasons[0]["why"] == "the model's confidence 0.52 is under the floor 0.60"
    assert items[0].message.channel == "whatsapp" and items[1].message.conversation_id == "telegram:123456789"


def test_a_confident_misreading_that_the_bot_could_not_act_on(db_url: str) -> None:
    """Seen in the live learning-loop run: "some1 hit my car" read as `inform` at 1.00, answered "What would you
    like me to do with that?"; 25 of 30 such first notices of loss were in no queue. The model was sure, so
    neither the fallback nor the confidence floor flags it: the bot's reply does."""
    car = Chat(db_url, "whatsapp:15550003333")
    car.customer("some1 hit my car in the grocery store lot", "inform", 1.0)
    car.bot("Thanks! What would you like me to do with that?", utter_action="utter_inform_without_context")
    pipe = Chat(db_url, "telegram:777000111", channel="telegram")
    pipe.customer("burst pipe upstairs, ceiling is dripping", "ask_coverage", 0.91)
    pipe.bot("I'm not sure I understood. Could you rephrase it?", utter_action="utter_ask_rephrase")
    fine = Chat(db_url, "messenger:4455667799", channel="messenger")
    fine.customer("i want to file a claim", "file_claim", 0.99)
    fine.bot("I'm sorry to hear that. What happened?", utter_action="utter_ask_incident_type")

    items = ranked(db_url)
    assert texts(items) == ["burst pipe upstairs, ceiling is dripping", "some1 hit my car in the grocery store lot"]
    assert [reasons(i) for i in items] == [["reply_missed"], ["reply_missed"]]
    assert items[1].reasons[0]["why"] == (
        "the model read it as inform (1.00), yet the bot's reply fell back or asked what the customer wanted"
    )


def test_the_floor_is_a_setting(db_url: str, logged: Dict[str, int]) -> None:
    assert "how much more if my 16yo starts driving the civic" not in texts(ranked(db_url, floor=0.5))
    assert "hi there" in texts(ranked(db_url, floor=0.995))
    assert texts(ranked(db_url, "low_confidence", floor=0.0)) == []


def test_a_thumbs_up_is_no_reason(db_url: str) -> None:
    chat = Chat(db_url, "whatsapp:15550002222")
    chat.customer("does home insurance cover hail on the roof", "ask_coverage", 0.9)
    chat.retrieved_answer("Yes, storm and hail damage to the roof is covered.", helpful=True)
    assert ranked(db_url) == []


def test_reason_filter_keeps_the_ranking(db_url: str, logged: Dict[str, int]) -> None:
    assert texts(ranked(db_url, "fallback")) == ["can u insure my iguana lol"]
    assert texts(ranked(db_url, "thumbs_down")) == ["my basement flooded from a burst pipe, am I covered"]
    with session_scope(db_url) as db, pytest.raises(review_queue.ReviewError, match="reason must be one of"):
        review_queue.queue(db, FLOOR, reason="boring")


def test_limit_and_total(db_url: str, logged: Dict[str, int]) -> None:
    with session_scope(db_url) as db:
        items, total = review_queue.queue(db, FLOOR, limit=2, offset=1)
    assert total == 4 and texts(items) == ["can u insure my iguana lol", "what's the weather tomorrow"]


def test_the_message_just_before_a_handoff_or_a_take_over(db_url: str, people: Dict[str, int]) -> None:
    claim = Chat(db_url, "whatsapp:15550003333")
    claim.customer("where is my claim CL-204117", "claim_status", 0.95)
    claim.bot("Your claim CL-204117 is being assessed.", answer_source="lookup")
    claim.customer("that is what you said three weeks ago", "inform", 0.71)
    claim.handoff("complaint")
    claim.bot("I'm passing you to a person.", answer_source="handoff")
    claim.customer("hello??", "greet", 0.9)  # after the handoff: not what triggered it

    fire = Chat(db_url, "telegram:987654321", channel="telegram")
    fire.customer("my kitchen caught fire last night", "file_claim", 0.92)
    fire.bot("I'm sorry to hear that. What's your policy number?", utter_action="utter_ask_policy_number")
    fire.customer("I cant find it, everything burned", "deny", 0.77)
    fire.take_over(people["agent"])

    items = ranked(db_url)
    assert [(i.message.text, reasons(i)) for i in items] == [
        ("I cant find it, everything burned", ["before_take_over"]),
        ("that is what you said three weeks ago", ["before_handoff"]),
    ]
    assert items[1].reasons[0]["why"] == "the conversation was handed to people right after it"


def test_intents_the_model_confuses(db_url: str, people: Dict[str, int]) -> None:
    chat = Chat(db_url, "whatsapp:15550004444")
    first = chat.customer("is my car covered if a tree falls on it while parked", "ask_coverage", 0.91)
    second = chat.customer("the tree fell on my car, what now", "ask_coverage", 0.9)
    third = chat.customer("tree on my car again, do I file something", "ask_coverage", 0.93)
    once = chat.customer("I want to pay", "pay_premium", 0.95)
    with session_scope(db_url) as db:
        for message_id in (first, second):
            annotations.annotate(db, message_id, people["agent"], "file_claim")
        annotations.annotate(db, once, people["agent"], "billing_issue")
    items = ranked(db_url)
    assert [(i.message.id, reasons(i)) for i in items] == [(third, ["confused_intent"])]
    assert items[0].reasons[0]["why"] == "2 earlier annotations corrected ask_coverage to another intent"
    assert items[0].score == WEIGHTS["confused_intent"]


def test_ties_go_to_the_newest(db_url: str) -> None:
    chat = Chat(db_url, "whatsapp:15550005555")
    older = chat.customer("blorp insurance thing??", "nlu_fallback", 0.2)
    newer = chat.customer("zzz policy what", "nlu_fallback", 0.25)
    assert [i.message.id for i in ranked(db_url)] == [newer, older]


def test_buttons_files_and_replies_are_never_in_the_queue(db_url: str) -> None:
    chat = Chat(db_url, "telegram:111222333", channel="telegram")
    chat.customer('/inform{"incident_type": "fire"}', "inform", 0.3)
    chat.bot("Sorry, I didn't get that.", utter_action="utter_ask_rephrase")
    assert ranked(db_url) == []
    with session_scope(db_url) as db:
        bot_message = chat.ids[-1]
        with pytest.raises(review_queue.NotACustomerMessage, match="only those can be annotated"):
            review_queue.reviewable_message(db, bot_message)
        with pytest.raises(review_queue.MessageNotFound):
            review_queue.reviewable_message(db, 999_999)


def test_context_shows_three_messages_either_side_with_authors(db_url: str) -> None:
    chat = Chat(db_url, "whatsapp:15550006666")
    chat.customer("hi", "greet", 0.99)
    chat.bot("Hi! How can I help?", utter_action="utter_greet")
    chat.customer("I need a quote", "get_quote", 0.95)
    chat.bot("Which cover would you like a quote for?", utter_action="utter_ask_product")
    middle = chat.customer("the one for my flat, not the car", "inform", 0.42)
    chat.bot("Sorry, I didn't get that.", utter_action="utter_ask_rephrase")
    chat.customer("renters", "inform", 0.9)
    chat.bot("Renters it is.", utter_action="utter_quote_product")
    chat.customer("thanks", "thank_you", 0.99)
    with session_scope(db_url) as db:
        from storage.models import Message

        around = review_queue.context(db, db.get(Message, middle))
        replies = review_queue.bot_replies(db, db.get(Message, middle))
    assert [(m["author"], m["text"]) for m in around["before"]] == [
        ("bot", "Hi! How can I help?"),
        ("customer", "I need a quote"),
        ("bot", "Which cover would you like a quote for?"),
    ]
    assert [(m["author"], m["text"]) for m in around["after"]] == [
        ("bot", "Sorry, I didn't get that."),
        ("customer", "renters"),
        ("bot", "Renters it is."),
    ]
    assert [(r["text"], r["answer_source"]) for r in replies] == [("Sorry, I didn't get that.", "fallback")]


def test_offered_intents_are_the_models_top_five_of_the_domain() -> None:
    domain = review_queue.load_domain()
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.4},
        {"name": "ask_coverage", "confidence": 0.3},
        {"name": "file_claim", "confidence": 0.2},
        {"name": "claim_status", "confidence": 0.1},
        {"name": "not_an_intent_anymore", "confidence": 0.05},
        {"name": "complaint", "confidence": 0.04},
        {"name": "greet", "confidence": 0.03},
        {"name": "goodbye", "confidence": 0.02},
    ]
    offered = offered_intents(ranking, "nlu_fallback", domain)
    assert [o["intent"] for o in offered] == ["ask_coverage", "file_claim", "claim_status", "complaint", "greet"]
    assert offered[0] == {"intent": "ask_coverage", "confidence": 0.3, "source": "model"}
    assert offered_intents(None, "ask_coverage", domain) == [
        {"intent": "ask_coverage", "confidence": None, "source": "log"}
    ]
    assert offered_intents(None, "nlu_fallback", domain) == []
    assert "out_of_scope" in domain.intents and "nlu_fallback" not in domain.intents
    assert "policy_number" in domain.entities
