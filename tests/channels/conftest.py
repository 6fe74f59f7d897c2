"""Fixtures for the social-channel tests: a migrated SQLite database, a fake platform API, the webhook."""

from __future__ import annotations

from typing import AsyncIterator, Awaitable, Callable, Iterator, List

import pytest
from sqlalchemy import delete

from bot.channels.webhooks import WebhookInput
from storage.engine import session_scope
from storage.migrate import upgrade
from storage.models import ChannelDelivery
from tests.support.channels import FakePlatform, FakeRasaAgent, WebhookServer
from tests.support.platforms import PLATFORMS, Platform


@pytest.fixture(autouse=True)
def no_deliveries(sqlite_url: str) -> Iterator[str]:
    """Connectors record deliveries through DATABASE_URL (set by `sqlite_url`); every test starts with none."""
    with session_scope(sqlite_url) as session:
        session.execute(delete(ChannelDelivery))
    yield sqlite_url


@pytest.fixture
async def fake_api() -> AsyncIterator[FakePlatform]:
    api = FakePlatform()
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def rasa() -> FakeRasaAgent:
    return FakeRasaAgent()


@pytest.fixture
async def start_webhook(rasa: FakeRasaAgent) -> AsyncIterator[Callable[[WebhookInput], Awaitable[WebhookServer]]]:
    """Starts a connector's webhook (stopped after the test) that hands messages to `rasa`."""
    servers: List[WebhookServer] = []

    async def start(channel: WebhookInput) -> WebhookServer:
        server = WebhookServer(channel, rasa)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture(params=PLATFORMS, ids=lambda platform: platform.name)
def platform(request: pytest.FixtureRequest) -> Platform:
    return request.param


@pytest.fixture
async def webhook(
    platform: Platform, fake_api: FakePlatform, start_webhook: Callable[[WebhookInput], Awaitable[WebhookServer]]
) -> WebhookServer:
    platform.prepare(fake_api)
    return await start_webhook(platform.make(fake_api.url))


@pytest.fixture
def postgres_url(fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, migrated PostgreSQL database that the connectors use through DATABASE_URL."""
    upgrade(fresh_postgres_url)
    monkeypatch.setenv("DATABASE_URL", fresh_postgres_url)
    return fresh_postgres_url
