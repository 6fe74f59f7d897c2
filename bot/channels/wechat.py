"""WeChat Official Accounts: signed XML pushes in, the customer-service message API out.

Every request WeChat sends carries `signature`, `timestamp` and `nonce` in the query string, where
signature = sha1 of the three sorted strings token, timestamp, nonce (the token is the one set in the
account's server configuration). The configuration check is a GET that must echo `echostr`.

WeChat waits 5 seconds for an answer, retries three times, and then tells the customer the account
cannot serve them; anything but "success" (or a passive XML reply) is shown as an error. So the
webhook answers "success" at once and replies through the customer-service message API
(`/cgi-bin/message/custom/send`), which also lets agents answer later within WeChat's 48-hour window.
Its access token comes from `/cgi-bin/stable_token`, which hands every replica the same token instead
of invalidating each other's as `/cgi-bin/token` does.

Plaintext mode only: an account set to safe mode (AES-encrypted messages) is told so with a 400.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import xml.etree.ElementTree as ElementTree
from typing import Any, Dict, List, Optional, Text

from rasa.core.channels.channel import InputChannel, OutputChannel
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.media import Media, MediaError, MediaNotFound, download, platform_reason
from bot.channels.webhooks import (
    Inbound,
    MalformedPayload,
    PlatformAPI,
    WebhookInput,
    attachment,
    forbidden,
    numbered_options,
    platform_user_id,
    required_credentials,
    secrets_match,
    split_text,
)

logger = logging.getLogger(__name__)

DEFAULT_WECHAT_API = "https://api.weixin.qq.com"
# customer-service text is limited to 2048 bytes; 680 characters stay below it even in CJK (3 bytes each)
TEXT_LIMIT = 680
TOKEN_REFRESH_MARGIN = 300  # seconds before expiry; stable_token renews 5 minutes early as well
TOKEN_ERRORS = {40001, 40014, 42001}  # invalid, malformed or expired access token
UNKNOWN_MEDIA = 40007  # invalid media_id: never issued, or older than WeChat's 3 days


def wechat_signature(token: Text, timestamp: Text, nonce: Text) -> Text:
    return hashlib.sha1("".join(sorted((token, timestamp, nonce))).encode("utf-8")).hexdigest()


def signature_refusal(request: Request, token: Text) -> Optional[Text]:
    signature, timestamp, nonce = (request.args.get(key) for key in ("signature", "timestamp", "nonce"))
    if not (signature and timestamp and nonce):
        return "signature, timestamp or nonce is missing"
    if not secrets_match(wechat_signature(token, timestamp, nonce), signature):
        return "signature does not match the server token"
    return None


def xml_fields(body: bytes) -> Dict[Text, Text]:
    """The children of WeChat's flat <xml> message. A DTD is refused: WeChat never sends one and it is
    how XML entity attacks start."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise MalformedPayload("XML with a DTD is not accepted")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as error:
        raise MalformedPayload(f"body is not valid XML: {error}") from error
    if root.tag != "xml":
        raise MalformedPayload("root element is not <xml>")
    return {child.tag: child.text or "" for child in root}


def wechat_attachments(fields: Dict[Text, Text]) -> List[Dict[Text, Any]]:
    """The media, location or link of a push. Media come as MediaId, fetched with the access token
    (media/get) within 3 days; an image also has a PicUrl that opens without one."""
    kind = fields.get("MsgType")
    if kind == "image":
        return [attachment("image", url=fields.get("PicUrl"), media_id=fields.get("MediaId"))]
    if kind == "voice":
        return [
            attachment("audio", media_id=fields.get("MediaId"), mime_type=_voice_mime(fields.get("Format")), voice=True)
        ]
    if kind in ("video", "shortvideo"):
        return [attachment("video", media_id=fields.get("MediaId"))]
    if kind == "file":
        return [attachment("file", media_id=fields.get("MediaId"), file_name=fields.get("Title"))]
    if kind == "location":
        return [
            attachment(
                "location",
                latitude=_number(fields.get("Location_X")),
                longitude=_number(fields.get("Location_Y")),
                title=fields.get("Label"),
            )
        ]
    if kind == "link":
        return [attachment("link", url=fields.get("Url"), title=fields.get("Title"), caption=fields.get("Description"))]
    return []


def _voice_mime(voice_format: Optional[Text]) -> Optional[Text]:
    return {"amr": "audio/amr", "speex": "audio/speex"}.get((voice_format or "").lower())


def _number(value: Optional[Text]) -> Optional[float]:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def wechat_inbound(fields: Dict[Text, Text]) -> List[Inbound]:
    """The customer message in a push: text, media (a recognised voice note is also read as text), a
    location, a link, or a custom-menu click; subscriptions, location reports and receipts are not."""
    if "Encrypt" in fields and "MsgType" not in fields:
        raise MalformedPayload("encrypted (safe mode) messages are not supported: use plaintext mode")
    kind, openid = fields["MsgType"], fields["FromUserName"]
    if not openid:
        raise MalformedPayload("FromUserName is empty")
    text, from_button = "", False
    if kind == "text":
        text = fields.get("Content", "")
    elif kind == "voice":
        text = fields.get("Recognition", "")  # WeChat's speech recognition, when enabled
    elif kind == "event" and fields.get("Event") == "CLICK":
        text, from_button = fields.get("EventKey", ""), True  # menu keys are set by the account
    attachments = wechat_attachments(fields)
    if not text and not attachments:
        return []
    # events have no MsgId; WeChat's documentation dedupes them by FromUserName + CreateTime
    message_id = fields.get("MsgId") or f"{openid}:{fields.get('CreateTime', '')}"
    return [Inbound(openid, message_id, text, from_button=from_button, attachments=attachments)]


class WeChatOutput(OutputChannel):
    """Customer-service messages; WeChat has no buttons in them, so options are numbered text."""

    @classmethod
    def name(cls) -> Text:
        return "wechat"

    def __init__(self, app_id: Text, app_secret: Text, api_url: Text = DEFAULT_WECHAT_API) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.api_url = api_url.rstrip("/")
        self.api = PlatformAPI(self.name(), secrets=[app_secret])
        self._token: Optional[Text] = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()

    async def access_token(self, renew: bool = False) -> Optional[Text]:
        """The cached access token, fetched again when near expiry or when WeChat said it is invalid."""
        async with self._token_lock:
            if self._token and not renew and time.monotonic() < self._token_expires_at:
                return self._token
            answer = await self.api.post(
                f"{self.api_url}/cgi-bin/stable_token",
                {"grant_type": "client_credential", "appid": self.app_id, "secret": self.app_secret},
            )
            if not answer or not answer.get("access_token"):
                logger.error("wechat: no access token: %s", (answer or {}).get("errmsg", "request failed"))
                return None
            self._token = str(answer["access_token"])
            lifetime = float(answer.get("expires_in") or 7200)
            self._token_expires_at = time.monotonic() + max(lifetime - TOKEN_REFRESH_MARGIN, 60)
            return self._token

    async def send_message(self, message: Dict[Text, Any]) -> None:
        for renew in (False, True):
            token = await self.access_token(renew=renew)
            if token is None:
                return
            answer = await self.api.post(
                f"{self.api_url}/cgi-bin/message/custom/send", message, params={"access_token": token}
            )
            if answer is None:
                return  # already logged
            errcode = int(answer.get("errcode") or 0)
            if errcode in TOKEN_ERRORS and not renew:
                continue
            if errcode:  # WeChat reports errors with HTTP 200
                logger.error("wechat: customer-service message refused: %s %s", errcode, answer.get("errmsg"))
            return

    async def fetch_media(self, media_id: Text) -> Media:
        """media/get: the file itself, or JSON (HTTP 200) with an error code or, for videos, a video_url."""
        for renew in (False, True):
            token = await self.access_token(renew=renew)
            if token is None:
                raise MediaError("wechat gave no access token")
            found = await download(
                self.name(), f"{self.api_url}/cgi-bin/media/get", params={"access_token": token, "media_id": media_id}
            )
            if not found.content_type.startswith(("application/json", "text/")):
                return found
            try:
                answer = json.loads(found.body)
            except ValueError:
                return found  # a text file
            if isinstance(answer, dict) and answer.get("video_url"):
                return await download(self.name(), str(answer["video_url"]))
            errcode = int(answer.get("errcode") or 0) if isinstance(answer, dict) else 0
            if errcode in TOKEN_ERRORS and not renew:
                continue
            if errcode == UNKNOWN_MEDIA:
                raise MediaNotFound(f"wechat no longer has this file (media ids last 3 days){platform_reason(answer)}")
            if errcode:
                raise MediaError(f"wechat refused the file: {errcode}{platform_reason(answer)}")
            return found
        raise MediaError("wechat refused its own access token")

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        openid = platform_user_id(self.name(), recipient_id)
        for piece in split_text(text, TEXT_LIMIT):
            await self.send_message({"touser": openid, "msgtype": "text", "text": {"content": piece}})

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        await self.send_text_message(recipient_id, numbered_options(text, buttons))

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """A customer-service message of any type (a `news` article, recommendations/rendering.py) to this
        customer; Rasa's default would send the JSON to them as text."""
        await self.send_message({**json_message, "touser": platform_user_id(self.name(), recipient_id)})


class WeChatInput(WebhookInput):
    """WeChat webhook: `https://<host>/webhooks/wechat/webhook` as the account's server URL."""

    @classmethod
    def name(cls) -> Text:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        required_credentials(cls.name(), credentials, ("token", "app_id", "app_secret"))
        assert credentials is not None
        return cls(
            credentials["token"],
            credentials["app_id"],
            credentials["app_secret"],
            credentials.get("api_url") or DEFAULT_WECHAT_API,
        )

    def __init__(self, token: Text, app_id: Text, app_secret: Text, api_url: Text = DEFAULT_WECHAT_API) -> None:
        super().__init__()
        self.token = token
        self.output_channel = WeChatOutput(app_id, app_secret, api_url)

    def refusal(self, request: Request) -> Optional[Text]:
        return signature_refusal(request, self.token)

    async def handshake(self, request: Request) -> HTTPResponse:
        """The server-configuration check: echo `echostr` to a correctly signed GET."""
        refusal = signature_refusal(request, self.token)
        if refusal:
            return forbidden(refusal)
        return response.text(request.args.get("echostr") or "")

    def read(self, body: bytes) -> List[Inbound]:
        return wechat_inbound(xml_fields(body))

    def acknowledgement(self) -> HTTPResponse:
        return response.text("success")

    def get_output_channel(self) -> OutputChannel:
        return self.output_channel
