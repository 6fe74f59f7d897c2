"""An agent opens the damage photo or the PDF a customer sent on Telegram, WhatsApp or WeChat.

The files stay with the platform; the inbox asks Rasa (which holds the channel tokens, see
tests/channels/test_media.py for that side) and hands them to the signed-in agent, inline when a browser
shows them inertly, as a download otherwise, and writes each opening to the audit trail."""

from __future__ import annotations

from typing import Any, Dict, List

from fastapi.testclient import TestClient

from tests.support.inbox import FakeRasaApi, LoggedIn, client_for, customer_says

JPEG = b"\xff\xd8\xff\xe0 dented bumper"
PHOTO = {"type": "image", "media_id": "AgACAgQ", "mime_type": "image/jpeg"}
PDF = {"type": "file", "media_id": "BQACAgQ", "file_name": "devis réparation.pdf"}


def sent_media(db_url: str, attachments: List[Dict[str, Any]], channel: str = "telegram") -> int:
    metadata = {"attachments": attachments}
    return customer_says(db_url, "tg-7", "/share_attachment", channel, "share_attachment", None, metadata=metadata)


def test_an_agent_sees_the_photo_inline_and_the_opening_is_audited(
    agent: LoggedIn, admin: LoggedIn, db_url: str, fake_rasa: FakeRasaApi
) -> None:
    message_id = sent_media(db_url, [PHOTO, PDF])
    fake_rasa.media["telegram/AgACAgQ"] = (JPEG, "image/jpeg")

    response = agent.get(f"/api/conversations/tg-7/messages/{message_id}/attachments/0")

    assert response.status_code == 200, response.text
    assert response.content == JPEG and response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-disposition"].startswith("inline")
    assert "sandbox" in response.headers["content-security-policy"]
    [opened] = admin.get("/api/audit?action=attachment_opened").json()
    assert opened["conversation_id"] == "tg-7" and opened["detail"]["message_id"] == message_id


def test_a_file_a_browser_could_run_is_only_offered_as_a_download(
    agent: LoggedIn, db_url: str, fake_rasa: FakeRasaApi
) -> None:
    page = {"type": "file", "media_id": "BQAChtml", "file_name": "claim.html"}
    message_id = sent_media(db_url, [PDF, page])
    fake_rasa.media["telegram/BQACAgQ"] = (b"%PDF-1.4", "application/pdf")
    fake_rasa.media["telegram/BQAChtml"] = (b"<script>alert(document.cookie)</script>", "text/html")

    pdf = agent.get(f"/api/conversations/tg-7/messages/{message_id}/attachments/0")
    html = agent.get(f"/api/conversations/tg-7/messages/{message_id}/attachments/1")

    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    assert "filename*=UTF-8''devis%20r%C3%A9paration.pdf" in pdf.headers["content-disposition"]
    assert html.headers["content-type"] == "application/octet-stream"
    assert html.headers["content-disposition"].startswith('attachment; filename="claim.html"')


def test_an_expired_file_or_a_wrong_address_is_a_404_with_the_reason(
    agent: LoggedIn, db_url: str, fake_rasa: FakeRasaApi
) -> None:
    message_id = sent_media(db_url, [PHOTO])
    location = {"type": "location", "latitude": 52.52, "longitude": 13.4}
    located = customer_says(db_url, "tg-7", "/share_attachment", "telegram", "share_attachment", None,
                            metadata={"attachments": [location]})  # fmt: skip

    expired = agent.get(f"/api/conversations/tg-7/messages/{message_id}/attachments/0")
    cases = {
        f"/api/conversations/tg-7/messages/{message_id}/attachments/1": "no attachment 1",
        f"/api/conversations/other/messages/{message_id}/attachments/0": "not a customer message of",
        f"/api/conversations/tg-7/messages/{located}/attachments/0": "not a file kept by the platform",
    }

    assert expired.status_code == 404 and "no longer has this file" in expired.json()["detail"]
    for path, reason in cases.items():
        response = agent.get(path)
        assert response.status_code == 404 and reason in response.json()["detail"], path
    assert agent.get(f"/api/conversations/tg-7/messages/{message_id}/attachments/-1").status_code == 422


def test_urls_of_other_channels_are_not_proxied(agent: LoggedIn, db_url: str, fake_rasa: FakeRasaApi) -> None:
    """Messenger and X hand over token-free URLs, which the transcript links to directly."""
    photo = {"type": "image", "url": "https://scontent.example/photo.jpg", "media_id": "98765"}
    message_id = sent_media(db_url, [photo], channel="facebook")

    response = agent.get(f"/api/conversations/tg-7/messages/{message_id}/attachments/0")

    assert response.status_code == 404
    assert not [r for r in fake_rasa.requests if "/media/" in r.path]


def test_only_signed_in_agents_open_files(app, agents, db_url: str, fake_rasa: FakeRasaApi) -> None:  # type: ignore[no-untyped-def]
    message_id = sent_media(db_url, [PHOTO])
    fake_rasa.media["telegram/AgACAgQ"] = (JPEG, "image/jpeg")
    anonymous: TestClient = client_for(app)

    response = anonymous.get(f"/api/conversations/tg-7/messages/{message_id}/attachments/0")

    assert response.status_code == 401
    assert not fake_rasa.requests


def test_rasa_being_down_is_a_502_not_a_crash(agent: LoggedIn, db_url: str, fake_rasa: FakeRasaApi) -> None:
    message_id = sent_media(db_url, [PHOTO])
    fake_rasa.media["telegram/AgACAgQ"] = (JPEG, "image/jpeg")
    agent.client.app.state.rasa.base_url = "http://127.0.0.1:9"  # nothing listens on the discard port

    response = agent.get(f"/api/conversations/tg-7/messages/{message_id}/attachments/0")

    assert response.status_code == 502 and "Rasa did not answer" in response.json()["detail"]
