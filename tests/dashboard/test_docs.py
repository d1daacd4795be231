"""The API reference works on a closed network: every asset comes from the app."""

from __future__ import annotations

import pytest

from tests.conftest import client_for
from tests.dashboard.html import foreign_urls, parse


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_the_reference_pages_load_nothing_from_another_host(app, path) -> None:
    async with client_for(app, None) as anonymous:
        response = await anonymous.get(path)
    assert response.status_code == 200
    assert foreign_urls(response.text) == []
    assert "fonts.googleapis" not in response.text


async def test_every_asset_of_the_reference_pages_is_served(app) -> None:
    async with client_for(app, None) as anonymous:
        urls = [
            url
            for path in ("/docs", "/redoc")
            for url in parse((await anonymous.get(path)).text).urls
        ]
        assert any(url.endswith("swagger-ui-bundle.js") for url in urls)
        assert any(url.endswith("redoc.standalone.js") for url in urls)
        for url in urls:
            response = await anonymous.get(url)
            assert response.status_code == 200, url
            assert len(response.content) > 1000, url


async def test_swagger_ui_does_not_call_the_online_validator(app) -> None:
    async with client_for(app, None) as anonymous:
        page = (await anonymous.get("/docs")).text
    assert '"validatorUrl": null' in page


async def test_redocs_script_loads_no_remote_image(app) -> None:
    async with client_for(app, None) as anonymous:
        script = await anonymous.get("/docs/assets/redoc.standalone.js")
    assert script.status_code == 200
    assert "cdn.redoc.ly" not in script.text
