"""The signed tracking redirect on the real web chat page server: a genuine link logs one open and goes to the
item, an altered one is a 403, a malformed one a 400, an expired one a 410, and nothing in the request chooses
where it goes. The content pages and images are served with safe content types."""

from __future__ import annotations

import http.client
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

from recommendations.public_routes import destination, render_page
from recommendations.rendering import render_recommendations
from recommendations.tracking import TOKEN_CHARS, read_link, sign_link
from storage.engine import session_scope
from storage.models import ContentEvent, ContentItem
from tests.support.content_serving import (
    PUBLIC_URL,
    SERVING_ENV,
    TRACKING_SECRET,
    content_database,
    items_by_slug,
    rows_of,
    serving_settings,
)
from webchat.serve import Handler

SECRET = TRACKING_SECRET.encode()
CONVERSATION = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return content_database(f"sqlite:///{tmp_path_factory.mktemp('tracking') / 'tracking.db'}")


@pytest.fixture
def page_server(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tuple[str, int]]:
    """webchat/serve.py's handler on a free port, reading the test database and tracking secret."""
    for key, value in {**SERVING_ENV, "DATABASE_URL": db_url}.items():
        monkeypatch.setenv(key, value)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address
    server.shutdown()
    server.server_close()


def get(address: Tuple[str, int], path: str, user_agent: str = "Mozilla/5.0") -> Tuple[int, Dict[str, str], str]:
    connection = http.client.HTTPConnection(*address, timeout=30)
    connection.request("GET", path, headers={"User-Agent": user_agent})
    answer = connection.getresponse()
    body = answer.read().decode("utf-8", "replace")
    connection.close()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, body


def shown_link(db_url: str, tmp_path: Path, slug: str, conversation: str = CONVERSATION) -> str:
    """The path of the tracked link the web chat carousel shows for `slug`."""
    with session_scope(db_url) as session:
        [message] = render_recommendations(
            items_by_slug(db_url, slug), "socketio", conversation, session, settings=serving_settings(tmp_path)
        )
    url = message["attachment"]["payload"]["elements"][0]["buttons"][0]["url"]
    assert url.startswith(PUBLIC_URL)
    return url[len(PUBLIC_URL) :]


def opens(db_url: str, path: str) -> list:
    impression = read_link(SECRET, path.rsplit("/", 1)[-1]).impression_id
    return rows_of(db_url, ContentEvent, impression_id=impression, kind="open")


def test_a_link_opens_the_item_page_and_logs_one_open(db_url, page_server, tmp_path) -> None:
    path = shown_link(db_url, tmp_path, "checklist-auto-collision")

    first = get(page_server, path)
    again = get(page_server, path)

    for status, headers, _ in (first, again):
        assert status == 302
        assert headers["location"] == f"{PUBLIC_URL}/content/checklist-auto-collision"
        assert headers["cache-control"] == "no-store"
    [event] = opens(db_url, path)
    assert (event.channel, event.conversation_id) == ("socketio", CONVERSATION)
    status, headers, page = get(page_server, "/content/checklist-auto-collision")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert "Car accident checklist" in page and "script-src" not in headers["content-security-policy"]


def test_a_link_preview_is_not_an_open(db_url, page_server, tmp_path) -> None:
    path = shown_link(db_url, tmp_path, "tip-winter-driving")

    status, _, _ = get(page_server, path, user_agent="TelegramBot (like TwitterBot)")

    assert status == 302 and opens(db_url, path) == []


def test_the_request_cannot_choose_where_the_link_goes(db_url, page_server, tmp_path) -> None:
    path = shown_link(db_url, tmp_path, "tip-frozen-pipes")

    status, headers, _ = get(page_server, f"{path}?next=https://evil.example/&url=https://evil.example/")

    assert status == 302 and headers["location"] == f"{PUBLIC_URL}/content/tip-frozen-pipes"


def flip(token: str, at: int) -> str:
    return token[:at] + ("A" if token[at] != "A" else "B") + token[at + 1 :]


@pytest.mark.parametrize("where", ["impression", "signature"])
def test_an_altered_link_is_refused_with_403_and_logs_nothing(db_url, page_server, tmp_path, where) -> None:
    path = shown_link(db_url, tmp_path, "tip-ice-dams")
    token = path.rsplit("/", 1)[-1]
    altered = flip(token, 5 if where == "impression" else TOKEN_CHARS - 5)

    status, _, body = get(page_server, f"/r/{altered}")

    assert status == 403 and "altered" in body
    assert opens(db_url, path) == []


def test_a_link_signed_with_another_secret_is_refused_with_403(page_server) -> None:
    forged = sign_link(b"someone-else's-secret-0123456789abcdef", 1, 1, int(time.time()) + 3600)

    assert get(page_server, f"/r/{forged}")[0] == 403


@pytest.mark.parametrize("token", ["abc", "x" * 200, "!" * TOKEN_CHARS, "%2e%2e%2fsettings"])
def test_a_malformed_link_is_a_400(page_server, token: str) -> None:
    status, _, body = get(page_server, f"/r/{token}")

    assert status == 400 and "not a Coverline link" in body


def test_an_expired_link_is_a_410(db_url, page_server) -> None:
    [item] = items_by_slug(db_url, "tip-hurricane-prep")
    expired = sign_link(SECRET, 1, item.id, int(time.time()) - 1)

    status, _, body = get(page_server, f"/r/{expired}")

    assert status == 410 and "expired" in body


def test_a_link_to_a_withdrawn_item_is_a_410(db_url, page_server, tmp_path) -> None:
    path = shown_link(db_url, tmp_path, "tip-wildfire")
    [item] = items_by_slug(db_url, "tip-wildfire")
    with session_scope(db_url) as session:
        session.get(ContentItem, item.id).retired_at = item.updated_at

    status, _, body = get(page_server, path)

    assert status == 410 and "withdrawn" in body and opens(db_url, path) == []


def test_content_images_are_served_as_images_that_cannot_run_script(page_server) -> None:
    status, headers, body = get(page_server, "/content/offer.svg")

    assert status == 200 and headers["content-type"] == "image/svg+xml" and body.startswith("<svg")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"].startswith("default-src 'none'")
    status, headers, _ = get(page_server, "/content/offer.png")
    assert status == 200 and headers["content-type"] == "image/png"
    for path in ("/content/../serve.py", "/content/%2e%2e%2fserve.py", "/content/offer.svg.py", "/content/nope.svg"):
        assert get(page_server, path)[0] == 404


def test_library_text_is_escaped_on_the_page() -> None:
    item = ContentItem(
        slug="x", title="<b>Title</b>", summary="A & B", body="**bold** <script>alert(1)</script>\n\n- one\n- two"
    )

    page = render_page(item)

    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<strong>bold</strong>" in page and "<li>one</li>" in page and "&lt;b&gt;Title" in page


def test_an_item_with_its_own_link_goes_there_and_only_an_http_one() -> None:
    page = ContentItem(slug="guide", link="https://www.harbor-mutual.example/claims/guide")
    script = ContentItem(slug="guide", link="javascript:alert(1)")

    assert destination(page, PUBLIC_URL) == "https://www.harbor-mutual.example/claims/guide"
    assert destination(script, PUBLIC_URL) == f"{PUBLIC_URL}/content/guide"
