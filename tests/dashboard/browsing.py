"""A browser-like httpx client for the dashboard: cookies, forms, CSRF tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.conftest import client_for
from tests.dashboard.html import csrf_token


def browser(app) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    """A client with no Authorization header: only the session cookie speaks."""
    return client_for(app, None)


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await client.get("/app/login")
    assert form.status_code == 200, form.text
    return await client.post(
        "/app/login", data={"api_key": key, "csrf_token": csrf_token(form.text)}
    )


@asynccontextmanager
async def signed_in(app, key: str) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with browser(app) as client:
        response = await sign_in(client, key)
        assert response.status_code == 303, response.text
        yield client


async def post_form(
    client: httpx.AsyncClient, page_path: str, action: str, data: dict[str, str]
) -> httpx.Response:
    """Submit a form of ``page_path`` with the page's CSRF token."""
    page = await client.get(page_path)
    assert page.status_code == 200, page.text
    return await client.post(action, data={**data, "csrf_token": csrf_token(page.text)})
