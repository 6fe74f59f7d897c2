"""No accepted message is lost: a delivery keeps the message until Rasa has handled it.

After our 200 a platform never sends the message again, so a processing that fails (tracker store or
lock store down) or never finishes (the replica died) must be picked up again, once, by some replica.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import SimpleNamespace
from typing import Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import delete, select, update

from bot.channels.telegram import TelegramInput
from bot.channels.webhooks import Inbound, WebhookInput
from storage.deliveries import MAX_ATTEMPTS, claim_unfinished, first_delivery, prune_deliveries
from storage.engine import session_scope
from storage.models import ChannelDelivery, Conversation, Message, utcnow
from tests.support.channels import FakePlatform, FakeRasaAgent, WebhookServer
from tests.support.platforms import TELEGRAM_SECRET, TELEGRAM_TOKEN, fixture, telegram_signed

StartWebhook = Callable[[WebhookInput], Awaitable[WebhookServer]]
MESSAGE_ID = "123456789:4711"  # telegram_message.json: chat 123456789, message 4711
SENDER = "telegram:123456789"


class FlakyRasa(FakeRasaAgent):
    """Rasa whose tracker store is down for the first `failures` messages."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    async def on_new_message(self, message: UserMessage) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError("tracker store unavailable")
        await super().on_new_message(message)


def delivery(channel: str, message_id: str) -> ChannelDelivery:
    with session_scope() as session:
        return session.execute(
            select(ChannelDelivery).where(
                ChannelDelivery.channel == channel, ChannelDelivery.platform_message_id == message_id
            )
        ).scalar_one()


def accepted_elsewhere(message_id: str = MESSAGE_ID, text: str = "What does my renters policy cover?") -> None:
    """A delivery another replica accepted (200 sent) and then died before Rasa handled it."""
    inbound = Inbound(user_id="123456789", message_id=message_id, text=text, identity={"username": "anasilva"})
    assert first_delivery("telegram", message_id, inbound.stored("telegram"))


def make_stale(message_id: str = MESSAGE_ID, seconds: int = 600) -> None:
    with session_scope() as session:
        session.execute(
            update(ChannelDelivery)
            .where(ChannelDelivery.platform_message_id == message_id)
            .values(updated_at=utcnow() - timedelta(seconds=seconds))
        )


async def test_a_message_rasa_failed_on_is_kept_and_handed_over_again(
    start_webhook: StartWebhook, fake_api: FakePlatform
) -> None:
    rasa = FlakyRasa(failures=1)
    channel = TelegramInput(TELEGRAM_TOKEN, TELEGRAM_SECRET, fake_api.url)
    server = WebhookServer(channel, rasa)
    await server.start()
    try:
        body = fixture("telegram_message.json")
        status, _ = await server.request("POST", body=body, **telegram_signed(body))
        assert status == 200  # the platform will not send it again: it is ours to keep
        row = delivery("telegram", MESSAGE_ID)
        assert (row.status, row.attempts) == ("failed", 1)
        assert "tracker store unavailable" in row.last_error
        assert row.message["text"] == "What does my renters policy cover?"

        make_stale()
        assert await channel.redeliver(None, rasa.on_new_message) == 1

        assert [m.text for m in rasa.messages] == ["What does my renters policy cover?"]
        assert rasa.messages[0].sender_id == SENDER
        assert rasa.messages[0].message_id == MESSAGE_ID
        assert len(fake_api.calls(f"/bot{TELEGRAM_TOKEN}/sendMessage")) == 1  # the customer gets one answer
        row = delivery("telegram", MESSAGE_ID)
        assert (row.status, row.attempts, row.last_error) == ("processed", 2, None)
        make_stale()
        assert await channel.redeliver(None, rasa.on_new_message) == 0  # handled: never again
    finally:
        await server.stop()


async def test_a_replica_picks_up_what_a_dead_replica_accepted(fake_api: FakePlatform, rasa: FakeRasaAgent) -> None:
    accepted_elsewhere()
    make_stale()
    channel = TelegramInput(TELEGRAM_TOKEN, TELEGRAM_SECRET, fake_api.url)
    channel.redelivery_interval = 0.1
    server = WebhookServer(channel, rasa)
    await server.start()  # the redelivery loop starts with the server
    try:
        for _ in range(100):
            if rasa.messages:
                break
            await asyncio.sleep(0.1)
        assert [m.text for m in rasa.messages] == ["What does my renters policy cover?"]
        assert rasa.messages[0].metadata["channel_identity"]["username"] == "anasilva"
        [reply] = fake_api.calls(f"/bot{TELEGRAM_TOKEN}/sendMessage")
        assert reply.json["chat_id"] == "123456789"
        await asyncio.sleep(0.3)  # more passes of the loop: still once
        assert len(rasa.messages) == 1
        assert delivery("telegram", MESSAGE_ID).status == "processed"
    finally:
        await server.stop()


async def test_a_message_still_being_processed_is_left_alone(fake_api: FakePlatform, rasa: FakeRasaAgent) -> None:
    accepted_elsewhere()  # just now: its replica may be working on it
    channel = TelegramInput(TELEGRAM_TOKEN, TELEGRAM_SECRET, fake_api.url)
    assert await channel.redeliver(None, rasa.on_new_message) == 0
    assert rasa.messages == []


async def test_a_message_the_tracker_already_holds_is_not_answered_twice(
    fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    """The replica died after Rasa stored the message but before the delivery was marked."""
    accepted_elsewhere()
    make_stale()
    store = InMemoryTrackerStore(Domain.empty())
    tracker = DialogueStateTracker(SENDER, None)
    tracker.update(UserUttered("What does my renters policy cover?", message_id=MESSAGE_ID))
    await store.save(tracker)
    app = SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store)))
    channel = TelegramInput(TELEGRAM_TOKEN, TELEGRAM_SECRET, fake_api.url)

    assert await channel.redeliver(app, rasa.on_new_message) == 0

    assert rasa.messages == [] and fake_api.requests == []
    assert delivery("telegram", MESSAGE_ID).status == "processed"


def test_a_message_the_interaction_log_holds_is_marked_processed_not_claimed(no_deliveries: str) -> None:
    accepted_elsewhere()
    make_stale()
    with session_scope() as session:
        session.merge(Conversation(id=SENDER, channel="telegram"))
        session.flush()
        session.add(
            Message(
                conversation_id=SENDER,
                event_key="redelivery-test",
                platform_message_id=MESSAGE_ID,
                direction="inbound",
                author="customer",
                channel="telegram",
                text="What does my renters policy cover?",
                sent_at=utcnow(),
            )
        )
    try:
        assert claim_unfinished("telegram", timedelta(seconds=60)) == []
        assert delivery("telegram", MESSAGE_ID).status == "processed"
    finally:
        with session_scope() as session:
            session.execute(delete(Message).where(Message.event_key == "redelivery-test"))


def test_a_message_that_keeps_failing_stops_being_redelivered(no_deliveries: str) -> None:
    accepted_elsewhere()
    with session_scope() as session:
        session.execute(update(ChannelDelivery).values(status="failed", attempts=MAX_ATTEMPTS))
    make_stale()
    assert claim_unfinished("telegram", timedelta(seconds=60)) == []
    assert delivery("telegram", MESSAGE_ID).status == "failed"  # left for people to look at


def test_processed_deliveries_are_pruned_and_unfinished_ones_kept(no_deliveries: str) -> None:
    for message_id in ("old-done", "old-failed", "new-done"):
        assert first_delivery("whatsapp", message_id, {"text": "hi"})
    with session_scope() as session:
        session.execute(update(ChannelDelivery).values(status="processed"))
        session.execute(
            update(ChannelDelivery).where(ChannelDelivery.platform_message_id == "old-failed").values(status="failed")
        )
        session.execute(
            update(ChannelDelivery)
            .where(ChannelDelivery.platform_message_id.in_(["old-done", "old-failed"]))
            .values(received_at=utcnow() - timedelta(days=10))
        )

    assert prune_deliveries(timedelta(days=7)) == 1

    with session_scope() as session:
        left = set(session.execute(select(ChannelDelivery.platform_message_id)).scalars())
    assert left == {"old-failed", "new-done"}


def test_on_postgresql_replicas_never_claim_the_same_message(postgres_url: str) -> None:
    for i in range(5):
        accepted_elsewhere(f"m{i}")
        make_stale(f"m{i}")

    def claim(_: int) -> list:
        return claim_unfinished("telegram", timedelta(seconds=60), url=postgres_url)

    with ThreadPoolExecutor(max_workers=8) as pool:
        claims = list(pool.map(claim, range(8)))

    claimed = sorted(d.platform_message_id for batch in claims for d in batch)
    assert claimed == [f"m{i}" for i in range(5)]  # each exactly once


async def test_a_slow_message_is_not_taken_for_a_lost_one(fake_api: FakePlatform) -> None:
    """Rasa still working on it here (a slow action server): the loop must not hand it over a second time."""
    accepted_elsewhere()
    release = asyncio.Event()
    seen: list = []

    async def slow_rasa(message: UserMessage) -> None:
        seen.append(message.text)
        await release.wait()

    channel = TelegramInput(TELEGRAM_TOKEN, TELEGRAM_SECRET, fake_api.url)
    [stored] = claim_unfinished("telegram", timedelta(seconds=-1))  # as the hand-over right after the 200
    working = asyncio.create_task(channel._process(Inbound.from_stored(stored.message), slow_rasa))
    await asyncio.sleep(0.05)
    make_stale()

    assert await asyncio.wait_for(channel.redeliver(None, slow_rasa), timeout=5) == 0  # not stuck behind it

    release.set()
    await working
    assert seen == ["What does my renters policy cover?"]
    assert delivery("telegram", MESSAGE_ID).status == "processed"
