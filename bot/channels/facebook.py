"""Facebook Messenger: Meta's signed webhook in, the Send API (`/me/messages`) out.

credentials.yml key `bot.channels.facebook.FacebookInput` (see docs/channels.md). The credential names
are those of Rasa's own `facebook` channel, plus `api_url` so tests (or a proxy) can stand in for the
Graph API.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel

from bot.channels.meta import DEFAULT_GRAPH_API, MetaWebhookInput, entries
from bot.channels.webhooks import (
    Inbound,
    PlatformAPI,
    attachment,
    json_object,
    numbered_options,
    platform_user_id,
    required_credentials,
    short_title,
    split_text,
)

TEXT_LIMIT = 2000
QUICK_REPLY_LIMIT = 13
QUICK_REPLY_TITLE_LIMIT = 20
PAYLOAD_LIMIT = 1000


class MessengerOutput(OutputChannel):
    """Replies through the Send API; Rasa buttons become Messenger quick replies (Instagram has them too)."""

    @classmethod
    def name(cls) -> Text:
        return "facebook"

    def __init__(self, page_access_token: Text, api_url: Text = DEFAULT_GRAPH_API) -> None:
        self.page_access_token = page_access_token
        self.api_url = api_url.rstrip("/")
        self.api = PlatformAPI(self.name(), secrets=[page_access_token])

    async def send_message(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await self.api.post(
            f"{self.api_url}/me/messages",
            {
                "recipient": {"id": platform_user_id(self.name(), recipient_id)},
                "messaging_type": "RESPONSE",
                "message": message,
            },
            params={"access_token": self.page_access_token},
        )

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        for piece in split_text(text, TEXT_LIMIT):
            await self.send_message(recipient_id, {"text": piece})

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        if not quick_replies_fit(buttons):
            await self.send_text_message(recipient_id, numbered_options(text, buttons))
            return
        *before, last = split_text(text or "…", TEXT_LIMIT)
        for piece in before:
            await self.send_message(recipient_id, {"text": piece})
        quick_replies = [
            {
                "content_type": "text",
                "title": short_title(str(button["title"]), QUICK_REPLY_TITLE_LIMIT),
                "payload": str(button["payload"]),
            }
            for button in buttons
        ]
        await self.send_message(recipient_id, {"text": last, "quick_replies": quick_replies})

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """A Send API `message` object as is (a generic template, recommendations/rendering.py); Rasa's default
        would send the JSON to the customer as text."""
        await self.send_message(recipient_id, json_message)


def quick_replies_fit(buttons: List[Dict[Text, Any]]) -> bool:
    return 0 < len(buttons) <= QUICK_REPLY_LIMIT and all(
        button.get("title") and button.get("payload") and len(str(button["payload"])) <= PAYLOAD_LIMIT
        for button in buttons
    )


def messenger_inbound(payload: Dict[Text, Any], expected_object: Text) -> List[Inbound]:
    """Customer messages and postbacks in a Messenger-platform webhook (Messenger: "page", Instagram:
    "instagram"); echoes of our own messages, deliveries, reads, reactions and standby events are not."""
    found: List[Inbound] = []
    for entry in entries(payload, expected_object):
        for event in entry.get("messaging") or []:
            message = messaging_event_inbound(event)
            if message is not None:
                found.append(message)
    return found


def messaging_event_inbound(event: Dict[Text, Any]) -> Optional[Inbound]:
    sender = str(event["sender"]["id"])
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo") or message.get("is_deleted"):
            return None
        quick_reply = (message.get("quick_reply") or {}).get("payload")
        if quick_reply:
            return Inbound(sender, str(message["mid"]), str(quick_reply), from_button=True)
        attachments = [messenger_attachment(item) for item in message.get("attachments") or []]
        if message.get("text") or attachments:
            return Inbound(sender, str(message["mid"]), str(message.get("text") or ""), attachments=attachments)
        return None
    postback = event.get("postback")
    if isinstance(postback, dict) and postback.get("payload"):
        # older postbacks carry no mid; sender + timestamp is what a retry repeats
        message_id = postback.get("mid") or f"postback:{sender}:{event.get('timestamp')}"
        return Inbound(sender, str(message_id), str(postback["payload"]), from_button=True)
    return None


# Messenger's attachment types, and Instagram's (shares, story mentions and reels are links to a post)
_MESSENGER_TYPES = {"image": "image", "video": "video", "audio": "audio", "file": "file", "location": "location"}


def messenger_attachment(item: Dict[Text, Any]) -> Dict[Text, Any]:
    """One entry of `message.attachments`. Its payload URL is a CDN link Meta signs for a few days:
    enough for the agent who takes the conversation, not an archive."""
    payload = item.get("payload") or {}
    kind = _MESSENGER_TYPES.get(str(item.get("type")), "link")
    if kind == "image" and payload.get("sticker_id"):
        kind = "sticker"
    coordinates = payload.get("coordinates") or {}
    return attachment(
        kind,
        url=payload.get("url"),
        title=payload.get("title") or item.get("title"),
        latitude=coordinates.get("lat"),
        longitude=coordinates.get("long"),
    )


class FacebookInput(MetaWebhookInput):
    """Messenger webhook: `https://<host>/webhooks/facebook/webhook`."""

    output_class = MessengerOutput
    webhook_object = "page"  # the payload's "object": Instagram sends the same events as "instagram"

    @classmethod
    def name(cls) -> Text:
        return "facebook"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        required_credentials(cls.name(), credentials, ("verify", "secret", "page-access-token"))
        assert credentials is not None
        return cls(
            credentials["verify"],
            credentials["secret"],
            credentials["page-access-token"],
            credentials.get("api_url") or DEFAULT_GRAPH_API,
        )

    def __init__(
        self, verify_token: Text, app_secret: Text, page_access_token: Text, api_url: Text = DEFAULT_GRAPH_API
    ) -> None:
        super().__init__(verify_token, app_secret)
        self.output_channel = self.output_class(page_access_token, api_url)

    def read(self, body: bytes) -> List[Inbound]:
        return messenger_inbound(json_object(body), self.webhook_object)

    def get_output_channel(self) -> OutputChannel:
        return self.output_channel
