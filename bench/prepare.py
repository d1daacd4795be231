"""Between seeding and measuring: what the worker would have done, a dashboard session,
and the floor's copy of every answer."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

import httpx

from bench.floor import store_pages
from bench.seed import Dataset

_CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


async def run_worker_steps(database_url: str, agreement_ids: Iterable[str]) -> None:
    """Store every agreement's rollups and number the feed, as the worker does."""
    from services.worker.relay import assign_positions
    from shared.db import create_engine, create_sessionmaker
    from shared.rollups.store import recompute_agreement
    from shared.settings import Settings

    engine = create_engine(Settings(database_url=database_url))
    sessionmaker = create_sessionmaker(engine)
    try:
        for agreement_id in agreement_ids:
            async with sessionmaker() as session:
                await recompute_agreement(session, uuid.UUID(agreement_id))
                await session.commit()
        while True:
            async with sessionmaker() as session:
                numbered = await assign_positions(session)
                await session.commit()
            if not numbered:
                break
    finally:
        await engine.dispose()


async def feed_position(base_url: str, headers: dict[str, str], pages_in: int = 3) -> str:
    """The id of the event ``pages_in`` pages of 50 into the feed."""
    after = ""
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        for _ in range(pages_in):
            params = {"limit": "50", **({"after": after} if after else {})}
            response = await client.get("/v1/events", params=params)
            response.raise_for_status()
            items = response.json()["items"]
            if not items:
                break
            after = items[-1]["id"]
    if not after:
        raise RuntimeError("the events feed is empty: the relay numbered nothing")
    return after


async def sign_in(base_url: str, api_key: str) -> str:
    """A dashboard session for ``api_key``: the ``Cookie`` header value to send."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        form = await client.get("/app/login")
        match = _CSRF.search(form.text)
        if match is None:
            raise RuntimeError("the sign-in form carries no csrf_token")
        answer = await client.post(
            "/app/login", data={"api_key": api_key, "csrf_token": match.group(1)}
        )
        if answer.status_code not in (302, 303):
            raise RuntimeError(f"sign-in answered {answer.status_code}: {answer.text[:500]}")
        session = client.cookies.get("accords_session")
    if not session:
        raise RuntimeError("sign-in set no session cookie")
    return f"accords_session={session}"


async def copy_answers_to_floor(
    base_url: str, headers: dict[str, str], paths: Iterable[str], floor_dsn: str
) -> dict[str, int]:
    """GET every path from the API (200 expected) and store the bytes for the floor.

    Returns the body size of each path.
    """
    pages: list[tuple[str, str, bytes]] = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:
        for path in dict.fromkeys(paths):
            response = await client.get(path)
            if response.status_code != 200:
                raise RuntimeError(
                    f"accords answered {response.status_code} to GET {path}: {response.text[:1000]}"
                )
            pages.append((path, response.headers["content-type"], response.content))
    await store_pages(floor_dsn, pages)
    return {path: len(body) for path, _type, body in pages}


def agreement_for_create(dataset: Dataset) -> str:
    """The JSON body the create scenario posts; ``__REF__`` becomes a unique reference."""
    first, second = dataset.organization_ids[:2]
    return (
        '{"reference":"__REF__","title":"Memorandum of understanding on joint research",'
        '"instrument_type":"mou","legal_character":"non_binding",'
        '"summary":"Cooperation on technology zones and joint research.",'
        '"focus_areas":["collaborative research"],'
        '"objectives":[{"ref":"O1","text":"Run joint research calls"}],'
        '"effective_from":"2026-01-01","expires_on":"2031-01-01",'
        f'"parties":[{{"organization_id":"{first}","role":"signatory"}},'
        f'{{"organization_id":"{second}","role":"signatory"}}]}}'
    )
