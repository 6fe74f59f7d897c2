"""WhatsApp Business Cloud API: Meta's signed webhook in, `/{phone-number-id}/messages` out.

Webhooks carry `changes` with field "messages": customer `messages` (with the sender's profile name in
`contacts`) or `statuses` of what we sent (sent, delivered, read, failed), which are acknowledged and
dropped. Buttons become interactive reply buttons (up to 3) or a list (up to 10 rows), else numbered text.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, OutputChannel

from bot.channels.media import Media, MediaNotFound, download, get_json
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

TEXT_LIMIT = 4096
INTERACTIVE_BODY_LIMIT = 1024
REPLY_BUTTON_LIMIT = 3
REPLY_BUTTON_TITLE_LIMIT = 20
LIST_ROW_LIMIT = 10
LIST_ROW_TITLE_LIMIT = 24
ID_LIMIT = 256
LIST_BUTTON_LABEL = "Choose"


def interactive_action(buttons: List[Dict[Text, Any]]) -> Optional[Dict[Text, Any]]:
    """The interactive message's type and action for these buttons, or None if they fit neither shape."""
    if not buttons or any(
        not b.get("title") or not b.get("payload") or len(str(b["payload"])) > ID_LIMIT for b in buttons
    ):
        return None
    if len(buttons) <= REPLY_BUTTON_LIMIT:
        replies = [
            {
                "type": "reply",
                "reply": {"id": str(b["payload"]), "title": short_title(str(b["title"]), REPLY_BUTTON_TITLE_LIMIT)},
            }
            for b in buttons
        ]
        return {"type": "button", "action": {"buttons": replies}}
    if len(buttons) <= LIST_ROW_LIMIT:
        rows = [{"id": str(b["payload"]), "title": short_title(str(b["title"]), LIST_ROW_TITLE_LIMIT)} for b in buttons]
        return {"type": "list", "action": {"button": LIST_BUTTON_LABEL, "sections": [{"rows": rows}]}}
    return None


class WhatsAppOutput(OutputChannel):
    @classmethod
    def name(cls) -> Text:
        return "whatsapp"

    def __init__(self, access_token: Text, phone_number_id: Text, api_url: Text = DEFAULT_GRAPH_API) -> None:
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.api_url = api_url.rstrip("/")
        self.api = PlatformAPI(self.name(), secrets=[access_token])

    async def send_message(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": platform_user_id(self.name(), recipient_id),
            **message,
        }
        await self.api.post(
            f"{self.api_url}/{self.phone_number_id}/messages",
            body,
            headers={"Authorization": f"Bearer {self.access_token}"},
        )

    async def fetch_media(self, media_id: Text) -> Media:
        """GET /<media id> says where the file is (a URL valid for 5 minutes), which is fetched with the
        same bearer token. Meta keeps media for 30 days."""
        auth = {"Authorization": f"Bearer {self.access_token}"}
        answer = await get_json(self.name(), "GET", f"{self.api_url}/{media_id}", headers=auth)
        if not answer.get("url"):
            raise MediaNotFound("whatsapp has no file for this id")
        return await download(self.name(), str(answer["url"]), headers=auth, known_type=answer.get("mime_type"))

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        for piece in split_text(text, TEXT_LIMIT):
            await self.send_message(recipient_id, {"type": "text", "text": {"body": piece, "preview_url": False}})

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        interactive = interactive_action(buttons)
        if interactive is None:
            await self.send_text_message(recipient_id, numbered_options(text, buttons))
            return
        *before, last = split_text(text or "…", INTERACTIVE_BODY_LIMIT)
        for piece in before:
            await self.send_message(recipient_id, {"type": "text", "text": {"body": piece, "preview_url": False}})
        interactive["body"] = {"text": last}
        await self.send_message(recipient_id, {"type": "interactive", "interactive": interactive})

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """A Cloud API message without its recipient fields (an interactive CTA-URL or list message,
        recommendations/rendering.py); Rasa's default would send the JSON to the customer as text."""
        await self.send_message(recipient_id, json_message)


# WhatsApp media message types, and what Coverline calls them
_MEDIA_TYPES = {"image": "image", "video": "video", "audio": "audio", "document": "file", "sticker": "sticker"}


def message_text(message: Dict[Text, Any]) -> Optional[Tuple[Text, bool]]:
    """(text, from_button) of a customer message; None for kinds without text (media are attachments)."""
    kind = message.get("type")
    if kind == "text":
        return str(message["text"]["body"]), False
    if kind == "interactive":
        reply = message["interactive"].get("button_reply") or message["interactive"].get("list_reply") or {}
        return (str(reply["id"]), True) if reply.get("id") else None
    if kind == "button":  # a quick-reply button of a template we sent
        button = message["button"]
        return str(button.get("payload") or button["text"]), bool(button.get("payload"))
    return None


def message_attachments(message: Dict[Text, Any]) -> Tuple[Text, List[Dict[Text, Any]]]:
    """(caption, attachments) of a media, location or contacts message. Media come as ids: the file is
    fetched from the Graph API with the access token (GET /<media id>), never stored here."""
    kind = str(message.get("type"))
    if kind in _MEDIA_TYPES:
        media = message[kind]
        found = attachment(
            _MEDIA_TYPES[kind],
            media_id=media.get("id"),
            mime_type=media.get("mime_type"),
            file_name=media.get("filename"),
            voice=True if media.get("voice") else None,
        )
        return str(media.get("caption") or ""), [found]
    if kind == "location":
        place = message["location"]
        return "", [
            attachment(
                "location",
                latitude=place.get("latitude"),
                longitude=place.get("longitude"),
                title=place.get("name"),
                address=place.get("address"),
                url=place.get("url"),
            )
        ]
    if kind == "contacts":
        return "", [
            attachment(
                "contact",
                title=(card.get("name") or {}).get("formatted_name"),
                phones=[phone.get("phone") for phone in card.get("phones") or [] if phone.get("phone")],
            )
            for card in message["contacts"]
        ]
    return "", []


def whatsapp_inbound(payload: Dict[Text, Any], phone_number_id: Text) -> List[Inbound]:
    """Customer messages to our business number; one app may serve several numbers, each its own channel."""
    found: List[Inbound] = []
    for entry in entries(payload, "whatsapp_business_account"):
        for change in entry.get("changes") or []:
            if change.get("field") != "messages":
                continue
            value = change["value"]
            business_number = (value.get("metadata") or {}).get("phone_number_id")
            if business_number and str(business_number) != phone_number_id:
                continue
            names = {str(c.get("wa_id")): (c.get("profile") or {}).get("name") for c in value.get("contacts") or []}
            for message in value.get("messages") or []:
                read = message_text(message)
                caption, attachments = message_attachments(message) if read is None else ("", [])
                if read is None and not attachments:
                    continue  # reactions, orders, system notices: not a customer's message to answer
                text, from_button = read or (caption, False)
                sender = str(message["from"])
                found.append(
                    Inbound(
                        sender,
                        str(message["id"]),
                        text,
                        from_button=from_button,
                        identity={"display_name": names.get(sender), "phone": f"+{sender}"},
                        attachments=attachments,
                    )
                )
    return found


class WhatsAppInput(MetaWebhookInput):
    """WhatsApp webhook: `https://<host>/webhooks/whatsapp/webhook`."""

    @classmethod
    def name(cls) -> Text:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        required_credentials(cls.name(), credentials, ("verify", "secret", "access_token", "phone_number_id"))
        assert credentials is not None
        return cls(
            credentials["verify"],
            credentials["secret"],
            credentials["access_token"],
            str(credentials["phone_number_id"]),
            credentials.get("api_url") or DEFAULT_GRAPH_API,
        )

    def __init__(
        self,
        verify_token: Text,
        app_secret: Text,
        access_token: Text,
        phone_number_id: Text,
        api_url: Text = DEFAULT_GRAPH_API,
    ) -> None:
        super().__init__(verify_token, app_secret)
        self.phone_number_id = phone_number_id
        self.output_channel = WhatsAppOutput(access_token, phone_number_id, api_url)

    def read(self, body: bytes) -> List[Inbound]:
        return whatsapp_inbound(json_object(body), self.phone_number_id)

    def get_output_channel(self) -> OutputChannel:
        return self.output_channel
