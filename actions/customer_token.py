"""The signed token the insurer's logged-in page gives the web chat, so a signed-in customer needs no quiz.

Format: `base64url(json{"customer_id": int, "exp": unix seconds}) + "." + base64url(HMAC-SHA256(secret,
first part))`, unpadded base64url as in JWTs. The page's server mints it with the secret it shares
with the action server (env CUSTOMER_TOKEN_SECRET, at least 32 bytes) and passes it in rasa-webchat's
`customData.customer_token`; the action checks the signature in constant time, then the expiry. An
optional `"sid"` binds the token to one conversation id. No secret set: tokens are not accepted; a short
one stops the action server at start-up (settings).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any, Dict, Optional

from settings import current

MAX_TOKEN_CHARS = 1024
MAX_LIFETIME_SECONDS = 24 * 3600  # a token good for longer was minted by mistake: refuse it
METADATA_KEY = "customer_token"  # the key in the web chat's customData (the message metadata)


class TokenRefused(Exception):
    """Why a token does not prove anything; `reason` is short, for the audit row, never for the customer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def token_secret() -> Optional[bytes]:
    """CUSTOMER_TOKEN_SECRET, or None when tokens are off (a short secret is a SettingsError, not used)."""
    return current().verification.customer_token_secret


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _epoch(moment: datetime) -> float:
    """Seconds since the epoch; a naive datetime is UTC, as everywhere in storage/."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _signature(secret: bytes, payload: str) -> str:
    return _b64encode(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def sign_customer_token(
    customer_id: int, expires_at: datetime, secret: bytes, conversation_id: Optional[str] = None
) -> str:
    """What the insurer's page server does (and the tests): a token for one customer until `expires_at`."""
    claims: Dict[str, Any] = {"customer_id": int(customer_id), "exp": int(_epoch(expires_at))}
    if conversation_id is not None:
        claims["sid"] = conversation_id
    payload = _b64encode(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_signature(secret, payload)}"


def read_customer_token(
    token: Any, secret: bytes, now: Optional[datetime] = None, conversation_id: Optional[str] = None
) -> int:
    """The customer id the token vouches for; raises TokenRefused otherwise.

    The signature is checked before anything in the payload is read, in constant time."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        raise TokenRefused("malformed")
    payload, signature = token.split(".")
    try:
        expected = _signature(secret, payload)
    except UnicodeEncodeError as error:
        raise TokenRefused("malformed") from error
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise TokenRefused("bad_signature")
    try:
        claims = json.loads(_b64decode(payload))
    except (binascii.Error, ValueError) as error:
        raise TokenRefused("malformed") from error
    if not isinstance(claims, dict):
        raise TokenRefused("malformed")
    customer_id, expires = claims.get("customer_id"), claims.get("exp")
    if type(customer_id) is not int or type(expires) is not int or customer_id <= 0:
        raise TokenRefused("malformed")
    at = _epoch(now or datetime.now(timezone.utc))
    if expires <= at:
        raise TokenRefused("expired")
    if expires - at > MAX_LIFETIME_SECONDS:
        raise TokenRefused("lifetime_too_long")
    bound_to = claims.get("sid")
    if bound_to is not None and bound_to != conversation_id:
        raise TokenRefused("other_conversation")
    return customer_id
