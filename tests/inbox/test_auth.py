"""Logging in: hashed passwords, cookie flags, the SQL rate limit, logout, disabled agents, the login form's
CSRF token and redirect target, and settings that refuse weak secrets."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from inbox.main import create_app
from inbox.security import verify_password
from inbox.settings import SettingsError, load_settings
from settings import load
from storage.engine import session_scope
from storage.models import Agent, AgentSession, AuditEntry, LoginAttempt
from tests.support.inbox import PASSWORDS, LoggedIn, client_for, make_settings


def audit_actions(db_url: str) -> list:
    with session_scope(db_url) as db:
        return [row.action for row in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_production_password_hashing_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    import inbox.security

    monkeypatch.undo()  # the real cost, not the tests' cheap one
    stored = inbox.security.hash_password("correct horse battery")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", stored) and not verify_password("Correct horse battery", stored)
    assert not verify_password("x", "bcrypt$garbage") and not verify_password("x", "not a hash")


def test_passwords_are_stored_as_scrypt_hashes_never_in_clear(db_url, agents) -> None:  # type: ignore[no-untyped-def]
    with session_scope(db_url) as db:
        agent = db.get(Agent, agents["admin"])
        assert agent.password_hash.startswith("scrypt$")
        assert verify_password(PASSWORDS["admin"], agent.password_hash)
        assert not verify_password("wrong", agent.password_hash)
        dump = "\n".join(
            str(row)
            for table in ("agents", "agent_sessions", "login_attempts", "audit_log")
            for row in db.execute(text(f"SELECT * FROM {table}"))
        )  # noqa: S608 (fixed names)
    assert PASSWORDS["admin"] not in dump and PASSWORDS["agent"] not in dump


def test_login_sets_an_httponly_samesite_cookie_and_stores_only_its_hash(app, agents, db_url) -> None:  # type: ignore[no-untyped-def]
    client = client_for(app)
    response = client.post("/api/auth/login", json={"email": " Admin@Harbor.example ", "password": PASSWORDS["admin"]})
    assert response.status_code == 200
    body = response.json()
    assert body["agent"]["role"] == "admin" and body["csrf_token"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("coverline_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # this app runs with INBOX_COOKIE_SECURE off
    token = client.cookies.get("coverline_session")
    with session_scope(db_url) as db:
        hashes = list(db.scalars(select(AgentSession.token_hash)))
    assert token not in hashes and len(hashes) == 1
    assert client.get("/api/auth/me").json()["agent"]["email"] == "admin@harbor.example"
    assert audit_actions(db_url)[-1] == "login"


def test_the_cookie_is_secure_when_configured(db_url, fake_rasa, agents) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(db_url, fake_rasa.url, cookie_secure=True))
    response = client_for(app).post(
        "/api/auth/login", json={"email": "agent@harbor.example", "password": PASSWORDS["agent"]}
    )
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_and_unknown_email_look_the_same(app, agents, db_url) -> None:  # type: ignore[no-untyped-def]
    client = client_for(app)
    wrong = client.post("/api/auth/login", json={"email": "agent@harbor.example", "password": "nope"})
    unknown = client.post("/api/auth/login", json={"email": "ghost@harbor.example", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Wrong email or password."}
    assert "set-cookie" not in wrong.headers
    assert audit_actions(db_url)[-2:] == ["login_failed", "login_failed"]


def test_login_rate_limit_locks_email_and_ip_after_five_failures(app, agents, db_url) -> None:  # type: ignore[no-untyped-def]
    attacker = client_for(app, ip="203.0.113.9")
    for _ in range(5):
        assert (
            attacker.post("/api/auth/login", json={"email": "agent@harbor.example", "password": "guess"}).status_code
            == 401
        )
    locked = attacker.post("/api/auth/login", json={"email": "agent@harbor.example", "password": PASSWORDS["agent"]})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.json()["detail"]
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60 + 1
    # the limit is per email + IP: the real agent at the office still gets in
    office = client_for(app, ip="198.51.100.7")
    assert (
        office.post(
            "/api/auth/login", json={"email": "agent@harbor.example", "password": PASSWORDS["agent"]}
        ).status_code
        == 200
    )
    # and it is in SQL, so a second inbox process on the same database agrees
    other_process = create_app(app.state.settings)
    again = client_for(other_process, ip="203.0.113.9").post(
        "/api/auth/login", json={"email": "agent@harbor.example", "password": PASSWORDS["agent"]}
    )
    assert again.status_code == 429
    with session_scope(db_url) as db:
        assert db.scalar(select(LoginAttempt).where(LoginAttempt.succeeded.is_(True))) is not None


def test_logout_ends_the_session_server_side(app, agent: LoggedIn, db_url) -> None:  # type: ignore[no-untyped-def]
    stolen = agent.client.cookies.get("coverline_session")
    response = agent.post("/api/auth/logout")
    assert response.status_code == 204
    replay = client_for(app)
    replay.cookies.set("coverline_session", stolen)
    assert replay.get("/api/auth/me").status_code == 401
    assert "logout" in audit_actions(db_url)


def test_disabling_an_agent_ends_their_sessions(app, admin: LoggedIn, agent: LoggedIn, agents) -> None:  # type: ignore[no-untyped-def]
    assert agent.get("/api/auth/me").status_code == 200
    response = admin.patch(f"/api/agents/{agents['agent']}", {"active": False})
    assert response.status_code == 200 and response.json()["active"] is False
    assert agent.get("/api/auth/me").status_code == 401
    relogin = client_for(app).post(
        "/api/auth/login", json={"email": "agent@harbor.example", "password": PASSWORDS["agent"]}
    )
    assert relogin.status_code == 401


def test_expired_sessions_are_refused(app, agent: LoggedIn, db_url) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from storage.models import utcnow

    with session_scope(db_url) as db:
        for session in db.scalars(select(AgentSession)):
            session.expires_at = utcnow() - timedelta(seconds=1)
    assert agent.get("/api/auth/me").status_code == 401


def test_login_form_needs_its_double_submit_token(app, agents) -> None:  # type: ignore[no-untyped-def]
    client = client_for(app)
    form = {"email": "agent@harbor.example", "password": PASSWORDS["agent"], "next": "/"}
    forged = client.post("/login", data={**form, "login_token": "guess"}, follow_redirects=False)
    assert forged.status_code == 403 and "coverline_session" not in forged.headers.get("set-cookie", "")
    page = client.get("/login")
    assert page.status_code == 200
    token = page.text.split('name="login_token" value="')[1].split('"')[0]
    ok = client.post("/login", data={**form, "login_token": token, "next": "/admin/audit"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/admin/audit"
    assert "HttpOnly" in ok.headers["set-cookie"]
    inbox = client.get("/")
    assert inbox.status_code == 200 and 'name="csrf-token"' in inbox.text
    assert inbox.headers["content-security-policy"].startswith("default-src 'self'")


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_login_never_redirects_off_site(app, agents, target) -> None:  # type: ignore[no-untyped-def]
    client = client_for(app)
    token = client.get("/login").text.split('name="login_token" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        data={"email": "agent@harbor.example", "password": PASSWORDS["agent"], "login_token": token, "next": target},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_login_form_shows_wrong_password_and_throttling(app, agents) -> None:  # type: ignore[no-untyped-def]
    client = client_for(app, ip="192.0.2.1")
    for expected in (401,) * 5 + (429,):
        token = client.get("/login").text.split('name="login_token" value="')[1].split('"')[0]
        response = client.post(
            "/login", data={"email": "agent@harbor.example", "password": "x", "login_token": token, "next": "/"}
        )
        assert response.status_code == expected
    assert "Too many failed logins" in response.text


@pytest.mark.parametrize("secret", ["", "changethis", "short-but-not-default"])
def test_settings_refuse_a_weak_secret_outside_dev(secret: str) -> None:
    with pytest.raises(SettingsError, match="INBOX_SECRET_KEY"):
        load_settings({"INBOX_ENV": "production", "INBOX_SECRET_KEY": secret, "RASA_API_TOKEN": "t"})


def test_settings_in_production_default_to_secure_cookies() -> None:
    settings = load_settings(
        {"INBOX_ENV": "production", "INBOX_SECRET_KEY": "k" * 48, "RASA_API_TOKEN": "t", "INBOX_SLA_MINUTES": "1:3,2:9"}
    )
    assert settings.cookie_secure is True and settings.sla_minutes == {1: 3, 2: 9}
    assert settings.sla_for(3) == 9


def test_dev_settings_generate_a_secret_and_sla_parsing_explains_mistakes(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first = load({"INBOX_ENV": "dev", "RASA_API_TOKEN": "t"}, var_dir=tmp_path).for_inbox().secret_key
    assert len(first) >= 32 and oct((tmp_path / "inbox_secret_key").stat().st_mode)[-3:] == "600"
    assert load({"INBOX_ENV": "dev"}, var_dir=tmp_path).for_inbox().secret_key == first  # sessions survive restarts
    with pytest.raises(SettingsError, match="INBOX_SLA_MINUTES.*priority:minutes"):
        load_settings({"INBOX_SLA_MINUTES": "1=5"})
    with pytest.raises(SettingsError, match="positive"):
        load_settings({"INBOX_SLA_MINUTES": "1:0"})


def test_changing_ones_password_needs_the_current_one_and_ends_other_sessions(app, agents, db_url) -> None:  # type: ignore[no-untyped-def]
    from tests.support.inbox import login

    here, elsewhere = login(app, "agent"), login(app, "agent")
    token = here.post("/api/auth/tokens", {"label": "script"}).json()["token"]
    wrong = here.post("/api/auth/password", {"current_password": "nope", "new_password": "a-new-password"})
    assert wrong.status_code == 403 and wrong.json()["detail"] == "The current password is wrong."
    same = here.post("/api/auth/password", {"current_password": PASSWORDS["agent"], "new_password": PASSWORDS["agent"]})
    assert same.status_code == 422
    assert (
        here.post("/api/auth/password", {"current_password": PASSWORDS["agent"], "new_password": "short"}).status_code
        == 422
    )
    ok = here.post("/api/auth/password", {"current_password": PASSWORDS["agent"], "new_password": "a-new-password"})
    assert ok.status_code == 204
    assert here.get("/api/auth/me").status_code == 200  # this browser stays logged in
    assert elsewhere.get("/api/auth/me").status_code == 401
    assert client_for(app).get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    fresh = client_for(app)
    assert (
        fresh.post("/api/auth/login", json={"email": "agent@harbor.example", "password": "a-new-password"}).status_code
        == 200
    )
    assert "password_changed" in audit_actions(db_url)
    assert "Change password" in here.get("/account").text
