"""Rasa's REST channel (`POST /webhooks/rest/webhook {"sender", "message"}`) with the checks of a door.

It shares the public port with the web chat's socket.io, and Rasa's own channel answered anyone, with any
`sender` (so any conversation, a WhatsApp customer's included) and read any `/intent{...}` text as that
intent. Here a caller must send `Authorization: Bearer <token>` (REST_CHANNEL_TOKEN, else RASA_API_TOKEN,
or `token:` in credentials.yml; compared in constant time; without one configured the server refuses to
start), and the text is screened as the web chat's is (bot/channels/untrusted.py `screen`: only the
button payloads the bot just offered this sender are read as intents; metadata only our connectors set
is dropped). A wrong or missing token is 401.

Rasa's own channel answered 500 to an empty, `[]`, `null` or non-JSON body, took any `sender` (a number,
a NUL, 10,000 characters), let the body choose the `input_channel` the conversation is logged under, and
handed any text, however long, to the NLU pipeline. Here a body is one JSON object of at most
MAX_BODY_BYTES with a `sender` (bot/channels/limits.py's `valid_sender_id`) and a string `message`
with something to read (a blank one would reach the NLU pipeline with no intent to give it, and the turn
would fail); anything else is a 400 with a message saying what is wrong. The text and metadata get the public doors'
limits: control characters and lone surrogates stripped, metadata flat and small, and over MAX_TEXT_CHARS
the answer is the bot's "too long" reply instead of a turn (nothing reaches Rasa). The channel name stays
`rest`, so the URL and the conversations' channel are what they were. Streaming (`?stream=true`) is not
offered.
"""

from __future__ import annotations

import hmac
import json
import logging
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.limits import (
    MAX_SENDER_ID_CHARS,
    TOO_LONG_REPLY,
    clean_text,
    public_metadata,
    too_long,
    valid_sender_id,
)
from bot.channels.untrusted import screened
from settings import current, load

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # a message of MAX_TEXT_CHARS with metadata, with room to spare


class RequestRefused(ValueError):
    """The request is the caller's mistake: answered with its status and message, never a 500."""

    def __init__(self, message: Text, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def refused(error: RequestRefused) -> HTTPResponse:
    return response.json({"error": str(error)}, status=error.status)


def configured_token(credentials: Optional[Dict[Text, Any]], env: Optional[Dict[Text, Text]] = None) -> Text:
    """The token callers must present: credentials.yml's `token`, else REST_CHANNEL_TOKEN, else a configured
    RASA_API_TOKEN. None at all is a start-up error: an open REST channel is what this class closes."""
    rasa = (current() if env is None else load(env)).rasa
    token = str((credentials or {}).get("token") or "") or rasa.rest_channel_token or rasa.api_token.configured or ""
    if not token:
        raise RasaException(
            "The rest channel needs a token: set REST_CHANNEL_TOKEN or RASA_API_TOKEN (or `token:` in credentials.yml)."
        )
    return token


def authorised(request: Request, token: Text) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"), token.encode("utf-8"))


def read_body(request: Request) -> Dict[Text, Any]:
    """The request's JSON object, or RequestRefused saying what is wrong with it."""
    body = request.body or b""
    if len(body) > MAX_BODY_BYTES:
        raise RequestRefused(f"the body is larger than {MAX_BODY_BYTES} bytes", status=413)
    if not body.strip():
        raise RequestRefused('the body is empty; send a JSON object: {"sender": "...", "message": "..."}')
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise RequestRefused('the body is not JSON; send a JSON object: {"sender": "...", "message": "..."}') from None
    if not isinstance(payload, dict):
        raise RequestRefused('the body must be a JSON object: {"sender": "...", "message": "..."}')
    return payload


def read_message(payload: Dict[Text, Any]) -> UserMessage:
    """The sender, text and metadata of a body, checked (a UserMessage without an output channel yet)."""
    sender = payload.get("sender")
    if not valid_sender_id(sender):
        raise RequestRefused(
            f'"sender" must be a string of 1 to {MAX_SENDER_ID_CHARS} characters without control characters'
        )
    if not isinstance(payload.get("message"), str):
        raise RequestRefused('"message" must be a string')
    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise RequestRefused('"metadata" must be a JSON object')
    text = clean_text(payload["message"])
    return UserMessage(text, None, sender, input_channel="rest", metadata=public_metadata(metadata))


class GuardedRestInput(RestInput):
    """credentials.yml key: `bot.channels.rest.GuardedRestInput` (in place of `rest:`)."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def __init__(self, token: Text) -> None:
        self.token = token

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(configured_token(credentials))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not authorised(request, self.token):
                return response.json(
                    {"error": "send the REST channel's token as `Authorization: Bearer <token>`"},
                    status=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            try:
                if request.args.get("stream", "").lower() == "true":
                    raise RequestRefused("streaming is not offered on this channel")
                message = read_message(read_body(request))
            except RequestRefused as error:
                return refused(error)
            collector = CollectingOutputChannel()
            if too_long(message.text or ""):
                await collector.send_text_message(message.sender_id, TOO_LONG_REPLY)
                return response.json(collector.messages)
            message.output_channel = collector
            message = await screened(request.app, message)
            if not (message.text or "").strip():  # nothing to read ("", a NUL, a lone "/"): the NLU has no intent
                return refused(RequestRefused('"message" has no text to read'))
            try:
                await on_new_message(message)
            except CancelledError:
                logger.error("rest channel: handling the message of %s timed out", message.sender_id)
            except Exception:  # as Rasa's channel: answer what was collected, the error is logged
                logger.exception("rest channel: handling the message of %s failed", message.sender_id)
            return response.json(collector.messages)

        return webhook
