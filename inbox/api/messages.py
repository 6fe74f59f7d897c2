"""Agent replies (delivered through Rasa to the customer's channel and logged by the event broker), a
customer's files, and revealing a message's masked personal data."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request, Response

from inbox.deps import CurrentAgent, DbSession, RasaDep, client_ip
from inbox.schemas import MAX_ID, Accepted, Detail, MessageOut, ReplyIn
from inbox.services import conversations, handoff, media

router = APIRouter(prefix="/conversations", tags=["messages"])


@router.post(
    "/{conversation_id}/replies",
    response_model=Accepted,
    status_code=202,
    responses={404: {"model": Detail}, 409: {"model": Detail}, 502: {"model": Detail}},
)
def send_reply(
    *,
    body: ReplyIn,
    request: Request,
    conversation_id: str = Path(..., min_length=1, max_length=255),
    agent: CurrentAgent,
    db: DbSession,
    rasa: RasaDep,
) -> dict:
    """Accepted by Rasa and on its way to the customer; it appears in the transcript (and the live stream)
    when Rasa's event broker has logged it."""
    if handoff.reply(db, rasa, agent, conversation_id, body.text, client_ip(request)):
        return {"status": "sent", "detail": "Rasa accepted the reply for delivery."}
    return {
        "status": "stored_only",
        "detail": "Stored in the conversation, but this customer writes over Rasa's REST channel, which cannot "
        "push: they see it only if their client fetches the conversation.",
    }


@router.get(
    "/{conversation_id}/messages/{message_id}/attachments/{index}",
    response_class=Response,
    responses={
        200: {"description": "the file, inline if a browser shows it safely, else as a download"},
        404: {"model": Detail, "description": "no such attachment, or the platform no longer keeps it"},
        502: {"model": Detail},
    },
)
def open_attachment(
    *,
    request: Request,
    conversation_id: str = Path(..., min_length=1, max_length=255),
    message_id: int = Path(..., ge=1, le=MAX_ID),
    index: int = Path(..., ge=0, le=100),
    agent: CurrentAgent,
    db: DbSession,
    rasa: RasaDep,
) -> Response:
    """A photo, document or voice note the customer sent on Telegram, WhatsApp or WeChat, fetched from the
    platform through the Rasa server (which holds the channel's token) and not kept; each opening is audited."""
    opened = media.open_attachment(db, rasa, agent, conversation_id, message_id, index, client_ip(request))
    return Response(opened.body, media_type=opened.media_type, headers=opened.headers)


@router.post(
    "/{conversation_id}/messages/{message_id}/reveal",
    response_model=MessageOut,
    responses={403: {"model": Detail}, 404: {"model": Detail}},
)
def reveal_message(
    *,
    request: Request,
    conversation_id: str = Path(..., min_length=1, max_length=255),
    message_id: int = Path(..., ge=1, le=MAX_ID),
    agent: CurrentAgent,
    db: DbSession,
) -> dict:
    """The message as written, card numbers, SSNs, emails and phones unmasked: for admins and the agent the
    conversation is assigned to; every reveal is audited (`message_revealed`)."""
    return conversations.reveal_message(db, agent, conversation_id, message_id, client_ip(request))
