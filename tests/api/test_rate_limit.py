from __future__ import annotations

import uuid

import pytest

from services.api.app import create_app
from services.api.ratelimit.limiter import Decision, RateLimiter
from services.api.ratelimit.stores import (
    DatabaseCounterStore,
    NearLimitExactStore,
    RedisCounterStore,
)
from shared.settings import Settings
from tests.conftest import client_for, make_key
from tests.factories import organization_body
from tests.servers import REDIS

LIMIT = 3
# A fixed instant in the middle of a window: no test depends on the wall clock.
NOW = 1_800_000_030.0


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        log_format="console",
        log_level="warning",
        environment="test",
        rate_limit_per_minute=LIMIT,
    )


@pytest.fixture(autouse=True)
def frozen_clock(app) -> None:  # type: ignore[no-untyped-def]
    app.state.rate_limiter.clock = lambda: NOW


async def _spend(client, count: int) -> list:  # type: ignore[no-untyped-def]
    return [await client.get("/v1/organizations") for _ in range(count)]


async def test_request_over_the_limit_answers_429(client) -> None:
    responses = await _spend(client, LIMIT + 1)

    assert [response.status_code for response in responses] == [200] * LIMIT + [429]


async def test_429_is_a_problem_with_retry_after_and_ratelimit_headers(client) -> None:
    refused = (await _spend(client, LIMIT + 1))[-1]

    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 429
    assert refused.headers["retry-after"] == "30"
    assert refused.headers["ratelimit"] == '"default";r=0;t=30'
    assert refused.headers["ratelimit-policy"] == f'"default";q={LIMIT};w=60'


async def test_successful_answers_carry_the_remaining_quota(client) -> None:
    first, second = await _spend(client, 2)

    assert first.headers["ratelimit"] == f'"default";r={LIMIT - 1};t=30'
    assert second.headers["ratelimit"] == f'"default";r={LIMIT - 2};t=30'
    assert first.headers["ratelimit-policy"] == f'"default";q={LIMIT};w=60'


async def test_429_carries_the_request_id_and_security_headers(client) -> None:
    refused = (await _spend(client, LIMIT + 1))[-1]

    assert refused.headers["x-request-id"]
    assert refused.headers["x-content-type-options"] == "nosniff"


async def test_each_api_key_has_its_own_budget(client, app) -> None:
    await _spend(client, LIMIT + 1)
    async with client_for(app, await make_key(app, ["read"])) as other:
        response = await other.get("/v1/organizations")

    assert response.status_code == 200


async def test_writes_count_against_the_same_budget(client) -> None:
    await _spend(client, LIMIT)
    response = await client.post("/v1/organizations", json=organization_body())

    assert response.status_code == 429


async def test_budget_renews_in_the_next_window(client, app) -> None:
    await _spend(client, LIMIT + 1)
    app.state.rate_limiter.clock = lambda: NOW + 60

    assert (await client.get("/v1/organizations")).status_code == 200


async def test_requests_without_a_key_are_not_counted(client, app) -> None:
    async with client_for(app, None) as anonymous:
        for _ in range(LIMIT + 1):
            await anonymous.get("/healthz")
    response = await client.get("/v1/organizations")

    assert response.status_code == 200


async def test_budget_is_shared_by_processes_using_one_database(client, app, settings) -> None:
    """A second app on the same database plays a second API process."""
    await _spend(client, LIMIT)
    other_process = create_app(settings)
    async with other_process.router.lifespan_context(other_process):
        other_process.state.rate_limiter.clock = lambda: NOW
        async with client_for(other_process, client.headers["authorization"][7:]) as same_key:
            response = await same_key.get("/v1/organizations")

    assert response.status_code == 429


async def test_database_counter_counts_in_one_shared_row(settings) -> None:
    first, second = DatabaseCounterStore(settings), DatabaseCounterStore(settings)
    bucket = uuid.uuid4().hex
    try:
        counts = [
            await first.hit(bucket, 7),
            await second.hit(bucket, 7),
            await first.hit(bucket, 8),
        ]
    finally:
        await first.aclose()
        await second.aclose()

    assert counts == [1, 2, 1]


async def test_redis_counter_is_shared_by_processes() -> None:
    REDIS.require()
    first = RedisCounterStore("redis://127.0.0.1:6379/0")
    second = RedisCounterStore("redis://127.0.0.1:6379/0")
    bucket = uuid.uuid4().hex
    try:
        counts = [
            await first.hit(bucket, 7),
            await second.hit(bucket, 7),
            await first.hit(bucket, 8),
        ]
    finally:
        await first.aclose()
        await second.aclose()

    assert counts == [1, 2, 1]


async def test_api_limits_through_redis_when_configured(database_url, engine) -> None:
    REDIS.require()
    settings = Settings(
        database_url=database_url,
        log_format="console",
        log_level="warning",
        environment="test",
        rate_limit_per_minute=LIMIT,
        redis_url="redis://127.0.0.1:6379/0",
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        assert isinstance(application.state.rate_limiter.store, RedisCounterStore)
        application.state.rate_limiter.clock = lambda: NOW
        async with client_for(application, await make_key(application, ["read"])) as reader:
            responses = await _spend(reader, LIMIT + 1)

    assert [response.status_code for response in responses] == [200] * LIMIT + [429]


async def test_unreachable_counter_store_lets_requests_through() -> None:
    limiter = RateLimiter(RedisCounterStore("redis://127.0.0.1:1/0"), limit=1)
    try:
        decision = await limiter.check("bucket")
    finally:
        await limiter.aclose()

    assert decision is None


def test_redis_broker_url_is_reused_for_counting() -> None:
    settings = Settings(broker_url="redis://broker:6379/1")

    assert settings.rate_limit_redis_url == "redis://broker:6379/1"


def test_without_redis_the_database_counts() -> None:
    settings = Settings(broker_url="amqp://guest@rabbit//")

    assert settings.rate_limit_redis_url is None


def test_refusal_headers_follow_the_ietf_draft() -> None:
    decision = Decision(allowed=False, limit=1200, remaining=0, reset_seconds=12)

    assert dict(decision.headers()) == {
        b"ratelimit-policy": b'"default";q=1200;w=60',
        b"ratelimit": b'"default";r=0;t=12',
        b"retry-after": b"12",
    }


async def test_every_v1_operation_documents_429(app) -> None:
    schema = app.openapi()

    for path, item in schema["paths"].items():
        if path.startswith("/v1"):
            for method, operation in item.items():
                assert "429" in operation["responses"], (method, path)


class _CountingStore:
    """Stands in for the shared counter; remembers every round trip."""

    def __init__(self) -> None:
        self.hits: dict[tuple[str, int], int] = {}
        self.round_trips = 0

    async def hit(self, bucket: str, window: int, amount: int = 1) -> int:
        self.round_trips += 1
        self.hits[(bucket, window)] = self.hits.get((bucket, window), 0) + amount
        return self.hits[(bucket, window)]

    async def aclose(self) -> None:
        pass


async def test_far_from_the_limit_requests_are_counted_in_memory() -> None:
    shared = _CountingStore()
    store = NearLimitExactStore(shared, limit=1000, margin=100, flush_seconds=3600)

    counts = [await store.hit("key", 7) for _ in range(50)]

    assert counts == list(range(1, 51))
    assert shared.round_trips == 0
    await store.flush()
    assert shared.hits[("key", 7)] == 50


async def test_near_the_limit_every_request_reads_the_shared_count() -> None:
    shared = _CountingStore()
    shared.hits[("key", 7)] = 950  # other processes' requests, already written
    store = NearLimitExactStore(shared, limit=1000, margin=100, flush_seconds=3600)
    await store.hit("key", 7)
    await store.flush()

    counts = [await store.hit("key", 7) for _ in range(3)]

    assert counts == [952, 953, 954]
    assert shared.round_trips == 4


async def test_in_memory_hits_reach_the_shared_counter_on_close() -> None:
    shared = _CountingStore()
    store = NearLimitExactStore(shared, limit=1000, margin=100, flush_seconds=3600)
    for _ in range(5):
        await store.hit("key", 7)

    await store.aclose()

    assert shared.hits == {("key", 7): 5}
