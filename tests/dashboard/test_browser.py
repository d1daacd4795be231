"""The dashboard in a real browser: Debian's Chromium driven by Playwright.

Real `accords serve` and `accords worker` processes on PostgreSQL and
RabbitMQ, the demo loaded with `accords demo`; a person signs in, opens the
demo MoU, marks a milestone done, sees the progress the worker recomputed,
and signs out. Every request the browser makes is recorded: none may leave
the Accords host. Screenshots of each page land in var/screenshots/.

Never downloads a browser: without /usr/bin/chromium the test skips (and
fails under CI=true, like the other server-backed tests).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import pg_url
from tests.live import ACCORDS, accords_env, running, serving
from tests.worker.test_processes import database, vhost  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
ADMIN_KEY = "accords-browser-test-" + uuid.uuid4().hex


def require_chromium() -> None:
    if Path(CHROMIUM).exists() or shutil.which("chromium") == CHROMIUM:
        return
    message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: the browser tests must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def accords(database: str, vhost: str) -> Iterator[str]:  # noqa: F811
    """`accords serve` and `accords worker` with the demo loaded; yields the base URL."""
    require_chromium()
    env = accords_env(
        database_url=pg_url(database),
        broker_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        bootstrap_api_key=ADMIN_KEY,
        rate_limit_per_minute=str(10**6),
        sweep_interval_seconds="3600",
    )
    with serving(env) as base, running(["worker", "--threads", "2"], env):
        subprocess.run([ACCORDS, "demo"], env=env, check=True, capture_output=True, timeout=120)
        yield base


def _screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


async def _shoot(page, name: str, *, full_page: bool = True) -> Path:  # type: ignore[no-untyped-def]
    path = _screenshot_path(name)
    await page.screenshot(path=str(path), full_page=full_page)
    return path


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


async def _progress_of(page) -> str:  # type: ignore[no-untyped-def]
    return (await page.locator(".headline .progress-text").inner_text()).strip()


async def test_sign_in_mark_a_milestone_done_see_the_rollup_and_sign_out(accords) -> None:
    from playwright.async_api import async_playwright

    host = urlsplit(accords).netloc
    requested: list[str] = []
    shots: list[Path] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requested.append(request.url))

            await page.goto(f"{accords}/")
            assert urlsplit(page.url).path == "/app/login"
            shots.append(await _shoot(page, "01-sign-in"))
            await page.get_by_label("Api key").fill(ADMIN_KEY)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(f"{accords}/app/")
            await page.get_by_role("heading", level=1, name="Portfolio").wait_for()
            assert await page.get_by_role("link", name="STZA-GEI-MOU-2023").count() == 1
            shots.append(await _shoot(page, "02-portfolio"))

            await page.get_by_role("link", name="STZA-GEI-MOU-2023").click()
            await page.wait_for_url(re.compile(r"/app/agreements/"))
            agreement_url = page.url
            before = await _progress_of(page)
            shots.append(await _shoot(page, "03-agreement"))

            await page.get_by_role("button", name=re.compile("^Mark done")).first.click()
            await page.get_by_text("The milestone is marked done").wait_for()
            after = before
            deadline = time.monotonic() + 30
            while after == before and time.monotonic() < deadline:
                await page.wait_for_timeout(500)
                await page.goto(agreement_url)
                after = await _progress_of(page)
            assert after != before, f"progress still {before!r} after the worker had 30 s"
            shots.append(await _shoot(page, "04-agreement-after-milestone-done"))

            await page.get_by_role("link", name="Attention").click()
            await page.get_by_role("heading", level=1, name="Needs attention").wait_for()
            shots.append(await _shoot(page, "05-attention"))

            await page.goto(agreement_url)
            await page.locator("#parties a").first.click()
            await page.wait_for_url(re.compile(r"/app/organizations/"))
            shots.append(await _shoot(page, "06-organization"))

            narrow = await browser.new_page(viewport={"width": 360, "height": 800})
            narrow.on("request", lambda request: requested.append(request.url))
            await narrow.context.add_cookies(await page.context.cookies())
            await narrow.goto(f"{accords}/app/")
            width = await narrow.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"the portfolio is {width} px wide on a 360 px screen"
            shots.append(await _shoot(narrow, "07-portfolio-360px"))
            await narrow.goto(agreement_url)
            width = await narrow.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"the agreement page is {width} px wide on a 360 px screen"
            shots.append(await _shoot(narrow, "08-agreement-360px"))
            await narrow.close()

            await page.get_by_role("button", name="Sign out").click()
            await page.get_by_text("You have signed out").wait_for()
            shots.append(await _shoot(page, "09-signed-out"))
            await page.goto(agreement_url)
            assert urlsplit(page.url).path == "/app/login"
        finally:
            await browser.close()

    assert all(_is_png(path) for path in shots)
    foreign = [url for url in requested if urlsplit(url).netloc not in ("", host)]
    assert foreign == []


async def test_the_api_reference_renders_without_any_other_host(accords) -> None:
    from playwright.async_api import async_playwright

    host = urlsplit(accords).netloc
    requested: list[str] = []
    # The document is built once per process and takes seconds on a busy machine.
    async with httpx.AsyncClient(timeout=300) as warmup:
        assert (await warmup.get(f"{accords}/openapi.json")).status_code == 200
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda request: requested.append(request.url))
            await page.goto(f"{accords}/docs")
            await page.locator(".opblock").first.wait_for(state="visible", timeout=120_000)
            assert await page.locator(".opblock").count() > 20
            docs = await _shoot(page, "10-docs", full_page=False)
            await page.goto(f"{accords}/redoc")
            await page.get_by_text("Accords API").first.wait_for(timeout=120_000)
            redoc = await _shoot(page, "11-redoc", full_page=False)
        finally:
            await browser.close()
    assert _is_png(docs) and _is_png(redoc)
    foreign = [url for url in requested if urlsplit(url).netloc not in ("", host)]
    assert foreign == []
