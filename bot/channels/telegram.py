"""Telegram: Bot API webhook updates in, `sendMessage` out, checked with the webhook's secret token.

Rasa's own telegram connector asks Telegram `getMe` on every update and compares the bot's name, which
anyone can know; Telegram instead sends the `secret_token` given to `setWebhook` in the
X-Telegram-Bot-Api-Secret-Token header of every update. Telegram has no handshake: the operator
registers the webhook once (docs/channels.md):

    curl -F url=https://<host>/webhooks/telegram/webhook -F secret_token=$TELEGRAM_SECRET_TOKEN \\
         -F 'allowed_updates=["message","callback_query"]' https://api.telegram.org/bot$TELEGRAM_TOKEN/setWebhook

Only private chats are served: an insurer's assistant has no business reading group chats.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel
from sanic.request import Request

from bot.channels.media import Media, MediaNotFound, download, get_json
from bot.channels.webhooks import (
    Inbound,
    MalformedPayload,
    PlatformAPI,
    WebhookInput,
    attachment,
    json_object,
    numbered_options,
    platform_user_id,
    required_credentials,
    secrets_match,
    split_text,
)

DEFAULT_TELEGRAM_API = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64  # bytes
START_COMMAND = "/start"
DEFAULT_START_PAYLOAD = "/greet"


class TelegramOutput(OutputChannel):
    """Replies with `sendMessage`; Rasa buttons become an inline keyboard, one button per row."""

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    def __init__(self, access_token: Text, api_url: Text = DEFAULT_TELEGRAM_API) -> None:
        self.access_token = access_token
        self.api_url = api_url.rstrip("/")
        self.api = PlatformAPI(self.name(), secrets=[access_token])

    async def call(self, method: Text, body: Dict[Text, Any]) -> Optional[Dict[Text, Any]]:
        return await self.api.post(f"{self.api_url}/bot{self.access_token}/{method}", body)

    async def fetch_media(self, file_id: Text) -> Media:
        """getFile, then the file server (files up to 20 MB); both URLs hold the bot token, so neither is
        logged, stored or shown."""
        answer = await get_json(
            self.name(), "POST", f"{self.api_url}/bot{self.access_token}/getFile", json_body={"file_id": file_id}
        )
        path = (answer.get("result") or {}).get("file_path") if answer.get("ok") else None
        if not path:
            raise MediaNotFound("telegram has no file for this id")
        return await download(self.name(), f"{self.api_url}/file/bot{self.access_token}/{path}", file_name=path)

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        for piece in split_text(text, TEXT_LIMIT):
            await self.call("sendMessage", {"chat_id": platform_user_id(self.name(), recipient_id), "text": piece})

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        if not inline_keyboard_fits(buttons):
            await self.send_text_message(recipient_id, numbered_options(text, buttons))
            return
        *before, last = split_text(text or "…", TEXT_LIMIT)
        for piece in before:
            await self.send_text_message(recipient_id, piece)
        keyboard = [[{"text": str(button["title"]), "callback_data": str(button["payload"])}] for button in buttons]
        await self.call(
            "sendMessage",
            {
                "chat_id": platform_user_id(self.name(), recipient_id),
                "text": last,
                "reply_markup": {"inline_keyboard": keyboard},
            },
        )

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """`sendMessage` with these parameters (text and an inline keyboard, recommendations/rendering.py) to this
        chat; Rasa's default would send the JSON to the customer as text."""
        await self.call("sendMessage", {**json_message, "chat_id": platform_user_id(self.name(), recipient_id)})

    async def answer_callback_query(self, callback_query_id: Text) -> None:
        """Stops the spinner on the button the customer tapped (Telegram expects an answer to each)."""
        await self.call("answerCallbackQuery", {"callback_query_id": callback_query_id})


def inline_keyboard_fits(buttons: List[Dict[Text, Any]]) -> bool:
    return bool(buttons) and all(
        button.get("title")
        and button.get("payload")
        and len(str(button["payload"]).encode("utf-8")) <= CALLBACK_DATA_LIMIT
        for button in buttons
    )


def sender_identity(user: Dict[Text, Any]) -> Dict[Text, Any]:
    name = " ".join(part for part in (user.get("first_name"), user.get("last_name")) if part)
    return {"display_name": name, "username": user.get("username"), "language": user.get("language_code")}


# the message fields that carry a file, and what Coverline calls each
_FILE_KINDS = (
    ("document", "file"),
    ("video", "video"),
    ("video_note", "video"),
    ("animation", "video"),
    ("voice", "audio"),
    ("audio", "audio"),
)


def telegram_attachments(message: Dict[Text, Any]) -> List[Dict[Text, Any]]:
    """The media, location or contact of a message. Files come as file_id: the bot fetches them with
    getFile, whose download URL holds the bot token and so is never stored."""
    found: List[Dict[Text, Any]] = []
    if message.get("photo"):  # the sizes Telegram made of one photo: keep the largest
        largest = max(message["photo"], key=lambda size: (size.get("width") or 0) * (size.get("height") or 0))
        found.append(attachment("image", media_id=largest.get("file_id"), mime_type="image/jpeg"))
    for key, kind in _FILE_KINDS:
        media = message.get(key)
        if not isinstance(media, dict) or (key == "document" and message.get("animation")):
            continue  # a GIF comes as both animation and document: keep it once
        found.append(
            attachment(
                kind,
                media_id=media.get("file_id"),
                mime_type=media.get("mime_type"),
                file_name=media.get("file_name"),
                voice=True if key == "voice" else None,
            )
        )
    if isinstance(message.get("sticker"), dict):
        found.append(
            attachment("sticker", media_id=message["sticker"].get("file_id"), title=message["sticker"].get("emoji"))
        )
    venue = message.get("venue") if isinstance(message.get("venue"), dict) else {}
    place = venue.get("location") or message.get("location")
    if isinstance(place, dict):
        found.append(
            attachment(
                "location",
                latitude=place.get("latitude"),
                longitude=place.get("longitude"),
                title=venue.get("title"),
                address=venue.get("address"),
            )
        )
    contact = message.get("contact")
    if isinstance(contact, dict):
        name = " ".join(part for part in (contact.get("first_name"), contact.get("last_name")) if part)
        found.append(
            attachment("contact", title=name, phones=[contact["phone_number"]] if contact.get("phone_number") else [])
        )
    return found


def telegram_inbound(update: Dict[Text, Any], start_payload: Text) -> List[Inbound]:
    """The customer message in an update, text or media; edits, channel posts and member changes are not."""
    if not isinstance(update.get("update_id"), int):
        raise MalformedPayload("update_id is missing: not a Telegram update")
    callback = update.get("callback_query")
    if isinstance(callback, dict):
        return callback_inbound(callback)
    message = update.get("message")
    if not isinstance(message, dict) or message["chat"].get("type") != "private":
        return []
    attachments = telegram_attachments(message)
    if not message.get("text") and not attachments:
        return []  # service messages (pinned, chat photo changed ...): nothing the customer said
    text = str(message.get("text") or message.get("caption") or "")
    from_button = text == START_COMMAND or text.startswith(START_COMMAND + " ")
    chat_id = str(message["chat"]["id"])
    return [
        Inbound(
            chat_id,
            f"{chat_id}:{message['message_id']}",
            start_payload if from_button else text,
            from_button=from_button,
            identity=sender_identity(message.get("from") or {}),
            attachments=attachments,
        )
    ]


def callback_inbound(callback: Dict[Text, Any]) -> List[Inbound]:
    """A tap on an inline keyboard button we sent: its callback_data is our payload."""
    chat = (callback.get("message") or {}).get("chat") or {"id": callback["from"]["id"], "type": "private"}
    if chat.get("type") != "private" or not callback.get("data"):
        return []
    return [
        Inbound(
            str(chat["id"]),
            f"callback:{callback['id']}",
            str(callback["data"]),
            from_button=True,
            identity=sender_identity(callback["from"]),
            extra={"callback_query_id": str(callback["id"])},
        )
    ]


class TelegramInput(WebhookInput):
    """Telegram webhook: `https://<host>/webhooks/telegram/webhook`.

    `start_payload` is what Telegram's automatic "/start" (sent when a customer opens the bot) is handed
    to Rasa as; it is a platform command, not the customer's words.
    """

    @classmethod
    def name(cls) -> Text:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        required_credentials(cls.name(), credentials, ("access_token", "secret_token"))
        assert credentials is not None
        return cls(
            credentials["access_token"],
            credentials["secret_token"],
            credentials.get("api_url") or DEFAULT_TELEGRAM_API,
            credentials.get("start_payload") or DEFAULT_START_PAYLOAD,
        )

    def __init__(
        self,
        access_token: Text,
        secret_token: Text,
        api_url: Text = DEFAULT_TELEGRAM_API,
        start_payload: Text = DEFAULT_START_PAYLOAD,
    ) -> None:
        super().__init__()
        self.secret_token = secret_token
        self.start_payload = start_payload
        self.output_channel = TelegramOutput(access_token, api_url)

    def refusal(self, request: Request) -> Optional[Text]:
        given = request.headers.get(SECRET_HEADER)
        if not given:
            return f"{SECRET_HEADER} header is missing"
        if not secrets_match(self.secret_token, given):
            return f"{SECRET_HEADER} does not match the webhook's secret token"
        return None

    def read(self, body: bytes) -> List[Inbound]:
        return telegram_inbound(json_object(body), self.start_payload)

    async def before_hand_over(self, message: Inbound) -> None:
        if message.extra.get("callback_query_id"):
            await self.output_channel.answer_callback_query(message.extra["callback_query_id"])

    def get_output_channel(self) -> OutputChannel:
        return self.output_channel
