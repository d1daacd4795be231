"""Signing in, out, and what ends a session."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import httpx
from sqlalchemy import func, select, update

from shared.models import DashboardSession
from tests.conftest import make_key
from tests.dashboard.browsing import browser, post_form, sign_in, signed_in
from tests.dashboard.html import csrf_token


async def test_root_redirects_to_the_dashboard(app) -> None:
    async with browser(app) as client:
        response = await client.get("/")
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/app/"


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(app) -> None:
    async with browser(app) as client:
        response = await client.get("/app/")
    assert response.status_code == 303
    assert response.headers["location"] == "/app/login"


async def test_signing_in_sets_a_http_only_lax_cookie_and_shows_the_portfolio(app) -> None:
    key = await make_key(app, ["read"])
    async with browser(app) as client:
        response = await sign_in(client, key)
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert "accords_session=" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie.replace("Lax", "lax")
        assert "Secure" not in cookie  # ACCORDS_PUBLIC_URL is http here
        page = await client.get("/app/")
    assert page.status_code == 200
    assert "<h1>Portfolio</h1>" in page.text
    assert key not in page.text


async def test_the_cookie_is_secure_when_the_public_url_is_https(app) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"public_url": "https://accords.example.org"}
    )
    key = await make_key(app, ["read"])
    async with browser(app) as client:
        client.base_url = httpx.URL("https://accords.test")
        response = await sign_in(client, key)
    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]


async def test_an_unknown_key_is_refused_with_a_message_linking_to_the_field(app) -> None:
    async with browser(app) as client:
        response = await sign_in(client, "acc_not-a-key")
    assert response.status_code == 401
    assert 'href="#api_key"' in response.text
    assert "unknown or has been revoked" in response.text
    assert "acc_not-a-key" not in response.text


async def test_sign_in_without_the_form_token_is_refused(app) -> None:
    key = await make_key(app, ["read"])
    async with browser(app) as client:
        response = await client.post("/app/login", data={"api_key": key})
    assert response.status_code == 403


async def test_sign_in_attempts_are_limited_per_address(app) -> None:
    app.state.settings = app.state.settings.model_copy(update={"login_attempts_per_minute": 3})
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://accords.test") as client:
        statuses = [(await sign_in(client, "acc_wrong")).status_code for _ in range(4)]
        async with browser(app) as elsewhere:
            other_address = (await sign_in(elsewhere, "acc_wrong")).status_code
    assert statuses == [401, 401, 401, 429]
    assert other_address == 401


async def test_signing_out_ends_the_session_at_once(app) -> None:
    key = await make_key(app, ["read"])
    async with signed_in(app, key) as client:
        stolen_cookie = client.cookies.get("accords_session")
        response = await post_form(client, "/app/", "/app/logout", {})
        assert response.status_code == 303
        client.cookies.set("accords_session", stolen_cookie, domain="accords.test", path="/app")
        again = await client.get("/app/")
    assert again.status_code == 303
    assert again.headers["location"] == "/app/login"


async def test_deleting_the_key_ends_its_sessions(app, client) -> None:
    key = await make_key(app, ["read"])
    keys = (await client.get("/v1/api-keys")).json()["items"]
    key_id = next(item["id"] for item in keys if key.startswith(item["key_prefix"]))
    async with signed_in(app, key) as browsing:
        assert (await browsing.get("/app/")).status_code == 200
        deleted = await client.delete(f"/v1/api-keys/{key_id}")
        assert deleted.status_code == 204, deleted.text
        after = await browsing.get("/app/")
    assert after.status_code == 303
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(DashboardSession)) == 0


async def test_a_form_post_without_the_csrf_token_is_refused(app) -> None:
    key = await make_key(app, ["read"])
    async with signed_in(app, key) as client:
        response = await client.post("/app/logout")
        assert response.status_code == 403
        assert (await client.get("/app/")).status_code == 200  # still signed in


async def test_a_form_post_with_another_sessions_token_is_refused(app) -> None:
    key = await make_key(app, ["read"])
    async with signed_in(app, key) as first, signed_in(app, key) as second:
        token = csrf_token((await first.get("/app/")).text)
        response = await second.post("/app/logout", data={"csrf_token": token})
    assert response.status_code == 403


async def test_the_key_never_reaches_a_url_or_a_log_line(app, capsys) -> None:
    key = await make_key(app, ["read"])
    async with browser(app) as client:
        response = await sign_in(client, key)
        assert key not in response.headers.get("location", "")
        page = await client.get("/app/")
    assert key not in page.text
    captured = capsys.readouterr()
    assert key not in captured.out + captured.err


async def test_a_session_idle_for_more_than_8_hours_has_ended(app) -> None:
    key = await make_key(app, ["read"])
    async with signed_in(app, key) as client:
        async with app.state.sessionmaker() as session:
            await session.execute(
                update(DashboardSession).values(
                    last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=8, minutes=1)
                )
            )
            await session.commit()
        response = await client.get("/app/")
    assert response.status_code == 303
    assert response.headers["location"] == "/app/login"


async def test_a_session_used_within_8_hours_lives_on(app) -> None:
    key = await make_key(app, ["read"])
    async with signed_in(app, key) as client:
        async with app.state.sessionmaker() as session:
            await session.execute(
                update(DashboardSession).values(
                    last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=7, minutes=59)
                )
            )
            await session.commit()
        assert (await client.get("/app/")).status_code == 200
        async with app.state.sessionmaker() as session:
            seen = await session.scalar(select(DashboardSession.last_seen_at))
    assert dt.datetime.now(dt.UTC) - seen < dt.timedelta(minutes=1)


async def test_the_database_keeps_only_a_hash_of_the_session_token(app) -> None:
    key = await make_key(app, ["read"])
    async with signed_in(app, key) as client:
        cookie = client.cookies.get("accords_session")
        async with app.state.sessionmaker() as session:
            stored = await session.scalar(select(DashboardSession.token_hash))
    token = cookie.strip('"').rsplit(".", 1)[0]
    assert stored != token
    assert stored == hashlib.sha256(token.encode()).hexdigest()


async def test_a_key_that_cannot_read_cannot_sign_in(app) -> None:
    key = await make_key(app, ["webhooks"])
    async with browser(app) as client:
        response = await sign_in(client, key)
        assert response.status_code == 403
        assert "cannot read records" in response.text
        assert (await client.get("/app/")).status_code == 303
