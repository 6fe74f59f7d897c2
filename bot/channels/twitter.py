"""X (Twitter) direct messages: Account Activity API webhooks in, the v2 DM endpoint out.

X proves the webhook with a CRC: a GET with `crc_token`, answered with `sha256=` + base64 of its
HMAC-SHA256 under the app's consumer secret, and repeated hourly. Every POST is signed the same way over
the raw body in `x-twitter-webhooks-signature`. Events also arrive for DMs the account itself sends
(agents on x.com, or our own replies); they carry our id as sender and are dropped.

Replies use `POST /2/dm_conversations/with/{participant_id}/messages` signed with OAuth 1.0a user
context (tokens that do not expire, unlike OAuth 2.0 user tokens). The v2 endpoint has no quick
replies, so buttons are sent as numbered options; a `quick_reply_response` from a v1.1 Welcome
Message is still read as a payload.
"""

from __future__ import annotations

import base64
from typing import Any, Dict, List, Optional, Text

from oauthlib.oauth1 import Client as OAuth1Client
from rasa.core.channels.channel import InputChannel, OutputChannel
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.webhooks import (
    Inbound,
    PlatformAPI,
    WebhookInput,
    attachment,
    bad_request,
    hmac_sha256,
    json_object,
    numbered_options,
    platform_user_id,
    required_credentials,
    secrets_match,
    split_text,
)

DEFAULT_X_API = "https://api.twitter.com"
SIGNATURE_HEADER = "x-twitter-webhooks-signature"
TEXT_LIMIT = 10000


def x_signature(consumer_secret: Text, data: bytes) -> Text:
    """The `sha256=<base64>` form X uses both for the CRC response and for signing webhook bodies."""
    return "sha256=" + base64.b64encode(hmac_sha256(consumer_secret, data)).decode("ascii")


class TwitterOutput(OutputChannel):
    @classmethod
    def name(cls) -> Text:
        return "twitter"

    def __init__(
        self,
        consumer_key: Text,
        consumer_secret: Text,
        access_token: Text,
        access_token_secret: Text,
        api_url: Text = DEFAULT_X_API,
    ) -> None:
        self.oauth = OAuth1Client(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=access_token,
            resource_owner_secret=access_token_secret,
        )
        self.api_url = api_url.rstrip("/")
        self.api = PlatformAPI(self.name())

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        url = f"{self.api_url}/2/dm_conversations/with/{platform_user_id(self.name(), recipient_id)}/messages"
        for piece in split_text(text, TEXT_LIMIT):
            # a JSON body is not part of the OAuth 1.0a signature base string: sign the URL alone
            _, headers, _ = self.oauth.sign(url, http_method="POST")
            await self.api.post(url, {"text": piece}, headers=headers)

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_message(recipient_id, numbered_options(text, buttons))


_X_MEDIA_TYPES = {"photo": "image", "video": "video", "animated_gif": "video"}


def dm_attachments(data: Dict[Text, Any]) -> List[Dict[Text, Any]]:
    """The media of a DM. Its ton.twitter.com URL only opens with the account's OAuth signature."""
    media = (
        (data.get("attachment") or {}).get("media") if (data.get("attachment") or {}).get("type") == "media" else None
    )
    if not isinstance(media, dict):
        return []
    return [
        attachment(
            _X_MEDIA_TYPES.get(str(media.get("type")), "file"),
            url=media.get("media_url_https"),
            media_id=media.get("id_str") or (str(media["id"]) if media.get("id") is not None else None),
        )
    ]


def dm_text(data: Dict[Text, Any]) -> Text:
    """The DM's words: X appends the media's t.co link to them, which is not something the customer typed."""
    text = str(data.get("text") or "")
    link = ((data.get("attachment") or {}).get("media") or {}).get("url")
    return text.replace(link, "").strip() if link else text


def twitter_inbound(payload: Dict[Text, Any]) -> List[Inbound]:
    """DMs customers sent to the subscribed account; typing and read events and tweets are not."""
    own_id = str(payload.get("for_user_id") or "")
    users = payload.get("users") or {}
    found: List[Inbound] = []
    for event in payload.get("direct_message_events") or []:
        if event.get("type") != "message_create":
            continue
        created = event["message_create"]
        sender = str(created["sender_id"])
        if sender == own_id:
            continue
        data = created.get("message_data") or {}
        quick_reply = (data.get("quick_reply_response") or {}).get("metadata")
        attachments = [] if quick_reply else dm_attachments(data)
        text = quick_reply or dm_text(data)
        if not text and not attachments:
            continue
        user = users.get(sender) or {}
        found.append(
            Inbound(
                sender,
                str(event["id"]),
                str(text),
                from_button=bool(quick_reply),
                identity={"display_name": user.get("name"), "username": user.get("screen_name")},
                attachments=attachments,
            )
        )
    return found


class TwitterInput(WebhookInput):
    """X DM webhook: `https://<host>/webhooks/twitter/webhook`."""

    @classmethod
    def name(cls) -> Text:
        return "twitter"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        keys = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
        required_credentials(cls.name(), credentials, keys)
        assert credentials is not None
        return cls(*(credentials[key] for key in keys), api_url=credentials.get("api_url") or DEFAULT_X_API)

    def __init__(
        self,
        consumer_key: Text,
        consumer_secret: Text,
        access_token: Text,
        access_token_secret: Text,
        api_url: Text = DEFAULT_X_API,
    ) -> None:
        super().__init__()
        self.consumer_secret = consumer_secret
        self.output_channel = TwitterOutput(consumer_key, consumer_secret, access_token, access_token_secret, api_url)

    def refusal(self, request: Request) -> Optional[Text]:
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            return f"{SIGNATURE_HEADER} header is missing"
        if not secrets_match(x_signature(self.consumer_secret, request.body), given):
            return f"{SIGNATURE_HEADER} does not match the body signed with the consumer secret"
        return None

    async def handshake(self, request: Request) -> HTTPResponse:
        """The challenge-response check X runs on registration and hourly after."""
        crc_token = request.args.get("crc_token")
        if not crc_token:
            return bad_request("crc_token is missing")
        return response.json({"response_token": x_signature(self.consumer_secret, crc_token.encode("utf-8"))})

    def read(self, body: bytes) -> List[Inbound]:
        return twitter_inbound(json_object(body))

    def get_output_channel(self) -> OutputChannel:
        return self.output_channel
