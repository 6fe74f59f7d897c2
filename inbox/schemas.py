"""Request and response bodies of the JSON API (pydantic v1, as Rasa 3.6 pins it); they make the OpenAPI
document. Limits here turn oversized or malformed input into a 422 with a message before any work."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Dict, List, Optional

from pydantic import BaseModel, Field, constr

# Ids are 32-bit in both databases; a larger number is malformed input (422), not a driver overflow (500).
MAX_ID = 2**31 - 1
ShortCode = constr(strip_whitespace=True, regex=r"^[A-Za-z0-9_-]{1,40}$")


class Detail(BaseModel):
    detail: str


class LoginIn(BaseModel):
    email: constr(strip_whitespace=True, min_length=3, max_length=254)  # type: ignore[valid-type]
    password: constr(min_length=1, max_length=1024)  # type: ignore[valid-type]


class AgentOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    active: bool
    created_at: datetime
    last_login_at: Optional[datetime]


class AgentBrief(BaseModel):
    id: int
    name: Optional[str]


class SessionOut(BaseModel):
    agent: AgentOut
    csrf_token: Optional[str] = Field(None, description="send as X-CSRF-Token on POST/PATCH/DELETE with the cookie")


class PasswordChange(BaseModel):
    current_password: constr(min_length=1, max_length=1024)  # type: ignore[valid-type]
    new_password: constr(min_length=10, max_length=1024)  # type: ignore[valid-type]


class ApiTokenIn(BaseModel):
    label: constr(strip_whitespace=True, min_length=1, max_length=120)  # type: ignore[valid-type]
    days: int = Field(90, ge=1, le=365)


class ApiTokenInfo(BaseModel):
    id: int
    label: Optional[str]
    created_at: datetime
    expires_at: datetime
    last_seen_at: Optional[datetime]


class ApiTokenOut(ApiTokenInfo):
    token: str = Field(..., description="shown once; send as `Authorization: Bearer <token>`")


class AgentCreate(BaseModel):
    email: constr(strip_whitespace=True, min_length=3, max_length=254)  # type: ignore[valid-type]
    name: constr(strip_whitespace=True, min_length=1, max_length=120)  # type: ignore[valid-type]
    role: constr(regex=r"^(agent|admin)$") = "agent"  # type: ignore[valid-type]
    password: constr(min_length=10, max_length=1024)  # type: ignore[valid-type]


class AgentUpdate(BaseModel):
    name: Optional[constr(strip_whitespace=True, min_length=1, max_length=120)]  # type: ignore[valid-type]
    role: Optional[constr(regex=r"^(agent|admin)$")]  # type: ignore[valid-type]
    active: Optional[bool]
    password: Optional[constr(min_length=10, max_length=1024)]  # type: ignore[valid-type]


class Sentiment(BaseModel):
    label: Optional[str]
    confidence: Optional[float]


class LastMessage(BaseModel):
    author: str
    text: Optional[str]
    sent_at: datetime


class EscalationBrief(BaseModel):
    id: int
    reason: str
    priority: int
    created_at: datetime
    sla_due_at: datetime
    open: bool
    outcome: Optional[str]
    assigned_at: Optional[datetime]
    resolved_at: Optional[datetime]
    note: Optional[str]


class ConversationSummary(BaseModel):
    id: str
    channel: str
    customer_identity: Optional[str]
    status: str = Field(
        ..., description="pending (the bot answers), escalated (waiting for a person), open (an agent has it), resolved"
    )
    assignee: Optional[AgentBrief]
    created_at: datetime
    last_message_at: datetime
    last_message: Optional[LastMessage]
    sentiment: Optional[Sentiment] = Field(None, description="of the last customer message")
    escalation: Optional[EscalationBrief] = Field(None, description="the most urgent open escalation")


class ConversationPage(BaseModel):
    total: int
    items: List[ConversationSummary]
    channels: List[str]


class MessageOut(BaseModel):
    id: int
    conversation_id: str
    direction: str
    author: str = Field(..., description="customer, bot or agent")
    agent_name: Optional[str] = Field(None, description="who wrote it, when author is agent")
    channel: str
    text: Optional[str] = Field(None, description="card numbers, SSNs, emails and phones masked ([card ending 1111])")
    payload: Optional[Any]
    masked: List[str] = Field(
        default_factory=list,
        description="kinds of personal data masked in text/payload (card, ssn, email, phone); POST …/reveal shows them",
    )
    intent: Optional[str]
    confidence: Optional[float]
    sentiment: Optional[Sentiment]
    answer_source: Optional[str] = Field(None, description="template, form, lookup, retrieval, fallback, agent, …")
    action_name: Optional[str]
    retrieval_score: Optional[float]
    sent_at: datetime


class NoteIn(BaseModel):
    body: constr(strip_whitespace=True, min_length=1, max_length=10000)  # type: ignore[valid-type]


class NoteOut(BaseModel):
    id: int
    conversation_id: str
    agent_id: int
    agent_name: Optional[str]
    body: str
    created_at: datetime


class ConversationDetail(ConversationSummary):
    messages: List[MessageOut]
    notes: List[NoteOut]
    escalations: List[EscalationBrief]


class AssignIn(BaseModel):
    agent_id: Optional[int] = Field(..., ge=1, le=MAX_ID, description="an agent id, or null to unassign")


class ReplyIn(BaseModel):
    text: constr(strip_whitespace=True, min_length=1, max_length=4000)  # type: ignore[valid-type]


class Accepted(BaseModel):
    status: str = Field("sent", description="sent, or stored_only when the channel cannot push (Rasa's REST)")
    detail: str


class QueueItem(BaseModel):
    id: int
    conversation_id: str
    reason: str
    priority: int = Field(..., description="1 urgent … 3 low")
    note: Optional[str]
    open: bool
    outcome: Optional[str]
    created_at: datetime
    assigned_at: Optional[datetime]
    resolved_at: Optional[datetime]
    waiting_seconds: float
    sla_minutes: int
    sla_due_at: datetime
    first_response_at: Optional[datetime]
    sla_state: str = Field(..., description="running, met or breached")
    channel: Optional[str]
    customer_identity: Optional[str]
    status: str
    assignee: Optional[AgentBrief]
    sentiment: Optional[Sentiment]
    last_message: Optional[LastMessage]


class CannedIn(BaseModel):
    short_code: ShortCode  # type: ignore[valid-type]
    content: constr(strip_whitespace=True, min_length=1, max_length=4000)  # type: ignore[valid-type]


class CannedUpdate(BaseModel):
    short_code: Optional[ShortCode]  # type: ignore[valid-type]
    content: Optional[constr(strip_whitespace=True, min_length=1, max_length=4000)]  # type: ignore[valid-type]


class CannedOut(BaseModel):
    id: int
    short_code: str
    content: str
    created_at: datetime
    updated_at: datetime


class AuditOut(BaseModel):
    id: int
    at: datetime
    agent_id: Optional[int]
    agent_name: Optional[str]
    action: str
    conversation_id: Optional[str]
    target_agent_id: Optional[int]
    target_agent_name: Optional[str]
    detail: Optional[Dict[str, Any]]
    ip: Optional[str]


class ContentFields(BaseModel):
    """An item's fields as the library files state them (docs/recommendations.md). Only the types are checked
    here: the rules (vocabularies, sizes, dates, https links) are the importer's own (recommendations/library.py),
    so a form and a file are refused for the same reasons, in the same words."""

    category: Optional[str] = Field(None, example="safety_tip")
    title: Optional[str] = Field(None, example="Winter driving: before the first frost")
    summary: Optional[str] = Field(None, description="at most 500 characters")
    body: Optional[str] = Field(None, description="markdown, at most 20,000 characters; a body or a link is needed")
    link: Optional[str] = Field(None, description="an https:// address", example="https://harbor.example/winter")
    image: Optional[str] = Field(None, example="webchat/content/safety_tip.svg")
    product_lines: Optional[List[str]] = Field(None, description="empty: any product line")
    life_events: Optional[List[str]] = None
    claim_stages: Optional[List[str]] = None
    incident_types: Optional[List[str]] = None
    months: Optional[List[int]] = Field(None, description="in season (1-12); empty: all year")
    marketing: Optional[bool] = Field(None, description="true for offers, and only for offers")
    offers_product: Optional[str] = Field(None, description="what a marketing item sells")
    valid_from: Optional[str] = Field(None, description="inclusive", example="2027-01-01")
    valid_to: Optional[str] = Field(None, description="inclusive, not before valid_from", example="2027-03-31")
    locale: Optional[str] = Field(None, example="en-US")

    class Config:
        extra = "forbid"  # a misspelt field is an error, as in a library file


class ContentIn(ContentFields):
    slug: str = Field(..., description="lower-case words joined by hyphens; unique", example="tip-winter-driving")


class ContentUpdate(ContentFields):
    """The fields to change; a field sent as null is cleared. The slug never changes: files and impressions
    name the item by it."""


class ContentOut(BaseModel):
    id: int
    slug: str
    category: str
    title: str
    summary: str
    body: Optional[str]
    link: Optional[str]
    image: Optional[str]
    product_lines: List[str]
    life_events: List[str]
    claim_stages: List[str]
    incident_types: List[str]
    months: List[int]
    marketing: bool
    offers_product: Optional[str]
    valid_from: Optional[date]
    valid_to: Optional[date]
    locale: str
    source: Optional[str] = Field(None, description="the library file it came from, or `inbox` once changed here")
    created_at: datetime
    updated_at: datetime
    retired_at: Optional[datetime]


class ContentPage(BaseModel):
    items: List[ContentOut]
    total: int


class ContentPreviewOut(BaseModel):
    channel: str
    channel_label: str
    messages: List[Dict[str, Any]] = Field(..., description="exactly what the bot sends (utter_message kwargs)")
    readable: List[Dict[str, Any]] = Field(..., description="the same messages as bubbles: text, cards, buttons")
    html: str = Field(..., description="the bubbles as escaped HTML, for the content page's preview pane")
