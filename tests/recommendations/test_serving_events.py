"""Impressions, dismissals and conversions in SQL, once each: a "not for me" tap is recorded once and only for the
conversation that was shown the item; a quote that became a policy converts the impressions of what sold it; racing
writers of the same open leave one row, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.nlu.training_data.message import Message

from recommendations.events import (
    DISMISS_ENTITY,
    Showing,
    dismiss_payload,
    dismissed_impression,
    record_conversion,
    record_dismissal,
    record_impressions,
    record_open,
)
from storage.engine import session_scope
from storage.models import ContentEvent, ContentImpression, Quote
from tests.support.content_serving import content_database, items_by_slug, rows_of

WHATSAPP = "whatsapp:15550001111"
TELEGRAM = "telegram:777000111"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield content_database(f"sqlite:///{tmp_path / 'events.db'}")
    else:
        yield content_database(request.getfixturevalue("fresh_postgres_url"))


def show(db_url: str, conversation: str, *slugs: str, channel: str = "whatsapp", moment: str = "answer_given") -> list:
    items = items_by_slug(db_url, *slugs)
    with session_scope(db_url) as session:
        rows = record_impressions(
            session,
            [Showing(item.id, position) for position, item in enumerate(items)],
            conversation_id=conversation,
            channel=channel,
            moment=moment,
        )
        return [row.id for row in rows]


def test_not_for_me_is_recorded_once(db_url: str) -> None:
    [impression] = show(db_url, WHATSAPP, "tip-winter-driving")

    with session_scope(db_url) as session:
        first = record_dismissal(session, WHATSAPP, str(impression))
    with session_scope(db_url) as session:
        again = record_dismissal(session, WHATSAPP, impression)

    [event] = rows_of(db_url, ContentEvent, kind="dismiss")
    assert first.id == again.id == event.id
    assert (event.impression_id, event.conversation_id, event.channel) == (impression, WHATSAPP, "whatsapp")
    [item] = items_by_slug(db_url, "tip-winter-driving")
    assert event.content_item_id == item.id


@pytest.mark.parametrize("claimed", ["other conversation", "999999", "1 OR 1=1", "", None])
def test_a_dismissal_of_an_impression_not_shown_here_changes_nothing(db_url: str, claimed) -> None:
    [impression] = show(db_url, WHATSAPP, "tip-frozen-pipes")
    with session_scope(db_url) as session:
        if claimed == "other conversation":
            assert record_dismissal(session, TELEGRAM, impression) is None
        else:
            assert record_dismissal(session, WHATSAPP, claimed) is None

    assert rows_of(db_url, ContentEvent, kind="dismiss") == []


def test_each_item_shown_is_one_impression_with_its_event(db_url: str) -> None:
    first = show(db_url, TELEGRAM, "tip-ice-dams", "tip-wildfire", channel="telegram")
    again = show(db_url, TELEGRAM, "tip-wildfire", "tip-ice-dams", channel="telegram")

    assert again == first[::-1]
    assert [e.impression_id for e in rows_of(db_url, ContentEvent, kind="impression")] == first
    assert [i.position for i in rows_of(db_url, ContentImpression)] == [0, 1]


def test_a_quote_that_became_a_policy_converts_what_sold_it_once(db_url: str) -> None:
    offer, tip = show(db_url, WHATSAPP, "offer-bundle-home-with-auto", "tip-frozen-pipes")
    [sold] = items_by_slug(db_url, "offer-bundle-home-with-auto")
    with session_scope(db_url) as session:
        session.add(
            Quote(
                reference="QT-4F7K2P",
                conversation_id=WHATSAPP,
                product=sold.offers_product,
                inputs={},
                annual_premium=Decimal("1180.00"),
            )
        )
    with session_scope(db_url) as session:
        record_conversion(session, "QT-4F7K2P", "HM-AUTO-204881")
    with session_scope(db_url) as session:
        record_conversion(session, "QT-4F7K2P", "HM-AUTO-204881")  # the policy system told us twice

    [event] = rows_of(db_url, ContentEvent, kind="conversion")
    assert event.impression_id == offer
    assert event.detail == {"quote": "QT-4F7K2P", "policy": "HM-AUTO-204881", "product": sold.offers_product}
    with session_scope(db_url) as session:
        assert record_conversion(session, "QT-NOPE00", "HM-AUTO-1") == []


def test_racing_opens_of_one_link_leave_one_open(db_url: str) -> None:
    [impression_id] = show(db_url, WHATSAPP, "tip-hurricane-prep")
    start = threading.Barrier(6)
    failures: list = []

    def open_link() -> None:
        try:
            start.wait()
            with session_scope(db_url) as session:
                record_open(session, session.get(ContentImpression, impression_id))
        except Exception as error:  # surfaced below: a racing writer must not fail either
            failures.append(error)

    threads = [threading.Thread(target=open_link) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(rows_of(db_url, ContentEvent, kind="open", impression_id=impression_id)) == 1


def test_the_dismiss_payload_names_the_impression_as_rasa_reads_it() -> None:
    domain = Domain.from_dict({"intents": ["dismiss_content"], "entities": [DISMISS_ENTITY]})
    parsed = YAMLStoryReader.unpack_regex_message(Message(data={"text": dismiss_payload(1234567)}), domain)

    assert parsed.get("intent")["name"] == "dismiss_content"
    assert dismissed_impression(parsed.get("entities")) == "1234567"
    assert dismissed_impression([{"entity": "product", "value": "auto"}]) is None
