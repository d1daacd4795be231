"""The api-key cache's rules, without a database."""

from __future__ import annotations

import asyncio

from services.api.api_keys.cache import ApiKeyCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _listening_cache(**options: object) -> ApiKeyCache[str]:
    cache: ApiKeyCache[str] = ApiKeyCache(**options)  # type: ignore[arg-type]
    cache.start_listening()
    return cache


async def _load_row(key_hash: str) -> str | None:
    return f"row {key_hash}"


async def test_a_found_key_is_served_from_the_cache() -> None:
    cache = _listening_cache()
    loads: list[str] = []

    async def load(key_hash: str) -> str | None:
        loads.append(key_hash)
        return "row"

    await cache.lookup("h", load)
    await cache.lookup("h", load)

    assert loads == ["h"]


async def test_an_unknown_key_is_not_cached() -> None:
    cache = _listening_cache()

    async def missing(_key_hash: str) -> str | None:
        return None

    await cache.lookup("h", missing)

    assert len(cache) == 0


async def test_nothing_is_cached_unless_listening() -> None:
    cache: ApiKeyCache[str] = ApiKeyCache()

    await cache.lookup("h", _load_row)

    assert len(cache) == 0


async def test_a_lookup_overtaken_by_a_change_is_not_stored() -> None:
    cache = _listening_cache()
    reading = asyncio.Event()
    release = asyncio.Event()

    async def slow(_key_hash: str) -> str | None:
        reading.set()
        await release.wait()
        return "row read before the delete committed"

    lookup = asyncio.create_task(cache.lookup("h", slow))
    await reading.wait()
    cache.forget_all()  # the notification arrives while the lookup runs
    release.set()
    await lookup

    assert len(cache) == 0


async def test_entries_expire_after_the_ttl() -> None:
    clock = Clock()
    cache = _listening_cache(ttl_seconds=10, clock=clock)
    loads: list[str] = []

    async def load(key_hash: str) -> str | None:
        loads.append(key_hash)
        return "row"

    await cache.lookup("h", load)
    clock.now = 11
    await cache.lookup("h", load)

    assert loads == ["h", "h"]


async def test_the_oldest_entry_makes_room() -> None:
    cache = _listening_cache(max_entries=2)

    for key_hash in ("a", "b", "c"):
        await cache.lookup(key_hash, _load_row)

    assert len(cache) == 2
