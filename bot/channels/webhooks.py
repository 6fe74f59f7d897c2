"""What every Coverline social connector shares: the checks at the door, retry dedupe, hand-over to Rasa.

A connector module (facebook.py, telegram.py, ...) only knows its platform: how the request is signed,
what the payload looks like and how to call the send API. The rules that must hold on every channel live
here once: constant-time signature comparison, one processing per platform message id across replicas,
customer text never parsed as an intent, 400 (not 500) for payloads we cannot read, outbound failures
logged rather than raised, and no accepted message lost: each is stored with its delivery and handed to
Rasa again if its processing did not finish (storage/deliveries.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import timedelta
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Set, Text

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.channels.limits import TOO_LONG_REPLY, clean_text, too_long
from bot.channels.media import FetchMedia, add_media_route
from settings import current
from storage import pii
from storage.deliveries import claim_unfinished, first_delivery, mark_failed, mark_processed, prune_deliveries

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

# Rasa reads a text matching "/intent@confidence{entities}" as that intent (RegexMessageHandler, via
# YAMLStoryReader.unpack_regex_message) after UserMessage has stripped it, so a prefixed space changes
# nothing; removing the leading slashes themselves is what keeps a customer from choosing the intent.
_LEADING_SLASHES = re.compile(r"^[\s/]+")
API_TIMEOUT = aiohttp.ClientTimeout(total=15)
SHUTDOWN_GRACE_SECONDS = 20
PRUNE_EVERY_SECONDS = 3600.0
# what Rasa is handed for a message that is only media (a damage photo, a PDF, a voice note, a pinned
# location): an intent the bot acknowledges, with the attachments in the message metadata. Never the
# customer's words: customer text cannot start with "/" (customer_text), so this can only come from us.
ATTACHMENT_PAYLOAD = "/share_attachment"
ATTACHMENT_TYPES = ("image", "video", "audio", "file", "sticker", "location", "contact", "link")
TOO_LONG = "too_long"  # Inbound.extra flag: the text was over MAX_TEXT_CHARS, dropped, and the customer is told


class MalformedPayload(ValueError):
    """The body passed the signature check but is not the platform's documented format."""


def hmac_sha256(secret: Text, data: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).digest()


def secrets_match(expected: Text, given: Optional[Text]) -> bool:
    """Constant-time comparison, so a forger learns nothing from response times; a missing value fails."""
    if not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def forbidden(reason: Text) -> HTTPResponse:
    return response.json({"error": reason}, status=403)


def bad_request(reason: Text) -> HTTPResponse:
    return response.json({"error": reason}, status=400)


def json_object(body: bytes) -> Dict[Text, Any]:
    """The webhook's JSON object; anything else is the sender's mistake (400), not ours (500)."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedPayload(f"body is not valid JSON: {error}") from error
    if not isinstance(payload, dict):
        raise MalformedPayload("body is not a JSON object")
    return payload


def conversation_id(channel: Text, platform_user_id: Text) -> Text:
    """Rasa's sender_id: prefixed with the channel so two platforms' user ids never share a tracker."""
    return f"{channel}:{platform_user_id}"


def platform_user_id(channel: Text, sender_id: Text) -> Text:
    """The platform's own id back from a sender_id (replies, and agents' replies through Rasa's API)."""
    prefix = f"{channel}:"
    return sender_id[len(prefix) :] if sender_id.startswith(prefix) else sender_id


def customer_text(text: Text) -> Text:
    """Customer text that Rasa cannot read as `/intent{entities}`: leading slashes are dropped."""
    return _LEADING_SLASHES.sub("", text)


# What no one at the insurer needs to read in a chat, and what must never be stored in clear (PCI DSS):
# card numbers (Luhn-checked) and social security numbers. Masked at the door, before Rasa, its tracker
# store, the interaction log or any agent sees the message; emails and phones stay (forms ask for them).
NEVER_STORED = ("card", "ssn")


def without_secrets(value: Any) -> Any:
    """`value` (a text, or a payload such as an attachment's caption) with card numbers and SSNs masked:
    "my card 4111 1111 1111 1111 was charged twice" becomes "my card [card ending 1111] was charged twice"."""
    return pii.mask_value(value, NEVER_STORED)


def attachment(kind: Text, **details: Any) -> Dict[Text, Any]:
    """One attachment as every connector records it: its type (one of ATTACHMENT_TYPES) and whatever the
    platform tells about it (url, media_id, mime_type, file_name, caption, latitude ...), empty ones left out.

    Media ids (Telegram file_id, WhatsApp and WeChat media ids) are kept rather than downloaded: fetching
    the file needs the channel's token, and a URL carrying the token must never reach the database."""
    if kind not in ATTACHMENT_TYPES:
        raise ValueError(f"unknown attachment type {kind!r}")
    return {"type": kind, **{key: value for key, value in details.items() if value not in (None, "", [], {})}}


def required_credentials(channel: Text, credentials: Optional[Mapping[Text, Any]], keys: Iterable[Text]) -> None:
    """Refuse to start a channel with a missing secret: an empty HMAC key would accept forged webhooks."""
    missing = [key for key in keys if not (credentials or {}).get(key)]
    if missing:
        raise RasaException(f"The {channel} channel needs {', '.join(missing)} in credentials.yml.")


def numbered_options(text: Text, buttons: List[Dict[Text, Any]]) -> Text:
    """Buttons as text, for platforms (or button counts) without native quick replies."""
    options = "\n".join(f"{index}. {button.get('title', '')}" for index, button in enumerate(buttons, 1))
    return "\n\n".join(part for part in (text, options) if part)


def short_title(title: Text, limit: int) -> Text:
    """A button title within the platform's limit (Messenger 20, WhatsApp 20 or 24 characters)."""
    return title if len(title) <= limit else title[: limit - 1] + "…"


def split_text(text: Text, limit: int) -> List[Text]:
    """Pieces of at most `limit` characters, cut at a paragraph, line or word break where possible.

    Platforms refuse longer messages outright (Messenger 2000, Telegram and WhatsApp 4096 characters).
    """
    pieces: List[Text] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        cut = cut if cut > limit // 2 else limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pieces.append(rest)
    return pieces


MAX_MESSAGE_ID_CHARS = 200
_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f]|[\ud800-\udfff]")


def storable_message_id(message_id: Text) -> Text:
    """The platform's message id as the delivery table and the interaction log can keep it (255
    characters, no NUL: PostgreSQL refuses both). Real ids are far shorter and printable and stay as they
    are; anything else is replaced by its digest, which is as stable across a platform's retries."""
    if len(message_id) <= MAX_MESSAGE_ID_CHARS and not _UNSTORABLE.search(message_id):
        return message_id
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"


@dataclass(frozen=True)
class Inbound:
    """One customer message read from a webhook, before dedupe and hand-over."""

    user_id: Text  # the platform's id for the customer: where replies go
    message_id: Text  # the platform's id for this message: what retries repeat
    text: Text
    from_button: bool = False  # a payload of a button/quick reply we sent: may be "/intent"
    identity: Dict[Text, Any] = field(default_factory=dict)  # display name, username, phone ...
    extra: Dict[Text, Any] = field(default_factory=dict)  # platform details a connector needs later
    attachments: List[Dict[Text, Any]] = field(default_factory=list)  # see attachment(); text is the caption

    def __post_init__(self) -> None:
        object.__setattr__(self, "message_id", storable_message_id(str(self.message_id)))

    def user_message(self, channel: Text, output_channel: OutputChannel) -> UserMessage:
        said = without_secrets(self.text)
        text = said if self.from_button else customer_text(said)
        identity = {"channel": channel, "user_id": self.user_id, **self.identity}
        metadata: Dict[Text, Any] = {"channel_identity": {k: v for k, v in identity.items() if v}}
        if text != said:
            metadata["original_text"] = said
        if self.from_button:
            metadata["button_payload"] = True
        if self.attachments:
            # with a caption, NLU reads the caption ("here is the damage" + photo); media alone is
            # handed over as the share_attachment intent, so it is answered and logged all the same
            metadata["attachments"] = without_secrets(list(self.attachments))
            text = text or ATTACHMENT_PAYLOAD
        return UserMessage(
            text,
            output_channel,
            conversation_id(channel, self.user_id),
            input_channel=channel,
            message_id=self.message_id,
            metadata=metadata,
        )

    def stored(self, channel: Text) -> Dict[Text, Any]:
        """What the delivery row keeps to hand this message to Rasa again (JSON)."""
        return {**asdict(self), "sender_id": conversation_id(channel, self.user_id)}

    @classmethod
    def from_stored(cls, stored: Mapping[Text, Any]) -> "Inbound":
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in stored.items() if key in names})


def within_limits(message: Inbound) -> Inbound:
    """The message as the door lets it in (bot/channels/limits.py): its text without control characters or
    lone surrogates; a text over MAX_TEXT_CHARS is neither stored with the delivery nor read, and the
    customer gets the "too long" reply instead (a 5 MB signed text stalled the NLU pipeline for everyone)."""
    text = clean_text(message.text)
    if too_long(text):
        return replace(message, text="", extra={**message.extra, TOO_LONG: True})
    return replace(message, text=text)


class WebhookInput(InputChannel):
    """Base of the social connectors, in the shape of Rasa's own: an InputChannel with a blueprint.

    Every POST goes the same way: refuse (403) unless the platform's signature or secret checks out,
    read the payload (400 if it is not the platform's format), record each message id (a retry of a
    delivery already seen is acknowledged and dropped), answer 200, and hand the new messages to Rasa
    in a background task. Platforms want their 200 within seconds (WeChat gives up after 5 s and
    tells the customer the account is unavailable) while NLU plus actions may take longer; messages
    of one webhook call are processed in order.

    A connector says how its platform signs (`refusal`), what its payload holds (`read`), how it
    answers the subscription handshake (`handshake`) and which OutputChannel replies.
    """

    def __init__(self) -> None:
        self._handovers: Set[asyncio.Task] = set()
        self._redelivery: Optional[asyncio.Task] = None
        self._in_progress: Set[Text] = set()  # message ids this process is handing to Rasa right now
        channels = current().channels
        # how often a replica looks for accepted messages whose processing did not finish, and how long a
        # message must be untouched to count as unfinished: longer than any real processing takes, which
        # Rasa bounds by its 5-minute action-server request timeout (defaults 30 s and 360 s)
        self.redelivery_interval = channels.redelivery_interval_seconds
        self.redelivery_after = channels.redelivery_after_seconds
        # handled deliveries are only needed to recognise retries: WhatsApp retries for up to 7 days (8 days)
        self.delivery_retention = channels.delivery_retention

    def refusal(self, request: Request) -> Optional[Text]:
        """Why this request is not from the platform, or None when its signature or secret checks out."""
        raise NotImplementedError

    def read(self, body: bytes) -> List[Inbound]:
        """The customer messages in a webhook body; events that are not customer messages are left out."""
        raise NotImplementedError

    async def handshake(self, request: Request) -> HTTPResponse:
        """The platform's GET that proves we own the webhook URL (Meta, X and WeChat have one)."""
        return response.json({"error": f"{self.name()} has no verification handshake"}, status=405)

    def media_fetcher(self) -> Optional[FetchMedia]:
        """How this platform's media ids are opened: the output channel's `fetch_media`, on the platforms
        whose media arrive as ids (Telegram, WhatsApp, WeChat); the others send token-free URLs."""
        return getattr(self.get_output_channel(), "fetch_media", None)

    def acknowledgement(self) -> HTTPResponse:
        """The 200 the platform expects; WeChat, for one, shows an error to the customer for anything else."""
        return response.json({"status": "ok"})

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint(f"coverline_{self.name()}_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            return await self.handshake(request)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            return await self.receive(request, on_new_message)

        fetch_media = self.media_fetcher()
        if fetch_media is not None:
            add_media_route(webhook, self.name(), fetch_media)

        @webhook.listener("after_server_start")
        async def start_redelivery(app: Any, *_: Any) -> None:
            loop = asyncio.get_running_loop()
            self._redelivery = loop.create_task(self._redeliver_forever(app, on_new_message))

        @webhook.listener("before_server_stop")
        async def finish_handovers(*_: Any) -> None:
            if self._redelivery is not None:
                self._redelivery.cancel()
            # the platform got its 200 for these: it will not send them again (if we are cut off
            # anyway, they stay pending and another replica or the next start hands them over)
            try:
                await asyncio.wait_for(self.handovers_done(), timeout=SHUTDOWN_GRACE_SECONDS)
            except asyncio.TimeoutError:
                logger.warning("%s: stopped with %d message(s) still in progress", self.name(), len(self._handovers))

        return webhook

    async def receive(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        refusal = self.refusal(request)
        if refusal:
            logger.warning("%s webhook refused from %s: %s", self.name(), request.ip, refusal)
            return forbidden(refusal)
        try:
            inbound = [within_limits(message) for message in self.read(request.body)]
        except MalformedPayload as error:
            return bad_request(str(error))
        except (LookupError, TypeError, AttributeError, ValueError) as error:
            # a signed body that is not shaped as documented: say so rather than fail with a 500
            return bad_request(f"unexpected {self.name()} payload: {type(error).__name__} {error}")
        return await self.accept(inbound, on_new_message)

    async def accept(self, inbound: List[Inbound], on_new_message: OnNewMessage) -> HTTPResponse:
        """Record each delivery, hand the new ones to Rasa, and acknowledge."""
        try:
            fresh = [message for message in inbound if await self._first_delivery(message)]
        except SQLAlchemyError:
            logger.exception("%s webhook: could not record deliveries; the platform will retry", self.name())
            return response.json({"error": "temporarily unavailable"}, status=503)
        if len(fresh) < len(inbound):
            logger.info("%s webhook: %d retried delivery(ies) ignored", self.name(), len(inbound) - len(fresh))
        if fresh:
            task = asyncio.get_running_loop().create_task(self._hand_over(fresh, on_new_message))
            self._handovers.add(task)
            task.add_done_callback(self._handovers.discard)
        return self.acknowledgement()

    async def handovers_done(self) -> None:
        """Wait until the messages already accepted have been processed (tests, graceful shutdown)."""
        while self._handovers:
            await asyncio.gather(*list(self._handovers), return_exceptions=True)

    async def _first_delivery(self, message: Inbound) -> bool:
        # a blocking SQL round trip (SQLite may wait for a lock): keep it off the event loop
        return await asyncio.to_thread(first_delivery, self.name(), message.message_id, message.stored(self.name()))

    async def _hand_over(self, messages: List[Inbound], on_new_message: OnNewMessage) -> None:
        for message in messages:
            await self._process(message, on_new_message)

    async def _process(self, message: Inbound, on_new_message: OnNewMessage, redelivery: bool = False) -> None:
        """Hand one message to Rasa and record the outcome on its delivery row. A failure is logged
        and kept (status `failed` with the error) for the redelivery loop; it never raises."""
        user_message = message.user_message(self.name(), self.get_output_channel())
        self._in_progress.add(message.message_id)
        try:
            if message.extra.get(TOO_LONG):
                await user_message.output_channel.send_text_message(user_message.sender_id, TOO_LONG_REPLY)
            elif user_message.text:
                if not redelivery:  # platform housekeeping that only makes sense right away
                    await self.before_hand_over(message)
                await on_new_message(user_message)
            else:
                logger.debug("%s: nothing left of message %s to process", self.name(), message.message_id)
        except Exception as error:
            logger.exception("%s: failed to process message %s; kept for redelivery", self.name(), message.message_id)
            await self._record(mark_failed, message.message_id, f"{type(error).__name__}: {error}")
            return
        finally:
            self._in_progress.discard(message.message_id)
        await self._record(mark_processed, message.message_id)

    async def _record(self, mark: Callable[..., None], *args: Any) -> None:
        try:
            await asyncio.to_thread(mark, self.name(), *args)
        except SQLAlchemyError:
            # the message was handled (or its failure logged); a row left pending is checked against
            # the interaction log before it is ever redelivered
            logger.exception("%s: could not record the outcome for message %s", self.name(), args[0])

    async def _redeliver_forever(self, app: Any, on_new_message: OnNewMessage) -> None:
        pruned_at = 0.0
        while True:
            try:
                await self.redeliver(app, on_new_message)
                if time.monotonic() - pruned_at > PRUNE_EVERY_SECONDS:
                    pruned = await asyncio.to_thread(prune_deliveries, self.delivery_retention)
                    pruned_at = time.monotonic()
                    logger.debug("%s: pruned %d handled deliveries", self.name(), pruned)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database outage must not end the loop
                logger.exception("%s: redelivery pass failed; trying again later", self.name())
            await asyncio.sleep(self.redelivery_interval)

    async def redeliver(self, app: Any, on_new_message: OnNewMessage) -> int:
        """Hand Rasa again the accepted messages whose processing did not finish: the replica died
        mid-way, or Rasa raised (tracker store or lock store down). A message the conversation's
        tracker already holds is marked processed instead: Rasa got as far as storing it. Returns how
        many were handed over."""
        after = timedelta(seconds=self.redelivery_after)
        unfinished = await asyncio.to_thread(claim_unfinished, self.name(), after)
        handed = 0
        for delivery in unfinished:
            message = Inbound.from_stored(delivery.message)
            if message.message_id in self._in_progress:  # slow, not lost: still being handled here
                continue
            if await self._in_tracker(app, conversation_id(self.name(), message.user_id), message.message_id):
                await self._record(mark_processed, message.message_id)
                continue
            logger.warning(
                "%s: redelivering message %s (attempt %d)", self.name(), message.message_id, delivery.attempts
            )
            await self._process(message, on_new_message, redelivery=True)
            handed += 1
        return handed

    @staticmethod
    async def _in_tracker(app: Any, sender_id: Text, message_id: Text) -> bool:
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return False
        tracker = await store.retrieve(sender_id)
        return tracker is not None and any(
            getattr(event, "message_id", None) == message_id for event in tracker.events if event.type_name == "user"
        )

    async def before_hand_over(self, message: Inbound) -> None:
        """Platform housekeeping before Rasa sees a message (Telegram stops the button's spinner)."""


class PlatformAPI:
    """Calls to a platform's send API that log failures and never raise into Rasa's message handling.

    A failed reply must not crash the webhook or the conversation: the customer may be unreachable
    (blocked the account, messaging window closed) while the tracker still records what the bot said.
    Logged URLs lose their query string and every secret (Meta and WeChat put the access token in the
    query, Telegram in the path).
    """

    def __init__(self, channel: Text, secrets: Iterable[Text] = ()) -> None:
        self.channel = channel
        self.secrets = [secret for secret in secrets if secret]

    def loggable(self, url: Text) -> Text:
        where = url.split("?", 1)[0]
        for secret in self.secrets:
            where = where.replace(secret, "***")
        return where

    async def request(
        self,
        method: Text,
        url: Text,
        *,
        json_body: Optional[Dict[Text, Any]] = None,
        params: Optional[Dict[Text, Text]] = None,
        headers: Optional[Dict[Text, Text]] = None,
    ) -> Optional[Dict[Text, Any]]:
        """The platform's JSON answer, or None when the call failed (already logged)."""
        headers = dict(headers or {})
        data = None
        if json_body is not None:
            # UTF-8 text unescaped, as the platforms' own examples send it
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        try:
            async with aiohttp.ClientSession(timeout=API_TIMEOUT) as session:
                async with session.request(method, url, data=data, params=params, headers=headers) as reply:
                    body = await reply.text()
                    status = reply.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error("%s API %s %s failed: %r", self.channel, method, self.loggable(url), error)
            return None
        if status >= 400:
            logger.error("%s API %s %s: HTTP %s %s", self.channel, method, self.loggable(url), status, body[:500])
            return None
        try:
            answer = json.loads(body) if body else {}
        except ValueError:
            return {"raw": body}
        return answer if isinstance(answer, dict) else {"result": answer}

    async def post(self, url: Text, json_body: Dict[Text, Any], **kwargs: Any) -> Optional[Dict[Text, Any]]:
        return await self.request("POST", url, json_body=json_body, **kwargs)
