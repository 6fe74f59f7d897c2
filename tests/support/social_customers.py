"""A customer on a social channel, against the real servers: each message is a signed webhook in the platform's
own format (tests/fixtures/webhooks/) posted to Rasa's `/webhooks/<channel>/webhook`, and what the customer sees
is what the bot sent to the platform's API (a `ThreadedPlatform` fake, tests/support/channels.py).

A turn is over when the connector has finished handing the message to Rasa (its `channel_deliveries` row is
`processed`): Rasa sends every reply of the turn to the platform before that, so nothing sleeps for a fixed time.
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Protocol, Text

import requests
from sqlalchemy import select

from storage.deliveries import FAILED, PROCESSED
from storage.engine import session_scope
from storage.models import ChannelDelivery
from tests.support import platforms as p
from tests.support.channels import PlatformRequest, ThreadedPlatform
from tests.support.platform_payloads import BY_NAME
from tests.support.servers import logged, server_logs

if TYPE_CHECKING:
    from runner.servers import ServerSet

TURN_TIMEOUT = 120.0  # a claim turn runs NLU, the form's validation and the recommender in the action server


@dataclass(frozen=True)
class Delivery:
    """One webhook call: its body, and the id the connector records the customer's message under."""

    body: bytes
    message_id: Text


@dataclass(frozen=True)
class Offer:
    """One recommended item as the customer sees it: its title, the link to open it, the "not for me" payload,
    and the platform message it came in (a tapped button arrives with it on Telegram)."""

    title: Text
    url: Text
    dismiss_payload: Text
    message: Dict[Text, Any]


class TelegramCustomer:
    """A private chat with the bot: Bot API `message` updates for what they type, `callback_query` updates for
    the inline keyboard buttons they tap; the bot answers with `sendMessage` to their chat id."""

    channel = "telegram"

    def __init__(self, rng: random.Random) -> None:
        self.user_id = str(rng.randint(10**9, 6 * 10**9))  # a private chat's id is the user's id
        self._update_ids = itertools.count(rng.randint(10**8, 9 * 10**8))
        self._message_ids = itertools.count(1)
        self._rng = rng

    def message(self, text: Text) -> Delivery:
        update = json.loads(p.fixture("telegram_message.json"))
        update["update_id"] = next(self._update_ids)
        message = update["message"]
        message["message_id"] = next(self._message_ids)
        message["from"]["id"] = message["chat"]["id"] = int(self.user_id)
        message["text"] = text
        return Delivery(json.dumps(update).encode(), f"{self.user_id}:{message['message_id']}")

    def tap(self, payload: Text, shown_in: Dict[Text, Any]) -> Delivery:
        """The update Telegram sends when the button with this callback_data is tapped, under the message (as
        the bot sent it) that carries it."""
        assert any(
            button.get("callback_data") == payload
            for row in shown_in["reply_markup"]["inline_keyboard"]
            for button in row
        ), "Telegram only sends callback_data of a button on the message"
        update = json.loads(p.fixture("telegram_callback_query.json"))
        update["update_id"] = next(self._update_ids)
        callback = update["callback_query"]
        callback["id"] = str(self._rng.randint(10**17, 10**18))
        callback["from"]["id"] = callback["message"]["chat"]["id"] = int(self.user_id)
        callback["message"]["message_id"] = next(self._message_ids)
        callback["message"]["text"] = shown_in["text"]
        callback["message"]["reply_markup"] = shown_in["reply_markup"]
        callback["data"] = payload
        return Delivery(json.dumps(update).encode(), f"callback:{callback['id']}")

    def replies(self, calls: List[PlatformRequest]) -> List[Dict[Text, Any]]:
        """The `sendMessage` parameters of each message sent to this chat."""
        path = f"/bot{p.TELEGRAM_TOKEN}/sendMessage"
        return [c.json for c in calls if c.method == "POST" and c.path == path and c.json["chat_id"] == self.user_id]

    def text(self, replies: List[Dict[Text, Any]]) -> Text:
        return " ".join(str(reply.get("text") or "") for reply in replies)

    def offers(self, replies: List[Dict[Text, Any]]) -> List[Offer]:
        """Each inline keyboard row holding a URL button and a callback button is one recommended item; the
        message text numbers them ("1. <title>")."""
        found = []
        for reply in replies:
            for row in (reply.get("reply_markup") or {}).get("inline_keyboard") or []:
                url = next((button["url"] for button in row if "url" in button), None)
                dismiss = next((button["callback_data"] for button in row if "callback_data" in button), None)
                if url and dismiss:
                    found.append(Offer(row[0]["text"], url, dismiss, reply))
        return found


class MessengerCustomer:
    """A Facebook Messenger user writing to the page: `messages` events for what they type, `messaging_postbacks`
    for template buttons they tap; the bot answers through the Send API (`/me/messages`) to their PSID."""

    channel = "facebook"

    def __init__(self, rng: random.Random) -> None:
        self.user_id = str(rng.randint(10**15, 10**16 - 1))  # a page-scoped id: 16 digits
        self._serial = itertools.count(rng.randint(10**6, 10**7))

    def _event(self, fixture: Text) -> Dict[Text, Any]:
        payload = json.loads(p.fixture(fixture))
        event = payload["entry"][0]["messaging"][0]
        event["sender"]["id"] = self.user_id
        event["timestamp"] = payload["entry"][0]["time"] = 1732370000000 + next(self._serial)
        return payload

    def message(self, text: Text) -> Delivery:
        payload = self._event("facebook_message.json")
        message = payload["entry"][0]["messaging"][0]["message"]
        message["mid"] = f"m_live{next(self._serial)}_" + "Q" * 40
        message["text"] = text
        return Delivery(json.dumps(payload).encode(), message["mid"])

    def tap(self, payload: Text, shown_in: Dict[Text, Any]) -> Delivery:
        """The postback Messenger sends when a template button with this payload is tapped."""
        button = next(
            button
            for element in shown_in["attachment"]["payload"]["elements"]
            for button in element["buttons"]
            if button.get("payload") == payload
        )
        body = self._event("facebook_postback.json")
        postback = body["entry"][0]["messaging"][0]["postback"]
        postback.update(title=button["title"], payload=payload, mid=f"m_PB{next(self._serial)}_" + "P" * 40)
        return Delivery(json.dumps(body).encode(), postback["mid"])

    def replies(self, calls: List[PlatformRequest]) -> List[Dict[Text, Any]]:
        """The Send API `message` of each message sent to this user."""
        return [
            c.json["message"]
            for c in calls
            if c.method == "POST" and c.path == "/v19.0/me/messages" and c.json["recipient"]["id"] == self.user_id
        ]

    def text(self, replies: List[Dict[Text, Any]]) -> Text:
        return " ".join(str(reply.get("text") or "") for reply in replies)

    def offers(self, replies: List[Dict[Text, Any]]) -> List[Offer]:
        """Each generic template card with a web_url button and a postback button is one recommended item."""
        found = []
        for reply in replies:
            payload = (reply.get("attachment") or {}).get("payload") or {}
            for element in payload.get("elements") or []:
                url = next((b["url"] for b in element["buttons"] if b["type"] == "web_url"), None)
                dismiss = next((b["payload"] for b in element["buttons"] if b["type"] == "postback"), None)
                if url and dismiss:
                    found.append(Offer(element["title"], url, dismiss, reply))
        return found


class SocialCustomer(Protocol):
    """What TelegramCustomer and MessengerCustomer both know about their platform."""

    channel: Text
    user_id: Text

    def message(self, text: Text) -> Delivery: ...

    def tap(self, payload: Text, shown_in: Dict[Text, Any]) -> Delivery: ...

    def replies(self, calls: List[PlatformRequest]) -> List[Dict[Text, Any]]: ...

    def text(self, replies: List[Dict[Text, Any]]) -> Text: ...

    def offers(self, replies: List[Dict[Text, Any]]) -> List[Offer]: ...


class SocialChat:
    """One customer's conversation through a running Rasa server's connector."""

    def __init__(self, servers: "ServerSet", api: ThreadedPlatform, customer: SocialCustomer) -> None:
        self.servers = servers
        self.api = api
        self.customer = customer
        self.platform = BY_NAME[customer.channel]

    @property
    def conversation_id(self) -> Text:
        return f"{self.customer.channel}:{self.customer.user_id}"

    def say(self, text: Text) -> List[Dict[Text, Any]]:
        """The customer types `text`; what the bot sent them in answer."""
        return self.send(self.customer.message(text))

    def tap(self, offer: Offer) -> List[Dict[Text, Any]]:
        """The customer taps "not for me" on `offer`; what the bot sent them in answer."""
        return self.send(self.customer.tap(offer.dismiss_payload, offer.message))

    def send(self, delivery: Delivery) -> List[Dict[Text, Any]]:
        before = len(self.api.requests())
        url = f"{self.servers.rasa_url}/webhooks/{self.customer.channel}/webhook"
        signed = self.platform.sign(delivery.body)
        answer = requests.post(url, data=delivery.body, headers=signed.get("headers"), timeout=30)
        assert answer.status_code == 200, answer.text
        self.wait_for(delivery.message_id)
        return self.customer.replies(self.api.requests()[before:])

    def wait_for(self, message_id: Text) -> None:
        """Until the connector has handed the message to Rasa and Rasa has answered it."""
        status = logged(lambda: self.delivery_status(message_id), lambda s: s in (PROCESSED, FAILED), TURN_TIMEOUT)
        if status != PROCESSED:
            raise AssertionError(
                f"{self.customer.channel} message {message_id} is {status} after {TURN_TIMEOUT:.0f}s\n"
                + server_logs(self.servers.log_dir)
            )

    def delivery_status(self, message_id: Text) -> Optional[Text]:
        query = select(ChannelDelivery.status).where(
            ChannelDelivery.channel == self.customer.channel, ChannelDelivery.platform_message_id == message_id
        )
        with session_scope(self.servers.db_url) as session:
            return session.scalar(query)
