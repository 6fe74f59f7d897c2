"""The recommendation doors on the public web chat page server (webchat/serve.py mounts them):

- `GET /r/<token>`: a tracked link. A genuine, unexpired token logs the impression's `open` (once, however often it
  is opened) and answers 302 to the item's own link, or to its page here. The destination is always read from SQL:
  nothing in the request chooses it. A malformed token is a 400, an altered one 403, an expired one 410, each with
  a sentence saying so; a link to an item since retired is a 410 too.
- `GET /content/<slug>`: the item's page (its title, summary and markdown body), for items without a link of their
  own. Library text is escaped before markdown runs, and the page forbids scripts (Content-Security-Policy).
- `GET /content/<file>.svg|.png|.jpg`: the library's images from webchat/content/, with their own content type and
  a CSP that keeps an SVG opened on its own from running script.

Link previewers (Facebook, X, Telegram, WhatsApp, Slack … fetch a URL when it is pasted in a chat) get the same
redirect but log no open: a preview is not the customer opening the item.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass, field
from typing import Dict, Optional
from urllib.parse import urlsplit

import markdown
from sqlalchemy import select

from recommendations.events import record_open
from recommendations.tracking import REDIRECT_PATH, LinkRefused, read_link, tracking_secret
from settings import Settings, current
from storage.engine import session_scope
from storage.models import ContentImpression, ContentItem
from storage.settings import PROJECT_ROOT

CONTENT_PATH = "/content/"
CONTENT_DIR = PROJECT_ROOT / "webchat" / "content"
IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_IMAGE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,80}\.(?:svg|png|jpe?g)")
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PAGE_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
IMAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
PREVIEWERS = (
    "facebookexternalhit",
    "facebot",
    "twitterbot",
    "telegrambot",
    "whatsapp",
    "slackbot",
    "discordbot",
    "linkedinbot",
    "skypeuripreview",
    "googlebot",
    "bingbot",
)


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    headers: Dict[str, str] = field(default_factory=dict)


def public_answer(
    path: str, user_agent: str = "", settings: Optional[Settings] = None, now: Optional[float] = None
) -> Optional[Answer]:
    """The answer to a GET of `path` (no query string) if it is one of these doors, else None."""
    if path.startswith(REDIRECT_PATH):
        return open_tracked_link(path[len(REDIRECT_PATH) :], user_agent, settings, now)
    if path.startswith(CONTENT_PATH):
        name = path[len(CONTENT_PATH) :]
        if _IMAGE_NAME.fullmatch(name):
            return content_image(name)
        if _SLUG.fullmatch(name):
            return content_page(name)
        return _text(404, "no such content")
    return None


def open_tracked_link(
    token: str, user_agent: str = "", settings: Optional[Settings] = None, now: Optional[float] = None
) -> Answer:
    settings = settings or current()
    try:
        claim = read_link(tracking_secret(settings), token, now=time.time() if now is None else now)
    except LinkRefused as refusal:
        return _text(refusal.status, str(refusal))
    with session_scope() as session:
        impression = session.get(ContentImpression, claim.impression_id)
        item = session.get(ContentItem, claim.item_id)
        if impression is None or item is None or impression.content_item_id != item.id:
            return _text(404, "this link points to a suggestion we no longer have")
        if item.retired_at is not None:
            return _text(410, "this guide has been withdrawn: ask the assistant for an up-to-date one")
        if not is_previewer(user_agent):
            record_open(session, impression)
        location = destination(item, settings.recommendations.public_url)
    headers = {"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Answer(302, "text/plain; charset=utf-8", b"", headers)


def destination(item: ContentItem, public_url: str) -> str:
    """The item's own http(s) link if it has one, else its page on this server."""
    if item.link and urlsplit(item.link).scheme in ("http", "https") and urlsplit(item.link).hostname:
        return item.link
    return f"{public_url}{CONTENT_PATH}{item.slug}"


def is_previewer(user_agent: str) -> bool:
    agent = user_agent.lower()
    return any(name in agent for name in PREVIEWERS)


def content_page(slug: str) -> Answer:
    with session_scope(read_only=True) as session:
        item = session.scalar(select(ContentItem).where(ContentItem.slug == slug))
        if item is None:
            return _text(404, "no such content")
        if item.retired_at is not None:
            return _text(410, "this guide has been withdrawn")
        page = render_page(item)
    return Answer(200, "text/html; charset=utf-8", page.encode("utf-8"), {"Content-Security-Policy": PAGE_POLICY})


def render_page(item: ContentItem) -> str:
    """A plain page: the library's words escaped, then its markdown (lists, bold, tables) turned into HTML."""
    body = markdown.markdown(html.escape(item.body or "", quote=False), extensions=["tables"])
    image = ""
    if item.image and item.image.startswith("webchat/content/"):
        image = f'<img src="{CONTENT_PATH}{html.escape(item.image.rsplit("/", 1)[-1])}" alt="" width="96" height="96">'
    more = f'<p><a href="{html.escape(item.link)}">Read more</a></p>' if item.link else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(item.title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;"
        "line-height:1.5;color:#1d2733}table{border-collapse:collapse}td,th{border:1px solid #ccd;padding:.3rem .6rem}"
        "</style></head><body>"
        f"{image}<h1>{html.escape(item.title)}</h1><p><em>{html.escape(item.summary)}</em></p>{body}{more}"
        "</body></html>"
    )


def content_image(name: str) -> Answer:
    path = CONTENT_DIR / name
    if not path.is_file():
        return _text(404, "no such image")
    headers = {"Content-Security-Policy": IMAGE_POLICY, "Cache-Control": "public, max-age=86400"}
    return Answer(200, IMAGE_TYPES[path.suffix.lower()], path.read_bytes(), headers)


def _text(status: int, message: str) -> Answer:
    return Answer(status, "text/plain; charset=utf-8", (message + "\n").encode("utf-8"), {"Cache-Control": "no-store"})
