"""Agent replies: delivered through Rasa to the customer's channel and logged by the event broker."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request

from inbox.deps import CurrentAgent, DbSession, RasaDep, client_ip
from inbox.schemas import Accepted, Detail, ReplyIn
from inbox.services import handoff

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
