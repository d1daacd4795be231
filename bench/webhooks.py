"""Webhook delivery benchmark: throughput of one worker process, and latency.

    python -m bench.webhooks [--deliveries 3000] [--rate 100] [--seconds 20] [--threads 8]

1. Throughput: ``--deliveries`` pending deliveries to one endpoint (a receiver
   on 127.0.0.1 answering 200 at once) are written to the database, then one
   ``accords worker`` process starts; deliveries per second are counted from
   the first receipt to the last.
2. Latency: ``accords serve`` and one ``accords worker`` run; organizations are
   created through the API at ``--rate`` per second for ``--seconds`` (by the
   light load generator of :mod:`bench.load`, so that the generator does not
   take the CPU the measured processes need); for each
   delivery the receiver takes ``receipt time - event timestamp`` (the event
   timestamp is taken inside the writing transaction, just before its commit,
   so the figure slightly overstates commit-to-receipt). Prints p50 / p99,
   and where the time went (API publish, worker fan-out, send).

Uses the local PostgreSQL (database ``accords_bench_webhooks``, recreated and
dropped) and RabbitMQ (a private virtual host, created and deleted with
``rabbitmqctl``). Targets: >= 300 deliveries/s; p99 < 1 s at 100 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import load  # noqa: E402
from bench.load import Call  # noqa: E402
from shared.db import create_engine, create_sessionmaker  # noqa: E402
from shared.migrate import upgrade_async  # noqa: E402
from shared.settings import Settings  # noqa: E402
from tests.live import accords_env, running, serving  # noqa: E402
from tests.webhooks.receiver import Receiver  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "accords_bench_webhooks"
DATABASE_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DATABASE}"


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


async def recreate_database() -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()
    await upgrade_async(DATABASE_URL)


async def drop_database() -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    finally:
        await connection.close()


async def seed_deliveries(settings: Settings, url: str, count: int) -> None:
    """One endpoint and ``count`` due deliveries, written straight to the database."""
    from shared.db import utcnow
    from shared.events import Actor
    from shared.ids import uuid7
    from shared.webhooks.delivery_log import new_delivery
    from shared.webhooks.endpoints import create_endpoint
    from shared.webhooks.rules import delivery_body
    from shared.webhooks.schemas import WebhookEndpointCreate

    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            endpoint, _ = await create_endpoint(
                session,
                actor=Actor.system(),
                organization_id=None,
                payload=WebhookEndpointCreate(url=url),
                settings=settings,
            )
            now = utcnow()
            for number in range(count):
                body = delivery_body(
                    event_type="organization.updated",
                    occurred_at=now,
                    sequence=number + 1,
                    data={"id": str(uuid.uuid4()), "name": f"Organization {number}"},
                )
                session.add(
                    new_delivery(
                        endpoint_id=endpoint.id,
                        event_id=uuid7(),
                        event_type="organization.updated",
                        body=body,
                        now=now,
                    )
                )
            await session.commit()
    finally:
        await engine.dispose()


async def throughput(env: dict[str, str], settings: Settings, count: int, threads: int) -> float:
    async with Receiver() as receiver:
        await seed_deliveries(settings, receiver.url, count)
        with running(["worker", "--processes", "1", "--threads", str(threads)], env):
            await receiver.wait_for(1)
            first = time.perf_counter()
            await receiver.wait_for(count)
            elapsed = time.perf_counter() - first
    return (count - 1) / elapsed


async def latency(
    env: dict[str, str], key: str, rate: float, seconds: float, threads: int
) -> tuple[float, float, int]:
    delays: list[float] = []
    async with Receiver() as receiver:

        def on_request(request) -> None:  # type: ignore[no-untyped-def]
            stamp = json.loads(request.body)["timestamp"]
            sent = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            delays.append((dt.datetime.now(dt.UTC) - sent).total_seconds())

        receiver.on_request = on_request
        with (
            serving(env) as base,
            running(["worker", "--processes", "1", "--threads", str(threads)], env),
        ):
            async with httpx.AsyncClient(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as client:
                response = await client.post(
                    "/v1/webhook-endpoints",
                    json={"url": receiver.url, "event_types": ["organization.", "webhook.test"]},
                )
                response.raise_for_status()
                endpoint_id = response.json()["id"]
                # Warm up: the worker is consuming once a test ping arrives.
                await client.post(f"/v1/webhook-endpoints/{endpoint_id}/test")
                await receiver.wait_for(1)
                delays.clear()
                total = int(rate * seconds)
                calls = [
                    Call(
                        "POST",
                        "/v1/organizations",
                        {"name": f"Bench {number}", "kind": "ngo", "country": "PK"},
                    )
                    for number in range(total)
                ]
                sent = await load.drive(
                    base, calls, rate=rate, headers=[("authorization", f"Bearer {key}")]
                )
                if sent.errors or set(sent.statuses) != {201}:
                    raise RuntimeError(f"refused: {sent.statuses} {sent.errors[:3]}")
                print(f"  sent {sent.sent} changes at {sent.achieved:.1f}/s", flush=True)
                await receiver.wait_for(total + 1)
    ordered = sorted(delays)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50, p99, len(ordered)


STAGES_SQL = """
SELECT extract(epoch FROM e.dispatched_at - e.occurred_at) AS marked,
       extract(epoch FROM p.processed_at - e.occurred_at) AS fanned_out,
       extract(epoch FROM a.at - p.processed_at) AS sent
FROM outbox_events e
JOIN processed_events p ON p.event_id = e.id AND p.consumer = 'webhooks.fan_out'
JOIN webhook_deliveries d ON d.event_id = e.id
JOIN webhook_attempts a ON a.delivery_id = d.id
WHERE e.type = 'organization.created'
"""


async def print_stages() -> None:
    """Where the latency went, from the event's timestamp: marked dispatched by the
    API after the broker confirmed it, fan-out committed by the worker; then
    from the fan-out to the attempt's start. The marking is off the delivery's
    path: the API marks in batches, after up to shared.broker.MARK_LINGER_SECONDS
    (0.5 s), so ``marked`` may come after ``fanned_out``."""
    connection = await asyncpg.connect(DATABASE_URL.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(STAGES_SQL)
    finally:
        await connection.close()
    for stage in ("marked", "fanned_out", "sent"):
        values = sorted(float(row[stage]) for row in rows)
        if values:
            p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
            print(
                f"  stage {stage:<10}: p50 {statistics.median(values) * 1000:7.0f} ms, "
                f"p99 {p99 * 1000:7.0f} ms",
                flush=True,
            )


async def main(arguments: argparse.Namespace) -> int:
    vhost = f"accords_bench_{uuid.uuid4().hex[:8]}"
    key = "accords-bench-webhooks-" + uuid.uuid4().hex
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    env = accords_env(
        database_url=DATABASE_URL,
        broker_url=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        bootstrap_api_key=key,
        secret_key="bench-" + uuid.uuid4().hex,
        webhook_allow_private_targets="true",
        rate_limit_per_minute=str(10**7),
        sweep_interval_seconds="3600",
    )
    settings = Settings(
        database_url=DATABASE_URL,
        secret_key=env["ACCORDS_SECRET_KEY"],
        webhook_allow_private_targets=True,
    )
    try:
        per_second, p50, p99, measured = 0.0, 0.0, 0.0, 0
        if arguments.only in (None, "throughput"):
            await recreate_database()
            per_second = await throughput(env, settings, arguments.deliveries, arguments.threads)
        if arguments.only in (None, "latency"):
            await recreate_database()
            p50, p99, measured = await latency(
                env, key, arguments.rate, arguments.seconds, arguments.threads
            )
            await print_stages()
    finally:
        with contextlib.suppress(Exception):
            await drop_database()
        with contextlib.suppress(Exception):
            rabbitmqctl("delete_vhost", vhost)
    print(f"webhook deliveries/s, one worker process: {per_second:8.0f}   (target >= 300)")
    print(
        f"commit-to-receipt at {arguments.rate:g} events/s ({measured} deliveries): "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms   (target p99 < 1000 ms)"
    )
    return 0 if per_second >= 300 and p99 < 1.0 else 1


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--only", choices=["throughput", "latency"], default=None)
    parser.add_argument(
        "--threads", type=int, default=8, help="worker threads (the `accords worker` default)"
    )
    raise SystemExit(asyncio.run(main(parser.parse_args())))


if __name__ == "__main__":
    cli()
