"""Security headers on every answer: JSON answers, problems and pages."""

from __future__ import annotations

import base64
import hashlib
import re

from services.api.app import create_app
from tests.conftest import client_for


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


async def test_a_v1_answer_carries_the_security_headers(client) -> None:
    response = await client.get("/v1/organizations")

    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


async def test_a_problem_answer_carries_the_security_headers_too(app) -> None:
    async with client_for(app, "not-a-key") as stranger:
        response = await stranger.get("/v1/organizations")

    assert response.status_code == 401
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_the_docs_page_allows_its_own_origin_only_and_no_framing(app) -> None:
    async with client_for(app, None) as anonymous:
        response = await anonymous.get("/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert all(
        source in ("'self'", "'unsafe-inline'", "data:", "blob:", "'none'")
        or source.startswith("'sha256-")
        for values in policy.values()
        for source in values
    )


async def test_the_docs_page_inline_script_is_allowed_by_its_hash_and_no_other(app) -> None:
    async with client_for(app, None) as anonymous:
        response = await anonymous.get("/docs")

    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", response.text, re.S)
    expected = {
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in inline
    }
    policy = directives(response.headers["content-security-policy"])
    assert inline
    assert set(policy["script-src"]) == {"'self'", *expected}


async def test_an_answer_to_a_request_with_credentials_is_never_stored(client) -> None:
    response = await client.get("/docs")

    assert response.headers["cache-control"] == "no-store"


async def test_hsts_is_sent_when_the_public_url_is_https(settings, engine) -> None:
    application = create_app(settings.model_copy(update={"public_url": "https://accords.example"}))
    async with (
        application.router.lifespan_context(application),
        client_for(application, None) as anonymous,
    ):
        response = await anonymous.get("/healthz")

    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_hsts_is_not_sent_over_plain_http(app) -> None:
    async with client_for(app, None) as anonymous:
        response = await anonymous.get("/healthz")

    assert "strict-transport-security" not in response.headers
