"""Reading and rewriting the platforms' documented payloads: who a reply is addressed to and what it says
(as the fake platform API recorded it), and a documented message with a new id or a new text."""

from __future__ import annotations

import json
import random
import re
from typing import Text

from tests.support.channels import PlatformRequest
from tests.support.platforms import PLATFORMS

BY_NAME = {platform.name: platform for platform in PLATFORMS}


def recipient(name: Text, call: PlatformRequest) -> Text:
    body = call.json or {}
    if name in ("facebook", "instagram"):
        return str(body["recipient"]["id"])
    if name == "whatsapp":
        return str(body["to"])
    if name == "telegram":
        return str(body["chat_id"])
    if name == "twitter":
        return call.path.split("/")[-2]  # /2/dm_conversations/with/<user id>/messages
    return str(body["touser"])  # wechat


def reply_text(name: Text, call: PlatformRequest) -> Text:
    body = call.json or {}
    if name in ("facebook", "instagram"):
        return str(body["message"].get("text") or "")
    if name == "whatsapp":
        return str(body["text"]["body"] if body["type"] == "text" else body["interactive"]["body"]["text"])
    if name == "telegram":
        return str(body["text"])
    if name == "twitter":
        return str(body["text"])
    return str(body["text"]["content"])  # wechat


def with_fresh_id(name: str, body: bytes, rng: random.Random) -> bytes:
    """The same delivery as a new platform message (a retry of one already seen is only acknowledged)."""
    n = rng.randint(10**6, 10**9)
    if name == "wechat":
        return re.sub(rb"<MsgId>\d+</MsgId>", f"<MsgId>{n}</MsgId>".encode(), body)
    payload = json.loads(body)
    if name in ("facebook", "instagram"):
        payload["entry"][0]["messaging"][0]["message"]["mid"] = f"m_fuzz{n}"
    elif name == "whatsapp":
        payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = f"wamid.FUZZ{n}"
    elif name == "telegram":
        payload["update_id"] = n
        payload["message"]["message_id"] = n
    elif name == "twitter":
        payload["direct_message_events"][0]["id"] = str(n)
    return json.dumps(payload).encode()


def with_text(name: str, body: bytes, text: str) -> bytes:
    """The documented message with the customer's text replaced. WeChat's XML carries raw UTF-8, where a lone
    surrogate can only be written as the (invalid) bytes a careless encoder produces."""
    if name != "wechat":
        return BY_NAME[name].with_text(body, text)
    content = b"<Content><![CDATA[" + text.encode("utf-8", "surrogatepass") + b"]]></Content>"
    return re.sub(rb"<Content><!\[CDATA\[.*?\]\]></Content>", lambda _: content, body, flags=re.S)
