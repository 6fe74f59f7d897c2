"""Opening a customer's photo, PDF or voice note for an agent, without storing a secret or the file.

Telegram, WhatsApp and WeChat deliver media as ids; the file is fetched from the platform with the
channel's own token (Telegram's download URL even holds the bot token in its path). Only the Rasa
server has those tokens, so each connector's blueprint serves `GET /webhooks/<channel>/media/<id>` to
callers holding the Rasa API token (the inbox, on behalf of a signed-in agent), streaming the platform's
file through. Nothing is written to disk or to the database: the platforms keep media for a while
(WhatsApp 30 days, WeChat 3 days), after which the link answers 404 with that reason.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import mimetypes
import re
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import aiohttp
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from settings import current

logger = logging.getLogger(__name__)

MEDIA_TIMEOUT = aiohttp.ClientTimeout(total=60)
# Telegram file_ids are base64url, WhatsApp ids digits, WeChat media ids alphanumeric with - and _
MEDIA_ID = re.compile(r"^[A-Za-z0-9_\-]{1,512}$")
GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream")


class MediaError(Exception):
    """Why a file cannot be handed over; `status` is what the media route answers."""

    status = 502


class MediaNotFound(MediaError):
    status = 404


class MediaTooLarge(MediaError):
    status = 413


@dataclass(frozen=True)
class Media:
    body: bytes
    content_type: Text


FetchMedia = Callable[[Text], Awaitable[Media]]


def content_type(declared: Optional[Text], known: Optional[Text] = None, file_name: Optional[Text] = None) -> Text:
    """The served type without parameters; when the file server says only "octet-stream" (Telegram's
    does), the type the platform told us about the file, else a guess from its name."""
    kind = (declared or "").split(";", 1)[0].strip().lower()
    if kind in GENERIC_TYPES and known:
        kind = known.split(";", 1)[0].strip().lower()
    if kind in GENERIC_TYPES and file_name:
        kind = mimetypes.guess_type(file_name)[0] or kind
    return kind or "application/octet-stream"


def platform_reason(answer: Any) -> Text:
    """The platform's own words for a refusal (Telegram `description`, Graph `error.message`, WeChat `errmsg`)."""
    if not isinstance(answer, dict):
        return ""
    error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
    reason = answer.get("description") or answer.get("errmsg") or error.get("message")
    return f": {reason}" if reason else ""


def refuse_on_error(channel: Text, status: int, answer: Any = None) -> None:
    """Platforms answer 400/404/410 for an id they never issued or no longer keep; anything else ≥ 400 is
    the platform failing, not the file being gone."""
    if status in (400, 404, 410):
        raise MediaNotFound(f"{channel} no longer has this file (HTTP {status}{platform_reason(answer)})")
    if status >= 400:
        raise MediaError(f"{channel} did not hand over the file (HTTP {status}{platform_reason(answer)})")


async def download(
    channel: Text,
    url: Text,
    *,
    headers: Optional[Dict[Text, Text]] = None,
    params: Optional[Dict[Text, Text]] = None,
    known_type: Optional[Text] = None,
    file_name: Optional[Text] = None,
) -> Media:
    """The file at `url`, read up to COVERLINE_MEDIA_MAX_BYTES (default 100 MB, WhatsApp's own cap for
    documents: larger answers are refused rather than held in memory). Platform 400/404 mean the id is
    unknown or expired."""
    limit = current().channels.media_max_bytes
    try:
        async with aiohttp.ClientSession(timeout=MEDIA_TIMEOUT) as session:
            async with session.get(url, headers=headers, params=params) as reply:
                refuse_on_error(channel, reply.status)
                if (reply.content_length or 0) > limit:
                    raise MediaTooLarge(f"the file is larger than {limit} bytes")
                body = await reply.content.read(limit + 1)
                if len(body) > limit:
                    raise MediaTooLarge(f"the file is larger than {limit} bytes")
                return Media(body, content_type(reply.headers.get("Content-Type"), known_type, file_name))
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise MediaError(f"{channel} did not answer: {type(error).__name__}") from error


async def get_json(
    channel: Text,
    method: Text,
    url: Text,
    *,
    headers: Optional[Dict[Text, Text]] = None,
    json_body: Optional[Dict[Text, Any]] = None,
) -> Dict[Text, Any]:
    """A platform's JSON answer about a file (where it is, its type); errors as for download()."""
    try:
        async with aiohttp.ClientSession(timeout=MEDIA_TIMEOUT) as session:
            async with session.request(method, url, headers=headers, json=json_body) as reply:
                status = reply.status
                answer = await reply.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as error:
        raise MediaError(f"{channel} did not answer: {type(error).__name__}") from error
    refuse_on_error(channel, status, answer)
    if not isinstance(answer, dict):
        raise MediaError(f"{channel} did not say where the file is (HTTP {status})")
    return answer


def refusal(request: Request) -> Optional[HTTPResponse]:
    """The answer to a caller without the Rasa API token (None for one with it). A header, not a query
    parameter, so the token stays out of access logs. Only a configured token counts: the inbox must
    have been given the same one."""
    expected = current().rasa.api_token.configured or ""
    if not expected:
        return response.json({"error": "media access is off: the Rasa server has no RASA_API_TOKEN"}, status=503)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        required = "a valid 'Authorization: Bearer <Rasa API token>' header is required"
        return response.json({"error": required}, status=403)
    return None


def add_media_route(webhook: Blueprint, channel: Text, fetch: FetchMedia) -> None:
    """`GET <webhook prefix>/media/<media_id>`: the file, as the platform serves it."""

    @webhook.route("/media/<media_id>", methods=["GET"])
    async def media(request: Request, media_id: Text) -> HTTPResponse:
        refused = refusal(request)
        if refused is not None:
            return refused
        if not MEDIA_ID.match(media_id):
            return response.json({"error": "not a media id this channel issues"}, status=400)
        try:
            found = await fetch(media_id)
        except MediaError as error:
            if error.status >= 500:
                logger.warning("%s media %s: %s", channel, media_id, error)
            return response.json({"error": str(error)}, status=error.status)
        return response.raw(
            found.body,
            content_type=found.content_type,
            headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
        )
