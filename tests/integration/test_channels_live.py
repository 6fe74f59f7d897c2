"""The six social channels through the real servers: signed webhooks in, the model's replies out.

`rasa run` with the trained model, the action server and a fresh migrated SQLite database, started
with tests/fixtures/channels_live_credentials.yml: every connector enabled with test secrets and its
`api_url` pointed at a local fake platform API (tests/support/channels.py's, in a thread of its own).
For each channel a customer message in the platform's documented format (tests/fixtures/webhooks/),
signed as the platform signs it, is posted to `/webhooks/<name>/webhook`; then:

- the bot's reply reaches the fake platform API (send path, recipient, access token);
- the `messages` table holds the inbound row once, with the channel, the platform message id, the
  intent and the sentiment, and the conversation has the channel and the customer's identity;
- the same delivery posted again is acknowledged, not stored again and not answered again;
- a forged signature gets 403 and leaves no trace (no delivery, message or tracker event).

Nothing sleeps for a fixed time. "Not answered again" is proven with a barrier: a follow-up message
goes through the same conversation lock after the duplicate, so once its reply is logged any turn the
duplicate had started would be finished, and the tracker, the log and the fake API can be counted.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Text, Tuple

import pytest
import requests
from sqlalchemy import func, select

from inbox.errors import RasaUnavailable
from inbox.rasa_client import RasaClient
from inbox.services.media import MEDIA_CHANNELS, stored_media
from runner.servers import Ports, ServerSet, api_token
from storage.engine import session_scope
from storage.models import ChannelDelivery, Conversation, Message
from tests.support import platforms as p
from tests.support.channels import PlatformRequest, ThreadedPlatform
from tests.support.databases import migrated_sqlite
from tests.support.network import free_port
from tests.support.platform_payloads import recipient, reply_text
from tests.support.platforms import CREDENTIALS
from tests.support.servers import server_logs

pytestmark = [pytest.mark.needs_model, pytest.mark.integration]

CLAIM = "I need to file a claim, someone hit my car"
PREMIUM = "how can I pay my premium?"
FOLLOW_UP = "thanks a lot"
TIMEOUT = 60.0


@dataclass
class Live:
    servers: ServerSet
    api: ThreadedPlatform


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    workdir = tmp_path_factory.mktemp("channels_live")
    db_url = migrated_sqlite(workdir / "coverline.db")
    api = ThreadedPlatform()
    api_url = api.start()
    p.prepare_wechat(api.fake)  # the access token WeChat's stable_token hands out, and the send API's "ok"
    servers = ServerSet(
        ports=Ports(rasa=free_port(), actions=free_port()),
        db_url=db_url,
        credentials=CREDENTIALS,
        with_webchat=False,
        log_dir=workdir,
        extra_env=p.live_credentials_env(api_url),
    )
    servers.start()
    try:
        servers.wait_ready(timeout=300)
    except Exception as error:
        servers.stop()
        api.stop()
        raise RuntimeError(f"servers did not start:\n{server_logs(workdir)}") from error
    yield Live(servers, api)
    servers.stop()
    api.stop()


# --- each platform: where its payload keeps the message id, where a reply is addressed, what it says ------


def json_at(path: List[Any], value: Any) -> Callable[[bytes], bytes]:
    def rewrite(body: bytes) -> bytes:
        payload = json.loads(body)
        node = payload
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return json.dumps(payload).encode()

    return rewrite


def with_message_id(name: Text, body: bytes, n: int) -> Tuple[bytes, Text]:
    """The payload as the platform's n-th message of this customer, and the id the platform gives it."""
    if name in ("facebook", "instagram"):
        mid = f"m_live{n}_" + "Q" * 40
        return json_at(["entry", 0, "messaging", 0, "message", "mid"], mid)(body), mid
    if name == "whatsapp":
        wamid = f"wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEw{n:04d}RgA="
        return json_at(["entry", 0, "changes", 0, "value", "messages", 0, "id"], wamid)(body), wamid
    if name == "telegram":
        payload = json.loads(body)
        payload["update_id"] += n
        payload["message"]["message_id"] += n
        chat_id = payload["message"]["chat"]["id"]
        return json.dumps(payload).encode(), f"{chat_id}:{payload['message']['message_id']}"
    if name == "twitter":
        event_id = str(1861001234567890123 + n)
        return json_at(["direct_message_events", 0, "id"], event_id)(body), event_id
    if name == "wechat":
        msg_id = str(24870123456789012 + n)
        return re.sub(rb"<MsgId>\d+</MsgId>", f"<MsgId>{msg_id}</MsgId>".encode(), body), msg_id
    raise AssertionError(f"no message id rewrite for {name}")


@dataclass(frozen=True)
class Case:
    name: Text
    text: Text
    intent: Text
    identity: Text  # the Conversation's customer_identity (conversations.identity.customer_identity)


CASES = [
    Case("facebook", CLAIM, "file_claim", "facebook:6789012345678901"),
    Case("instagram", PREMIUM, "pay_premium", "instagram:1254459154682919"),
    Case("whatsapp", CLAIM, "file_claim", "Sheena Nelson (+16505551234) whatsapp:16505551234"),
    Case("telegram", CLAIM, "file_claim", "Ana Silva (@anasilva) telegram:123456789"),
    Case("twitter", PREMIUM, "pay_premium", "Jordan Lee (@jordanlee) twitter:3001969357"),
    Case("wechat", PREMIUM, "pay_premium", "wechat:oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
]
PLATFORMS = {platform.name: platform for platform in p.PLATFORMS}


# --- observing the servers -------------------------------------------------------------------------------


def post(live: Live, name: Text, body: bytes, signed: Dict[Text, Any]) -> requests.Response:
    url = f"{live.servers.rasa_url}/webhooks/{name}/webhook"
    return requests.post(url, data=body, headers=signed.get("headers"), params=signed.get("params"), timeout=30)


def replies(live: Live, name: Text) -> List[PlatformRequest]:
    platform = PLATFORMS[name]
    return [
        call
        for call in live.api.requests()
        if call.method == "POST" and call.path == platform.reply_path and recipient(name, call) == platform.user_id
    ]


def rows(db_url: str, conversation_id: Text) -> List[Message]:
    with session_scope(db_url) as s:
        return list(s.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)))


def tracker_events(live: Live, conversation_id: Text) -> List[Dict[Text, Any]]:
    response = requests.get(
        f"{live.servers.rasa_url}/conversations/{conversation_id}/tracker",
        params={"token": api_token(), "include_events": "ALL"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["events"]


def deliveries(db_url: str, name: Text, platform_message_id: Text) -> int:
    query = (
        select(func.count())
        .select_from(ChannelDelivery)
        .where(ChannelDelivery.channel == name, ChannelDelivery.platform_message_id == platform_message_id)
    )
    with session_scope(db_url) as s:
        return int(s.scalar(query) or 0)


def settled_turn(live: Live, name: Text, conversation_id: Text, message_id: Text) -> Tuple[List[Message], List]:
    """Waits until the turn of `message_id` is over: its inbound row is logged, it has bot replies, and
    every bot message logged so far has reached the platform (Rasa logs a turn's events after sending)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        logged = rows(live.servers.db_url, conversation_id)
        inbound = [m for m in logged if m.direction == "inbound" and m.platform_message_id == message_id]
        outbound = [m for m in logged if m.direction == "outbound"]
        sent = replies(live, name)
        answered = inbound and any(m.in_reply_to_id == inbound[0].id for m in outbound)
        if answered and len(sent) == len(outbound):
            return logged, sent
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{name}: message {message_id} not answered within {TIMEOUT:.0f}s: {len(inbound)} inbound row(s), "
                f"{len(outbound)} bot row(s), {len(sent)} call(s) to the platform API\n"
                + server_logs(live.servers.log_dir)
            )
        time.sleep(0.2)


# --- the test --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_signed_webhook_is_answered_logged_once_and_forgeries_refused(live: Live, case: Case) -> None:
    platform = PLATFORMS[case.name]
    db_url = live.servers.db_url
    conversation_id = f"{case.name}:{platform.user_id}"
    fixture = platform.with_text(p.fixture(platform.message), case.text)

    # 1. a customer message, signed as the platform signs it
    body, message_id = with_message_id(case.name, fixture, 1)
    first = post(live, case.name, body, platform.sign(body))
    assert first.status_code == 200, first.text
    logged, sent = settled_turn(live, case.name, conversation_id, message_id)

    (inbound,) = [m for m in logged if m.direction == "inbound"]
    assert (inbound.channel, inbound.platform_message_id, inbound.text) == (case.name, message_id, case.text)
    assert inbound.intent == case.intent, f"{case.text!r} read as {inbound.intent} ({inbound.confidence})"
    assert inbound.confidence and inbound.confidence > 0.4
    assert isinstance(inbound.sentiment, dict) and inbound.sentiment.get("label"), inbound.sentiment
    with session_scope(db_url) as s:
        conversation = s.get(Conversation, conversation_id)
        assert (conversation.channel, conversation.customer_identity) == (case.name, case.identity)

    # the reply went to the platform's send API, to this customer, with the platform's credentials,
    # and says what the bot said
    said = [m.text for m in logged if m.direction == "outbound" and m.text]
    assert sent and said
    for call in sent:
        assert platform.reply_query.items() <= call.query.items(), call.query
        assert platform.reply_headers.items() <= call.headers.items()
    if case.name == "twitter":
        assert all(call.headers["Authorization"].startswith("OAuth ") for call in sent)
    delivered = [reply_text(case.name, call) for call in sent]
    assert all(any(text in out for out in delivered) for text in said), (said, delivered)
    if case.intent == "file_claim":
        assert "policy number" in " ".join(delivered).lower()

    # 2. the platform retries the same delivery: acknowledged, not processed again
    again = post(live, case.name, body, platform.sign(body))
    assert again.status_code == 200, again.text

    # 3. a forged signature on a new message: refused before anything is stored
    forged_body, forged_id = with_message_id(case.name, fixture, 2)
    forged = post(live, case.name, forged_body, platform.forge(forged_body))
    assert forged.status_code == 403, forged.text
    assert deliveries(db_url, case.name, forged_id) == 0

    # 4. a follow-up after both: once it is answered, whatever they had started would have finished
    follow_body, follow_id = with_message_id(case.name, platform.with_text(p.fixture(platform.message), FOLLOW_UP), 3)
    assert post(live, case.name, follow_body, platform.sign(follow_body)).status_code == 200
    logged, sent = settled_turn(live, case.name, conversation_id, follow_id)

    inbound_ids = [m.platform_message_id for m in logged if m.direction == "inbound"]
    assert inbound_ids == [message_id, follow_id]  # the original once, the forgery never
    assert deliveries(db_url, case.name, message_id) == 1 and deliveries(db_url, case.name, forged_id) == 0
    events = tracker_events(live, conversation_id)
    assert [e.get("message_id") for e in events if e["event"] == "user"] == [message_id, follow_id]
    bot_said = [e for e in events if e["event"] == "bot"]
    outbound = [m for m in logged if m.direction == "outbound"]
    assert len(sent) == len(outbound) == len(bot_said), "one platform call per bot message, none repeated"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_photo_without_words_is_answered_and_logged_with_its_attachment(live: Live, case: Case) -> None:
    """Damage photos used to be dropped at the door. Now the real bot answers them (inside a running
    claim form too, which then asks its question again) and the log keeps what the platform sent."""
    platform = PLATFORMS[case.name]
    conversation_id = f"{case.name}:{platform.user_id}"
    body, message_id = with_message_id(case.name, p.fixture(platform.photo), 4)

    response = post(live, case.name, body, platform.sign(body))
    assert response.status_code == 200, response.text
    logged, sent = settled_turn(live, case.name, conversation_id, message_id)

    (photo,) = [m for m in logged if m.direction == "inbound" and m.platform_message_id == message_id]
    assert (photo.text, photo.intent) == (None, "share_attachment")
    assert photo.payload == {"attachments": [platform.photo_attachment]}
    answers = [m.text or "" for m in logged if m.direction == "outbound" and m.in_reply_to_id == photo.id]
    assert any("received your photo" in text for text in answers), answers
    assert any("received your photo" in reply_text(case.name, call) for call in sent)


@pytest.mark.parametrize("channel", MEDIA_CHANNELS)
def test_an_agent_opens_the_photo_through_the_real_rasa_server(live: Live, channel: str) -> None:
    """The photo the customer sent is only an id in the log; the inbox gets the file from the running Rasa
    server, which fetches it from the platform with the channel's token (the inbox has none)."""
    platform = PLATFORMS[channel]
    conversation_id = f"{channel}:{platform.user_id}"
    body, message_id = with_message_id(channel, p.fixture(platform.photo), 5)
    assert post(live, channel, body, platform.sign(body)).status_code == 200
    logged, _ = settled_turn(live, channel, conversation_id, message_id)
    (photo,) = [m for m in logged if m.direction == "inbound" and m.platform_message_id == message_id]
    jpeg = b"\xff\xd8\xff\xe0 the dented bumper"
    p.serve_file(live.api.fake, channel, platform.photo_attachment["media_id"], jpeg, "image/jpeg")

    with session_scope(live.servers.db_url) as db:
        stored = stored_media(db, conversation_id, photo.id, 0)
    rasa = RasaClient(live.servers.rasa_url, api_token())

    assert rasa.fetch_media(stored.channel, stored.media_id) == (jpeg, "image/jpeg")
    with pytest.raises(RasaUnavailable, match="Bearer"):
        RasaClient(live.servers.rasa_url, "not-the-token").fetch_media(stored.channel, stored.media_id)
