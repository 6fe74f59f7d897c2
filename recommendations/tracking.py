"""Signed recommendation links: `/r/<token>` on the web chat page server, where the token names one impression.

A token is base64url(impression id, item id, expiry as 3 × 8 bytes big-endian ‖ HMAC-SHA256 of those bytes under
COVERLINE_TRACKING_SECRET), 75 characters. It carries no URL: the redirect always goes to the item's own link or
page, read from SQL, so the server cannot be made an open redirect. The action server signs (it knows the
impression), the page server checks (recommendations/redirect.py); both read the secret through settings.

Refusals say what is wrong at the edge: a token that is not one of ours in form is malformed (400), a well-formed
one whose signature does not match was altered (403), a genuine one past its expiry is gone (410). Expiry is read
only after the signature, so no one learns anything about a token they could not have been given.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

from settings import Settings, current

_CONTEXT = b"coverline content link\x00"  # a tracking MAC can never be mistaken for another HMAC of ours
_FIELDS = struct.Struct(">QQQ")
_MAC_BYTES = hashlib.sha256().digest_size
TOKEN_CHARS = len(base64.urlsafe_b64encode(b"\0" * (_FIELDS.size + _MAC_BYTES)).rstrip(b"="))
_TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
REDIRECT_PATH = "/r/"


class LinkRefused(ValueError):
    """A token the redirect will not follow; `status` is the HTTP answer, the message says why."""

    status = 400


class MalformedLink(LinkRefused):
    status = 400


class AlteredLink(LinkRefused):
    status = 403


class ExpiredLink(LinkRefused):
    status = 410


@dataclass(frozen=True)
class LinkClaim:
    """What a genuine token says: the impression it was made for, its item, and until when it opens."""

    impression_id: int
    item_id: int
    expires_at: int  # unix seconds


def sign_link(secret: bytes, impression_id: int, item_id: int, expires_at: int) -> str:
    """The token for one impression of one item, valid until `expires_at` (unix seconds)."""
    fields = _FIELDS.pack(impression_id, item_id, expires_at)
    return base64.urlsafe_b64encode(fields + _mac(secret, fields)).rstrip(b"=").decode("ascii")


def read_link(secret: bytes, token: str, now: Optional[float] = None) -> LinkClaim:
    """The claim of a token we signed that has not expired; LinkRefused (malformed, altered, expired) otherwise."""
    if len(token) != TOKEN_CHARS or not set(token) <= _TOKEN_ALPHABET:
        raise MalformedLink("this is not a Coverline link: the token has the wrong length or characters")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise MalformedLink("this is not a Coverline link: the token is not base64url") from None
    fields, given = raw[: _FIELDS.size], raw[_FIELDS.size :]
    if not hmac.compare_digest(_mac(secret, fields), given):
        raise AlteredLink("this link was altered or not made by Coverline: its signature does not match")
    impression_id, item_id, expires_at = _FIELDS.unpack(fields)
    if (time.time() if now is None else now) > expires_at:
        raise ExpiredLink("this link has expired: ask the assistant again for an up-to-date one")
    return LinkClaim(impression_id, item_id, expires_at)


def tracking_secret(settings: Optional[Settings] = None) -> bytes:
    """COVERLINE_TRACKING_SECRET (dev: generated into var/); a SettingsError outside dev when it is not set."""
    return (settings or current()).recommendations.tracking_secret.value().encode("utf-8")


def tracked_url(
    impression_id: int, item_id: int, settings: Optional[Settings] = None, now: Optional[float] = None
) -> str:
    """The public link that opens an item for one impression, valid for COVERLINE_TRACKING_LINK_DAYS."""
    settings = settings or current()
    lifetime = timedelta(days=settings.recommendations.link_days).total_seconds()
    expires_at = int((time.time() if now is None else now) + lifetime)
    token = sign_link(tracking_secret(settings), impression_id, item_id, expires_at)
    return f"{settings.recommendations.public_url}{REDIRECT_PATH}{token}"


def _mac(secret: bytes, fields: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT + fields, hashlib.sha256).digest()
