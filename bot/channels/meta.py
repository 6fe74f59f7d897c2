"""Meta's webhook conventions, shared by the Messenger, Instagram and WhatsApp Cloud API connectors.

All three sign the raw body with the app secret (X-Hub-Signature-256: sha256=<hex HMAC-SHA256>) and
prove the subscription with a GET carrying hub.mode, hub.verify_token and hub.challenge. Rasa's own
facebook connector lets the header choose the hash, compares with `==` and answers 200 to a bad
signature; here a bad or missing signature is a 403 before the body is read.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Text

from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.webhooks import WebhookInput, bad_request, forbidden, hmac_sha256, secrets_match

DEFAULT_GRAPH_API = "https://graph.facebook.com/v19.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"


def meta_signature(app_secret: Text, body: bytes) -> Text:
    return "sha256=" + hmac_sha256(app_secret, body).hex()


def subscription_challenge(request: Request, verify_token: Text) -> HTTPResponse:
    """Echo hub.challenge only to a subscribe request that knows our verify token."""
    if request.args.get("hub.mode") != "subscribe" or not secrets_match(
        verify_token, request.args.get("hub.verify_token")
    ):
        return forbidden("hub.mode or hub.verify_token does not match")
    challenge = request.args.get("hub.challenge")
    if not challenge:
        return bad_request("hub.challenge is missing")
    return response.text(challenge)


class MetaWebhookInput(WebhookInput):
    """The door every Meta webhook shares; subclasses read their product's payload and reply."""

    def __init__(self, verify_token: Text, app_secret: Text) -> None:
        super().__init__()
        self.verify_token = verify_token
        self.app_secret = app_secret

    def refusal(self, request: Request) -> Optional[Text]:
        given = request.headers.get(SIGNATURE_HEADER)
        if not given:
            return f"{SIGNATURE_HEADER} header is missing"
        if not secrets_match(meta_signature(self.app_secret, request.body), given):
            return f"{SIGNATURE_HEADER} does not match the body signed with the app secret"
        return None

    async def handshake(self, request: Request) -> HTTPResponse:
        return subscription_challenge(request, self.verify_token)


def entries(payload: Dict[Text, Any], expected_object: Text) -> list:
    """The `entry` list of a webhook for our product; other objects (e.g. a page's feed) have none for us."""
    if payload.get("object") != expected_object:
        return []
    found = payload.get("entry") or []
    if not isinstance(found, list):
        raise ValueError("entry is not a list")
    return found
