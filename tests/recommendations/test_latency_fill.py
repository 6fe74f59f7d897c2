"""The latency benchmark's synthetic book (benchmarks/recommendations/latency_data.py), filled at a tiny size:
it writes the rows it claims, and the recommender reads from it the customers the report describes (verified
ones with their policies, anonymous ones from the conversation alone)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from benchmarks.recommendations.latency_data import Sizes, conversation_id, fill, is_verified
from recommendations.profile import load_profile
from recommendations.recommender import recommend_for_conversation
from storage.engine import dispose_engines, session_scope
from storage.migrate import upgrade
from storage.models import Customer, Policy

NOW = datetime(2026, 12, 6, 12, 0, 0)
SIZES = Sizes(customers=60, items=150)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory):
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('latency')) / 'book.db'}"
    upgrade(url)
    book = fill(url, NOW, SIZES)
    yield url, book
    dispose_engines()


def test_every_table_holds_the_rows_the_fill_reports(filled) -> None:
    url, book = filled
    with session_scope(url, read_only=True) as session:
        stored = {table: session.execute(text(f"SELECT count(*) FROM {table}")).scalar() for table in book.counts}
    assert stored == book.counts
    assert book.counts["customers"] == 60
    assert book.counts["content_items"] == 150
    assert book.counts["conversations"] == 60
    assert book.counts["customer_verifications"] == book.verified == 48  # every fifth conversation anonymous
    assert book.counts["messages"] == 60 * SIZES.customer_messages * 2  # each customer message has a bot reply
    assert book.counts["content_impressions"] == 60 * SIZES.impressions_per_customer
    assert book.counts["content_events"] == int(book.counts["content_impressions"] * SIZES.events_per_impression)


def test_each_customer_holds_one_to_three_products(filled) -> None:
    url, _ = filled
    with session_scope(url, read_only=True) as session:
        held = session.execute(
            select(Policy.customer_id, func.count(func.distinct(Policy.product))).group_by(Policy.customer_id)
        ).all()
        customers = session.scalar(select(func.count(Customer.id)))
    assert len(held) == customers
    assert {n for _, n in held} <= {1, 2, 3}


def test_the_recommender_sees_verified_and_anonymous_customers(filled) -> None:
    url, book = filled
    verified, anonymous = conversation_id(1), conversation_id(5)
    assert is_verified(1) and not is_verified(5)
    assert book.conversations[0] == verified
    with session_scope(url, read_only=True) as session:
        known = load_profile(session, verified, NOW)
        unknown = load_profile(session, anonymous, NOW)
        found = recommend_for_conversation(session, verified, "greeting", now=NOW)
    assert known.customer_id == 1 and not known.anonymous
    assert known.recent_questions  # the customer's messages, not the bot's replies
    assert unknown.anonymous and unknown.customer_id is None and not unknown.policies
    assert all(r.item_id is not None and 1 <= r.item_id <= 150 for r in found)
