"""The content library's API (inbox/api/content.py) on SQLite and PostgreSQL: admins create, edit, retire and
restore items, each change audited; agents only read and preview; every field refuses what the importer refuses,
with the field named; the preview is the bot's own payload with the words escaped in its HTML; and the
recommender, on the same database, stops recommending a retired item and sees an edit on its next call."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import yaml
from sqlalchemy import func, select

from recommendations.events import dismiss_payload
from recommendations.library import import_library, item_by_slug
from recommendations.recommender import recommend_for_conversation
from recommendations.rendering import PREVIEW_IMPRESSION, PREVIEW_PATH, WHATSAPP_ROW_TITLE, fit
from storage.engine import session_scope
from storage.models import AuditEntry, ContentImpression, ContentItem
from tests.support.databases import migrated_seeded
from tests.support.inbox import LoggedIn, customer_says

WINTER = {
    "slug": "tip-winter-driving",
    "category": "safety_tip",
    "title": "Winter driving: before the roads ice over",
    "summary": "Check tyres, wipers and battery, and keep a scraper and a blanket in the car.",
    "body": "- Fit winter tyres\n- Top up screen wash rated to -20°C",
    "product_lines": ["auto"],
}
PIPES = {
    "slug": "tip-frozen-pipes",
    "category": "safety_tip",
    "title": "Frozen pipes: keep the heating on when you travel",
    "summary": "A burst pipe is the costliest winter claim at home; a little heat prevents it.",
    "link": "https://harbor.example/tips/frozen-pipes",
    "product_lines": ["home", "renters"],
}
OFFER = {
    "slug": "offer-bundle-home-auto",
    "category": "offer",
    "title": "Bundle home and auto, save 15%",
    "summary": "Customers with both policies save on each.",
    "link": "https://harbor.example/bundle",
    "marketing": True,
    "offers_product": "home",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The inbox's fixtures (settings, app, agents) on a migrated, seeded database of each kind."""
    yield from migrated_seeded(request.param, tmp_path, "inbox.db")


def created(admin: LoggedIn, item: Dict[str, Any]) -> Dict[str, Any]:
    response = admin.post("/api/content", item)
    assert response.status_code == 201, response.text
    return response.json()


def audited(db_url: str) -> List[tuple]:
    with session_scope(db_url) as db:
        rows = db.scalars(select(AuditEntry).where(AuditEntry.action.like("content_%")).order_by(AuditEntry.id))
        return [(row.action, row.detail) for row in rows]


def stored_items(db_url: str) -> int:
    with session_scope(db_url) as db:
        return db.scalar(select(func.count()).select_from(ContentItem))


def slugs(admin: LoggedIn, query: str = "") -> List[str]:
    response = admin.get(f"/api/content?{query}")
    assert response.status_code == 200, response.text
    return [item["slug"] for item in response.json()["items"]]


def test_an_admin_creates_edits_retires_and_restores_an_item_and_every_change_is_audited(
    admin: LoggedIn, db_url: str
) -> None:
    winter = created(admin, WINTER)
    assert (winter["title"], winter["product_lines"], winter["source"]) == (WINTER["title"], ["auto"], "inbox")
    assert winter["retired_at"] is None and winter["locale"] == "en-US" and winter["marketing"] is False
    pipes, offer = created(admin, PIPES), created(admin, OFFER)

    assert slugs(admin) == ["offer-bundle-home-auto", "tip-frozen-pipes", "tip-winter-driving"]
    assert slugs(admin, "category=offer") == ["offer-bundle-home-auto"]
    # as the recommender reads product lines: an item that names none (the offer) is for every line
    assert slugs(admin, "product_line=renters") == ["offer-bundle-home-auto", "tip-frozen-pipes"]
    assert slugs(admin, "marketing=false") == ["tip-frozen-pipes", "tip-winter-driving"]
    assert slugs(admin, "q=BURST") == ["tip-frozen-pipes"]  # in the summary, whatever the case
    assert slugs(admin, "q=15%25") == ["offer-bundle-home-auto"] and slugs(admin, "q=1_%25") == []
    assert admin.get(f"/api/content/{offer['id']}").json()["offers_product"] == "home"

    change = {"title": "Winter driving: tyres first", "valid_to": "2099-03-31"}
    edited = admin.patch(f"/api/content/{winter['id']}", change)
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Winter driving: tyres first" and edited.json()["valid_to"] == "2099-03-31"
    assert edited.json()["updated_at"] > winter["updated_at"]
    cleared = admin.patch(f"/api/content/{pipes['id']}", {"link": None, "body": "Keep the heating at 12°C."}).json()
    assert cleared["link"] is None and cleared["body"] == "Keep the heating at 12°C."

    retired = admin.post(f"/api/content/{pipes['id']}/retire")
    assert retired.status_code == 200 and retired.json()["retired_at"] is not None
    assert slugs(admin, "retired=true") == ["tip-frozen-pipes"]
    assert "tip-frozen-pipes" not in slugs(admin, "retired=false")
    again = admin.post(f"/api/content/{pipes['id']}/retire")
    assert again.status_code == 409 and "already retired" in again.json()["detail"]
    assert admin.post(f"/api/content/{pipes['id']}/restore").json()["retired_at"] is None
    assert admin.post(f"/api/content/{pipes['id']}/restore").status_code == 409

    assert [(action, detail["slug"]) for action, detail in audited(db_url)] == [
        ("content_created", "tip-winter-driving"),
        ("content_created", "tip-frozen-pipes"),
        ("content_created", "offer-bundle-home-auto"),
        ("content_updated", "tip-winter-driving"),
        ("content_updated", "tip-frozen-pipes"),
        ("content_retired", "tip-frozen-pipes"),
        ("content_restored", "tip-frozen-pipes"),
    ]
    assert audited(db_url)[3][1]["changed"] == ["title", "valid_to"]
    assert audited(db_url)[4][1]["changed"] == ["body", "link"]


def test_an_agent_reads_and_previews_but_every_change_is_refused(admin: LoggedIn, agent: LoggedIn, db_url: str) -> None:
    item = created(admin, WINTER)
    assert agent.get("/api/content").json()["total"] == 1
    assert agent.get(f"/api/content/{item['id']}").status_code == 200
    assert agent.get(f"/api/content/{item['id']}/preview?channel=telegram").status_code == 200
    refused = [
        agent.post("/api/content", {**PIPES}),
        agent.patch(f"/api/content/{item['id']}", {"title": "Taken over"}),
        agent.post(f"/api/content/{item['id']}/retire"),
        agent.post(f"/api/content/{item['id']}/restore"),
    ]
    assert [response.status_code for response in refused] == [403] * 4
    assert all(response.json()["detail"] == "Only admins can do this." for response in refused)
    assert agent.client.get("/admin/content").status_code == 403
    assert admin.get(f"/api/content/{item['id']}").json()["title"] == WINTER["title"] and stored_items(db_url) == 1
    assert [action for action, _ in audited(db_url)] == ["content_created"]


def test_a_change_without_the_csrf_token_is_refused(admin: LoggedIn, db_url: str) -> None:
    response = admin.client.post("/api/content", json=WINTER)
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert stored_items(db_url) == 0


def test_a_taken_slug_is_a_409_and_the_slug_never_changes(admin: LoggedIn, db_url: str) -> None:
    item = created(admin, WINTER)
    taken = admin.post("/api/content", {**PIPES, "slug": WINTER["slug"]})
    assert taken.status_code == 409 and "tip-winter-driving" in taken.json()["detail"]
    renamed = admin.patch(f"/api/content/{item['id']}", {"slug": "tip-renamed"})
    assert renamed.status_code == 422 and "slug" in renamed.json()["detail"]
    assert stored_items(db_url) == 1 and [a for a, _ in audited(db_url)] == ["content_created"]


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"slug": "Winter Driving!"}, "slug", "lower-case words joined by hyphens"),
        ({"category": "<b>spam</b>"}, "category", "unknown"),
        ({"title": "x" * 201}, "title", "at most 200"),
        ({"title": "   "}, "title", "is required"),
        ({"summary": "x" * 501}, "summary", "at most 500"),
        ({"body": "x" * 20_001, "link": None}, "body", "at most 20000"),
        ({"body": None, "link": None}, "body", "needs a body or a link"),
        ({"link": "javascript:alert(document.cookie)"}, "link", "https://"),
        ({"link": "http://harbor.example/plain"}, "link", "https://"),
        ({"link": "https://harbor.example/" + "a" * 480}, "link", "at most 500"),
        ({"image": "../../etc/passwd"}, "image", "must be a path under"),
        ({"image": "webchat/content/missing.svg"}, "image", "does not exist"),
        ({"product_lines": ["renter"]}, "product_lines", "allowed: auto, home"),
        ({"life_events": ["<script>"]}, "life_events", "unknown"),
        ({"claim_stages": ["adjuster"]}, "claim_stages", "unknown 'adjuster'"),
        ({"incident_types": ["meteor"]}, "incident_types", "unknown"),
        ({"months": [0, 13]}, "months", "1-12"),
        ({"marketing": True}, "marketing", "offers are marketing"),
        ({"offers_product": "home"}, "offers_product", "only marketing items"),
        ({"valid_from": "2027-03-01", "valid_to": "2027-02-28"}, "valid_to", "before valid_from"),
        ({"valid_from": "31/01/2027"}, "valid_from", "a date like 2027-01-31"),
        ({"locale": "english"}, "locale", "like en-US"),
        ({"claim_stage": ["reported"]}, "claim_stage", "extra fields not permitted"),
        ({"months": "winter"}, "months", "not a valid list"),
        ({"title": "Winter \x00 driving"}, "", "NUL"),
    ],
)
def test_each_field_refuses_hostile_input_with_a_422_naming_it(
    admin: LoggedIn, db_url: str, change: Dict[str, Any], field: str, words: str
) -> None:
    response = admin.post("/api/content", {**WINTER, **change})
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"] and words in response.json()["detail"], response.json()["detail"]
    assert stored_items(db_url) == 0 and audited(db_url) == []


def test_an_edit_is_checked_as_the_whole_item_it_makes(admin: LoggedIn, db_url: str) -> None:
    item = created(admin, {**WINTER, "valid_from": "2027-01-01"})
    early = admin.patch(f"/api/content/{item['id']}", {"valid_to": "2026-12-31"})
    assert early.status_code == 422 and "valid_to: 2026-12-31 is before valid_from 2027-01-01" in early.json()["detail"]
    offer = admin.patch(f"/api/content/{item['id']}", {"category": "offer"})
    assert offer.status_code == 422 and "offers are marketing" in offer.json()["detail"]
    assert admin.get(f"/api/content/{item['id']}").json()["valid_to"] is None
    assert admin.patch("/api/content/999999", {"title": "Nobody"}).status_code == 404
    assert admin.get("/api/content?category=spam").status_code == 422
    assert admin.get("/api/content?product_line=boats").status_code == 422


def test_the_preview_is_the_bots_payload_with_the_words_escaped_in_its_html(admin: LoggedIn, db_url: str) -> None:
    hostile = "<script>alert('x')</script> Winter driving"
    item = created(admin, {**WINTER, "title": hostile, "summary": 'Tyres "first" & <img src=x onerror=alert(1)>'})
    for channel in ("socketio", "facebook", "instagram", "whatsapp", "telegram", "wechat", "twitter", "rest"):
        response = admin.get(f"/api/content/{item['id']}/preview?channel={channel}")
        assert response.status_code == 200, (channel, response.text)
        shown = response.json()
        assert "<script" not in shown["html"] and "<img" not in shown["html"], channel
        assert "&lt;script&gt;" in shown["html"] and "&lt;img src=x" in shown["html"], channel
        assert "<script>" in str(shown["messages"]), channel  # the bot sends the words as they are; platforms show text

    telegram = admin.get(f"/api/content/{item['id']}/preview?channel=telegram").json()
    (message,) = telegram["messages"]
    keyboard = message["json_message"]["reply_markup"]["inline_keyboard"]
    assert keyboard[0][0]["url"].endswith(PREVIEW_PATH)
    assert keyboard[0][1] == {"text": "Not for me", "callback_data": dismiss_payload(PREVIEW_IMPRESSION)}
    assert message["json_message"]["text"].startswith("You might find these helpful:\n\n1. <script>")
    assert [button["kind"] for button in telegram["readable"][0]["keyboard"][0]] == ["link", "reply"]
    whatsapp = admin.get(f"/api/content/{item['id']}/preview?channel=whatsapp").json()
    kinds = [m["json_message"]["interactive"]["type"] for m in whatsapp["messages"] if "json_message" in m]
    assert kinds == ["cta_url", "list"]
    # the dismiss row's title as WhatsApp's limit cut it
    assert whatsapp["readable"][2]["rows"][0]["title"] == fit(hostile, WHATSAPP_ROW_TITLE)
    wechat = admin.get(f"/api/content/{item['id']}/preview?channel=wechat").json()
    assert wechat["messages"][1]["json_message"]["msgtype"] == "news" and wechat["channel_label"] == "WeChat"

    unknown = admin.get(f"/api/content/{item['id']}/preview?channel=carrier-pigeon")
    assert unknown.status_code == 422 and "allowed: socketio" in unknown.json()["detail"]
    with session_scope(db_url) as db:  # previews log nothing: no impression, so no daily cap is spent
        assert db.scalar(select(func.count()).select_from(ContentImpression)) == 0


def test_the_recommender_sees_an_edit_on_its_next_call_and_never_a_retired_item(admin: LoggedIn, db_url: str) -> None:
    winter, pipes = created(admin, WINTER), created(admin, PIPES)
    conversation = "telegram:4455001"
    customer_says(db_url, conversation, "any tips for driving on icy roads this winter?", "telegram", "ask_for_tips")

    def recommended() -> Dict[str, str]:
        with session_scope(db_url) as session:
            return {r.slug: r.title for r in recommend_for_conversation(session, conversation, "on_request")}

    assert recommended() == {WINTER["slug"]: WINTER["title"], PIPES["slug"]: PIPES["title"]}
    admin.patch(f"/api/content/{winter['id']}", {"title": "Winter driving: fit winter tyres by November"})
    assert recommended()[WINTER["slug"]] == "Winter driving: fit winter tyres by November"
    assert admin.post(f"/api/content/{pipes['id']}/retire").status_code == 200
    assert list(recommended()) == [WINTER["slug"]]
    admin.post(f"/api/content/{winter['id']}/retire")
    assert recommended() == {}
    admin.post(f"/api/content/{pipes['id']}/restore")
    assert list(recommended()) == [PIPES["slug"]]


def test_an_import_leaves_the_items_changed_in_the_inbox_as_the_admin_made_them(
    admin: LoggedIn, db_url: str, tmp_path: Path
) -> None:
    library = tmp_path / "library.yml"
    items = [{"id": spec["slug"], **{k: v for k, v in spec.items() if k != "slug"}} for spec in (WINTER, PIPES)]
    library.write_text(yaml.safe_dump({"items": items}), encoding="utf-8")
    with session_scope(db_url) as session:
        assert import_library(session, [library]).added == 2
        winter, pipes = (item_by_slug(session, slug).id for slug in (WINTER["slug"], PIPES["slug"]))
    admin.patch(f"/api/content/{winter}", {"title": "Winter driving, as the admin wrote it"})
    admin.post(f"/api/content/{pipes}/retire")
    with session_scope(db_url) as session:
        result = import_library(session, [library])
    assert (result.kept, result.restored, result.updated) == (2, 0, 0)
    assert "2 kept as edited in the inbox" in result.summary()
    assert admin.get(f"/api/content/{winter}").json()["title"] == "Winter driving, as the admin wrote it"
    assert admin.get(f"/api/content/{pipes}").json()["retired_at"] is not None
    library.write_text(yaml.safe_dump({"items": []}), encoding="utf-8")  # nor are they retired when left out
    with session_scope(db_url) as session:
        assert import_library(session, [library]).retired == 0
    assert admin.get(f"/api/content/{winter}").json()["retired_at"] is None
