"""Opening what a customer sent (a damage photo, a PDF quote, a voice note) from the transcript.

The inbox has no platform tokens: it asks the Rasa server, which holds them, for the file by the media
id the connector stored (bot/channels/media.py), and passes it to the agent's browser. The file is not
kept. Types a browser can show safely are shown inline; anything else (HTML, SVG, scripts, archives)
is offered as a download, and every file is served under a sandboxing CSP so it can never run as the
inbox's own page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Optional
from urllib.parse import quote

from sqlalchemy.orm import Session

from inbox.errors import NotFound
from inbox.rasa_client import RasaClient
from inbox.services import audit
from storage.models import Agent, Message

# channels whose connector serves GET /webhooks/<channel>/media/<id>; the others store token-free URLs
MEDIA_CHANNELS = ("telegram", "whatsapp", "wechat")
INLINE_TYPES = re.compile(r"^(image/(jpeg|png|gif|webp)|audio/[\w.+-]+|video/[\w.+-]+|application/pdf)$")


@dataclass(frozen=True)
class OpenedFile:
    body: bytes
    media_type: str
    headers: Dict[str, str]


@dataclass(frozen=True)
class StoredMedia:
    channel: str
    media_id: str
    file_name: Optional[str]


def stored_media(db: Session, conversation_id: str, message_id: int, index: int) -> StoredMedia:
    """The platform media id of one attachment of a customer message in this conversation."""
    message = db.get(Message, message_id)
    if message is None or message.conversation_id != conversation_id or message.direction != "inbound":
        raise NotFound(f"Message {message_id} is not a customer message of conversation {conversation_id!r}.")
    attachments = (message.payload or {}).get("attachments") if isinstance(message.payload, dict) else None
    if not isinstance(attachments, list) or not 0 <= index < len(attachments):
        raise NotFound(f"Message {message_id} has no attachment {index}.")
    item: Dict[str, Any] = attachments[index] if isinstance(attachments[index], dict) else {}
    if not item.get("media_id") or message.channel not in MEDIA_CHANNELS:
        raise NotFound(f"Attachment {index} of message {message_id} is not a file kept by the platform.")
    return StoredMedia(str(message.channel), str(item["media_id"]), item.get("file_name"))


def response_headers(content_type: str, file_name: Optional[str], media_id: str) -> Dict[str, str]:
    """Inline for what browsers render inertly; a download otherwise; sandboxed either way."""
    inline = bool(INLINE_TYPES.match(content_type))
    name = file_name or media_id
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120] or "attachment"
    return {
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{ascii_name}"; '
        f"filename*=UTF-8''{quote(name[:120])}",
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; media-src 'self'",
        "Cache-Control": "private, max-age=300",
        "X-Content-Type-Options": "nosniff",
    }


def served_type(content_type: str) -> str:
    return content_type if INLINE_TYPES.match(content_type) else "application/octet-stream"


def open_attachment(
    db: Session, rasa: RasaClient, agent: Agent, conversation_id: str, message_id: int, index: int, ip: str
) -> OpenedFile:
    """The file for the agent's browser; the opening goes in the audit trail (customer media are personal
    data: who looked at which file, and when, is on record)."""
    stored = stored_media(db, conversation_id, message_id, index)
    body, content_type = rasa.fetch_media(stored.channel, stored.media_id)
    audit.record(
        db,
        "attachment_opened",
        agent_id=agent.id,
        conversation_id=conversation_id,
        detail={"message_id": message_id, "index": index, "content_type": content_type},
        ip=ip,
    )
    db.commit()
    headers = response_headers(content_type, stored.file_name, stored.media_id)
    return OpenedFile(body, served_type(content_type), headers)
