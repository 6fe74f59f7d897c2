"""X (Twitter) details beyond the shared contract: OAuth 1.0a on replies, quick-reply responses."""

from __future__ import annotations

import json
from typing import Awaitable, Callable

from oauthlib.common import Request
from oauthlib.oauth1.rfc5849 import signature

from bot.channels.twitter import TwitterInput
from bot.channels.webhooks import WebhookInput
from tests.support.channels import FakePlatform, FakeRasaAgent, WebhookServer
from tests.support.platforms import (
    X_ACCESS_SECRET,
    X_ACCESS_TOKEN,
    X_CONSUMER_KEY,
    X_CONSUMER_SECRET,
    fixture,
    x_signed,
)

StartWebhook = Callable[[WebhookInput], Awaitable[WebhookServer]]


async def twitter(start_webhook: StartWebhook, fake_api: FakePlatform) -> WebhookServer:
    return await start_webhook(
        TwitterInput(X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_ACCESS_SECRET, fake_api.url)
    )


async def test_replies_are_signed_with_oauth1_user_context(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await twitter(start_webhook, fake_api)
    body = fixture("twitter_dm.json")

    await webhook.request("POST", body=body, **x_signed(body))

    [call] = fake_api.calls("/2/dm_conversations/with/3001969357/messages")
    url = f"{fake_api.url}{call.path}"
    request = Request(url, "POST", headers={"Authorization": call.headers["Authorization"]})
    params = dict(signature.collect_parameters(headers=request.headers, exclude_oauth_signature=False))
    request.params = signature.collect_parameters(headers=request.headers)  # the base string leaves it out
    request.signature = params["oauth_signature"]
    assert params["oauth_consumer_key"] == X_CONSUMER_KEY
    assert params["oauth_token"] == X_ACCESS_TOKEN
    assert signature.verify_hmac_sha1(request, X_CONSUMER_SECRET, X_ACCESS_SECRET)
    assert not signature.verify_hmac_sha1(request, "another-consumer-secret", X_ACCESS_SECRET)


async def test_a_quick_reply_response_reaches_rasa_as_its_payload(
    start_webhook: StartWebhook, fake_api: FakePlatform, rasa: FakeRasaAgent
) -> None:
    webhook = await twitter(start_webhook, fake_api)
    payload = json.loads(fixture("twitter_dm.json"))
    data = payload["direct_message_events"][0]["message_create"]["message_data"]
    data["text"] = "Claim status"
    data["quick_reply_response"] = {"type": "options", "metadata": "/claim_status"}
    body = json.dumps(payload).encode()

    await webhook.request("POST", body=body, **x_signed(body))

    assert [m.text for m in rasa.messages] == ["/claim_status"]
