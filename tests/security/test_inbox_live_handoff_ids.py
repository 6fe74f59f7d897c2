"""Issue 12, finding 2, end to end: take over, reply and hand back from the inbox reach the real Rasa
tracker of the customer's own conversation, for each connector's id shape.

One `rasa run` with the trained model, every connector enabled (tests/fixtures/channels_live_credentials.yml
plus the web chat's socket.io channel) and pointed at a local fake platform API. Each customer's first
message is appended to their tracker through Rasa's API with the channel it came in on, as the connector
would; Rasa's event broker logs it, so the conversation appears in the inbox (in-process, on the same
database). Then, through the inbox API:

- take over -> `GET /conversations/<id>/tracker` says paused;
- agent reply -> that tracker holds the bot event with the agent's text, and on the social channels the
  platform's send API received it for this customer;
- hand back -> not paused.

Before the fix the inbox percent-encoded the id, so all of this happened to `whatsapp%3A15550001111` & co.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import requests
import yaml
from fastapi.testclient import TestClient

from inbox.main import create_app
from inbox.services.agents import create_agent
from runner.servers import PROJECT_ROOT, Ports, ServerSet, api_token
from storage.engine import session_scope
from storage.models import Conversation
from tests.support import platforms as p
from tests.support.channels import PlatformRequest, ThreadedPlatform
from tests.support.databases import migrated_sqlite
from tests.support.inbox import PASSWORDS, make_settings
from tests.support.network import free_port
from tests.support.platform_payloads import recipient, reply_text
from tests.support.platforms import CREDENTIALS
from tests.support.servers import server_logs

pytestmark = [pytest.mark.needs_model, pytest.mark.integration]

TIMEOUT = 60.0


@dataclass(frozen=True)
class Shape:
    channel: str
    conversation_id: str
    reply_path: Optional[str]  # where the connector sends to the platform (None: web chat, socket.io)

    @property
    def user_id(self) -> str:
        return self.conversation_id.partition(":")[2]


SHAPES = [
    Shape("socketio", uuid.UUID("3f2a9c0e-4b1d-4e5f-8a7b-6c5d4e3f2a1b").hex, None),
    Shape("facebook", "facebook:6789012345678901", "/v19.0/me/messages"),
    Shape("instagram", "instagram:1254459154682919", "/v19.0/me/messages"),
    Shape("whatsapp", "whatsapp:15550001111", f"/v19.0/{p.PHONE_NUMBER_ID}/messages"),
    Shape("telegram", "telegram:-1001234567890", f"/bot{p.TELEGRAM_TOKEN}/sendMessage"),  # a group chat
    Shape("twitter", "twitter:3001969357", "/2/dm_conversations/with/3001969357/messages"),
    Shape("wechat", "wechat:oUpF8-uMuAJO_M2pxb1Q9zNjWeS6o", "/cgi-bin/message/custom/send"),
]


@dataclass
class Live:
    servers: ServerSet
    api: ThreadedPlatform
    inbox: TestClient
    csrf: str

    def post(self, path: str, json: Any = None) -> Any:
        return self.inbox.post(path, json=json, headers={"X-CSRF-Token": self.csrf})


def credentials_with_web_chat(workdir: Path) -> Path:
    """The six social connectors of the live channels test plus the web chat's channel from bot/credentials.yml."""
    merged = yaml.safe_load(CREDENTIALS.read_text())
    shipped = yaml.safe_load((PROJECT_ROOT / "bot" / "credentials.yml").read_text())
    merged.update({name: config for name, config in shipped.items() if "socketio" in name.lower()})
    path = workdir / "credentials.yml"
    path.write_text(yaml.safe_dump(merged))
    return path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    workdir = tmp_path_factory.mktemp("inbox_live_ids")
    db_url = migrated_sqlite(workdir / "coverline.db")
    with session_scope(db_url) as db:
        create_agent(db, "agent@harbor.example", "Sam Agent", "agent", PASSWORDS["agent"])
    api = ThreadedPlatform()
    api_url = api.start()
    p.prepare_wechat(api.fake)
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port()),
        db_url=db_url,
        credentials=credentials_with_web_chat(workdir),
        with_webchat=False,
        log_dir=workdir,
        extra_env={
            "COVERLINE_TEST_PLATFORM_API": api_url,
            "COVERLINE_TEST_META_VERIFY": p.META_VERIFY,
            "COVERLINE_TEST_META_APP_SECRET": p.META_APP_SECRET,
            "COVERLINE_TEST_PAGE_TOKEN": p.PAGE_TOKEN,
            "COVERLINE_TEST_WHATSAPP_TOKEN": p.WHATSAPP_TOKEN,
            "COVERLINE_TEST_PHONE_NUMBER_ID": p.PHONE_NUMBER_ID,
            "COVERLINE_TEST_TELEGRAM_TOKEN": p.TELEGRAM_TOKEN,
            "COVERLINE_TEST_TELEGRAM_SECRET": p.TELEGRAM_SECRET,
            "COVERLINE_TEST_X_CONSUMER_KEY": p.X_CONSUMER_KEY,
            "COVERLINE_TEST_X_CONSUMER_SECRET": p.X_CONSUMER_SECRET,
            "COVERLINE_TEST_X_ACCESS_TOKEN": p.X_ACCESS_TOKEN,
            "COVERLINE_TEST_X_ACCESS_SECRET": p.X_ACCESS_SECRET,
            "COVERLINE_TEST_WECHAT_TOKEN": p.WECHAT_TOKEN,
            "COVERLINE_TEST_WECHAT_APP_ID": p.WECHAT_APP_ID,
            "COVERLINE_TEST_WECHAT_APP_SECRET": p.WECHAT_APP_SECRET,
        },
    )
    servers.start()
    try:
        servers.wait_ready(timeout=300)
    except Exception as error:
        servers.stop()
        api.stop()
        raise RuntimeError(f"servers did not start:\n{server_logs(workdir)}") from error
    inbox = TestClient(
        create_app(make_settings(db_url, servers.rasa_url, rasa_api_token=api_token(), rasa_timeout_seconds=30)),
        base_url="http://inbox.test",
    )
    login = inbox.post("/api/auth/login", json={"email": "agent@harbor.example", "password": PASSWORDS["agent"]})
    assert login.status_code == 200, login.text
    yield Live(servers, api, inbox, login.json()["csrf_token"])
    inbox.close()
    servers.stop()
    api.stop()


def wait_for(condition: Callable[[], Any], what: str, live: Live) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            calls = [(call.method, call.path, call.json) for call in live.api.requests()]
            raise AssertionError(
                f"no {what} within {TIMEOUT:.0f}s; the platform API saw {calls}\n{server_logs(live.servers.log_dir)}"
            )
        time.sleep(0.2)


def rasa_url(live: Live, conversation_id: str, rest: str) -> str:
    """Rasa's URL for this id, written out by the test (every shape here is made of URL-safe characters)."""
    return f"{live.servers.rasa_url}/conversations/{conversation_id}/{rest}"


def tracker(live: Live, conversation_id: str) -> Dict[str, Any]:
    response = requests.get(
        rasa_url(live, conversation_id, "tracker"), params={"token": api_token(), "include_events": "ALL"}, timeout=30
    )
    response.raise_for_status()
    state = response.json()
    assert state["sender_id"] == conversation_id
    return state


def customer_writes(live: Live, shape: Shape, text: str) -> None:
    """The customer's first message in their tracker with the channel it came in on, as the connector's
    turn leaves it: the session start Rasa runs for a new conversation, then the user event.

    Both go in one request, in that order: a user event appended alone to a new tracker is stamped before
    the session Rasa then starts for it, and the SQL tracker store (which loads the last session by
    timestamp) would leave it out, and with it the channel `output_channel=latest` replies go to."""
    events = [
        {"event": "action", "name": "action_session_start"},
        {"event": "session_started"},
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": text,
            "input_channel": shape.channel,
            "message_id": uuid.uuid4().hex,
            "parse_data": {"text": text, "intent": {"name": "human_handoff", "confidence": 0.99}, "entities": []},
        },
    ]
    response = requests.post(
        rasa_url(live, shape.conversation_id, "tracker/events"), params={"token": api_token()}, json=events, timeout=30
    )
    assert response.status_code == 200, response.text
    assert tracker(live, shape.conversation_id)["latest_input_channel"] == shape.channel


def in_inbox(live: Live, conversation_id: str) -> bool:
    with session_scope(live.servers.db_url) as db:
        return db.get(Conversation, conversation_id) is not None


def sent_to(live: Live, shape: Shape) -> List[PlatformRequest]:
    return [
        call
        for call in live.api.requests()
        if call.method == "POST" and call.path == shape.reply_path and recipient(shape.channel, call) == shape.user_id
    ]


@pytest.mark.parametrize("shape", SHAPES, ids=[s.conversation_id for s in SHAPES])
def test_take_over_reply_hand_back_act_on_the_customers_own_tracker(live: Live, shape: Shape) -> None:
    conversation_id = shape.conversation_id
    customer_writes(live, shape, "I want to talk to a person please")
    wait_for(lambda: in_inbox(live, conversation_id), "conversation in the inbox", live)
    assert tracker(live, conversation_id)["paused"] is False
    path = f"/api/conversations/{conversation_id}"

    taken = live.post(f"{path}/take-over")
    assert taken.status_code == 200, taken.text
    assert tracker(live, conversation_id)["paused"] is True

    text = f"Hi, Sam here from the service team ({shape.channel})."
    reply = live.post(f"{path}/replies", {"text": text})
    assert reply.status_code == 202 and reply.json()["status"] == "sent", reply.text
    bot_events = [e for e in tracker(live, conversation_id)["events"] if e["event"] == "bot"]
    assert [(e["text"], e["metadata"].get("author")) for e in bot_events] == [(text, "agent")]
    if shape.reply_path is not None:  # the social channels: the platform was asked to deliver it to them
        delivered = wait_for(lambda: sent_to(live, shape), f"{shape.channel} send call", live)
        assert [reply_text(shape.channel, call) for call in delivered] == [text]

    back = live.post(f"{path}/hand-back")
    assert back.status_code == 200, back.text
    assert tracker(live, conversation_id)["paused"] is False
