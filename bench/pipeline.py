"""Measure the event pipeline: change-to-rollup latency, the worker's throughput, recompute time.

    python -m bench.pipeline                     # what `make bench` runs after bench.run
    python -m bench.pipeline --rates 50,200 --seconds 10

With PostgreSQL (127.0.0.1:5432), RabbitMQ (127.0.0.1:5672, a throw-away
virtual host) and one `accords worker` process next to `accords serve`:

1. Latency: changes sent at a steady rate, milestone changes (PATCH
   status=done) with every :data:`MEASUREMENT_EVERY`-th an indicator
   measurement (POST ``/v1/indicators/{id}/measurements``: initiative and
   agreement rollups recomputed, SPEC 11); for each, from the event's commit
   (``outbox_events.occurred_at``, written in the change's transaction, so
   slightly before the commit: the figure errs high) to the commit of the
   rollup recomputed for it (``processed_events.processed_at`` of the
   ``rollups`` consumer). With it, the CPU each part spent per change (serve,
   worker, PostgreSQL, RabbitMQ, the generator; :mod:`bench.cpu`), beyond
   what they spend with no load (measured for :data:`IDLE_SECONDS` before),
   and the rate that sum allows on this machine's cores: which part caps the
   rate when they all share the cores.
2. Throughput: ``--backlog`` changes sent while no worker runs (the API
   publishes them, the broker keeps them), then one worker process started on
   them; its changes per second from the first rollup to the last: what one
   worker process can keep up with when it does not share the CPU with the API.
3. Recompute: ``recompute_agreement`` for one agreement (3 initiatives, 30
   milestones), timed in-process, in a portfolio of 100 and of 10,000 agreements.

Targets: p99 latency under 1 s at 50 and at 200 changes/s; recompute at 10,000 within
1.5x the time at 100. Everything is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import getpass
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import cpu, load  # noqa: E402
from bench.load import Call  # noqa: E402

ACCORDS = Path(sys.executable).parent / "accords"
HOST = "127.0.0.1"
DATABASE = "accords_bench_pipeline"
KEY = "accords-bench-pipeline-" + uuid.uuid4().hex
INITIATIVES_PER_AGREEMENT = 3
MILESTONES_PER_INITIATIVE = 10
# Every 4th change is an indicator measurement (one indicator per initiative).
MEASUREMENT_EVERY = 4
# The backlog of the worker's throughput run is sent at up to this rate.
BACKLOG_RATE = 1000.0
# Before each rate, the CPU the processes spend with no load is measured this long.
IDLE_SECONDS = 3.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def rabbitmqctl(*args: str) -> str:
    done = subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)
    return done.stdout.decode()


async def wait_consuming(vhost: str, within: float = 60) -> None:
    """Until a worker consumes from the virtual host's queues (it has started)."""
    deadline = time.monotonic() + within
    while not (await asyncio.to_thread(rabbitmqctl, "list_consumers", "-p", vhost, "-q")).strip():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no worker consumes from {vhost} after {within:g} s")
        await asyncio.sleep(0.2)


@contextlib.contextmanager
def started(args: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(ACCORDS), *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


async def wait_ready(url: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url, timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} not ready within {within} s")


# --- seeding (straight into the database: 10,000 agreements through HTTP is slow) ---


async def seed(dsn: str, agreements: int, *, start: int = 0) -> list[uuid.UUID]:
    """Agreements between two organizations, each 3 initiatives x 10 milestones,
    and one indicator per initiative."""
    from shared.ids import uuid7

    now = dt.datetime.now(dt.UTC)
    connection = await asyncpg.connect(dsn)
    try:
        organizations = [(uuid7(), f"Org {n}", "university", c) for n, c in enumerate(["PK", "CN"])]
        await connection.executemany(
            "INSERT INTO organizations (id, name, kind, country, version, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, 1, now(), now()) ON CONFLICT DO NOTHING",
            organizations,
        )
        org_ids = [row[0] for row in organizations]
        agreement_rows, party_rows, initiative_rows, milestone_rows = [], [], [], []
        indicator_rows = []
        ids = []
        for number in range(start, start + agreements):
            agreement_id = uuid7()
            ids.append(agreement_id)
            agreement_rows.append(
                (
                    agreement_id,
                    f"BENCH-{number:06d}",
                    f"Agreement {number}",
                    "mou",
                    "non_binding",
                    '["research"]',
                    '[{"ref": "O1", "text": "x"}]',
                    "active",
                )
            )
            party_rows += [(agreement_id, org, "signatory", i) for i, org in enumerate(org_ids)]
            for _ in range(INITIATIVES_PER_AGREEMENT):
                initiative_id = uuid7()
                initiative_rows.append((initiative_id, agreement_id, "Work", "O1", org_ids[0]))
                indicator_rows.append((uuid7(), initiative_id, agreement_id))
                for m in range(MILESTONES_PER_INITIATIVE):
                    # All due later: no overdue notices from the sweep to compete with.
                    due = dt.date.today() + dt.timedelta(days=(m + 1) * 30)
                    milestone_rows.append((uuid7(), initiative_id, agreement_id, f"M{m}", due))
        await connection.executemany(
            "INSERT INTO agreements (id, reference, title, instrument_type, legal_character,"
            " focus_areas, objectives, status, version, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, 1, now(), now())",
            agreement_rows,
        )
        await connection.executemany(
            "INSERT INTO agreement_parties (agreement_id, organization_id, role, position)"
            " VALUES ($1, $2, $3, $4)",
            party_rows,
        )
        await connection.executemany(
            "INSERT INTO initiatives (id, agreement_id, title, objective_ref,"
            " lead_organization_id, status, weight, version, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, 'in_progress', 1, 1, now(), now())",
            initiative_rows,
        )
        await connection.executemany(
            "INSERT INTO milestones (id, initiative_id, agreement_id, title, due_on, status,"
            " weight, version, created_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, 'pending', 1, 1, now(), now())",
            milestone_rows,
        )
        await connection.executemany(
            "INSERT INTO indicators (id, initiative_id, agreement_id, title, measure, unit,"
            " baseline, target, objective_ref, version, created_at, updated_at)"
            " VALUES ($1, $2, $3, 'People trained', 'unit', 'people',"
            ' \'{"value": 0, "on": null}\'::jsonb, \'{"value": 100, "on": null}\'::jsonb,'
            " 'O1', 1, now(), now())",
            indicator_rows,
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    del now
    return ids


async def open_milestones(dsn: str) -> list[tuple[uuid.UUID, int]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT id, version FROM milestones WHERE status = 'pending' ORDER BY random()"
        )
    finally:
        await connection.close()
    return [(row["id"], row["version"]) for row in rows]


async def indicator_ids(dsn: str) -> list[uuid.UUID]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch("SELECT id FROM indicators ORDER BY random()")
    finally:
        await connection.close()
    return [row["id"] for row in rows]


# --- 1. change-to-rollup latency ----------------------------------------------


@dataclass
class Sent:
    """The changes that were answered with success, by kind."""

    milestone_ids: list[uuid.UUID]
    measurement_notes: list[str]
    achieved: float

    def __len__(self) -> int:
        return len(self.milestone_ids) + len(self.measurement_notes)


async def drive(
    api: str,
    milestones: list[tuple[uuid.UUID, int]],
    indicators: list[uuid.UUID],
    rate: float,
    seconds: float,
    connections: int = 16,
) -> Sent:
    """Send changes at ``rate`` per second: milestones PATCHed to done, and every
    :data:`MEASUREMENT_EVERY`-th a measurement POSTed to one of ``indicators``.

    Sent by the light generator of :mod:`bench.load`, which leaves the CPU to
    the processes being measured. A measurement is told apart by its ``note``
    (it is in its event's data).
    """
    count = int(rate * seconds)
    today = dt.date.today().isoformat()
    calls: list[Call] = []
    kinds: list[tuple[str, uuid.UUID | str]] = []
    for number in range(count):
        if number % MEASUREMENT_EVERY == MEASUREMENT_EVERY - 1:
            note = f"bench {uuid.uuid4().hex}"
            indicator_id = indicators[number % len(indicators)]
            calls.append(
                Call(
                    "POST",
                    f"/v1/indicators/{indicator_id}/measurements",
                    {"value": random.randint(0, 100), "on": today, "note": note},
                    headers=(("idempotency-key", note.split()[1]),),
                )
            )
            kinds.append(("measurement", note))
        elif milestones:
            milestone_id, version = milestones.pop()
            calls.append(
                Call(
                    "PATCH",
                    f"/v1/milestones/{milestone_id}",
                    {"status": "done"},
                    headers=(("if-match", f'"{version}"'),),
                )
            )
            kinds.append(("milestone", milestone_id))
    authorization = [("authorization", f"Bearer {KEY}")]
    result = await load.drive(api, calls, rate=rate, headers=authorization, connections=connections)
    for error in result.errors[:5]:
        print(f"  ! {error}")
    refused = {status: n for status, n in result.statuses.items() if status not in (200, 201)}
    if refused:
        print(f"  ! answers other than 200/201: {refused}")
    sent = Sent([], [], result.achieved)
    for (kind, key), status in zip(kinds, result.answers, strict=True):
        if kind == "milestone" and status == 200:
            sent.milestone_ids.append(key)  # type: ignore[arg-type]
        elif kind == "measurement" and status == 201:
            sent.measurement_notes.append(key)  # type: ignore[arg-type]
    return sent


# The rollups of the changes sent: milestones ($1) by id, measurements ($2) by note.
_SENT_ROLLUPS = """
    FROM outbox_events e
    JOIN processed_events p ON p.event_id = e.id AND p.consumer = 'rollups'
    WHERE (e.type = 'milestone.completed' AND (e.data->>'id')::uuid = ANY($1::uuid[]))
       OR (e.type = 'indicator.measured' AND e.data->'measurement'->>'note' = ANY($2::text[]))
"""


async def latencies(dsn: str, sent: Sent, within: float = 120) -> dict[str, list[float]]:
    """Seconds from each change's event to its rollup, by kind, once all are processed."""
    connection = await asyncpg.connect(dsn)
    query = f"""
        SELECT CASE WHEN e.type = 'indicator.measured' THEN 'measurement' ELSE 'milestone' END
               AS kind,
               extract(epoch FROM p.processed_at - e.occurred_at) AS seconds
        {_SENT_ROLLUPS}
    """
    try:
        deadline = time.monotonic() + within
        while True:
            rows = await connection.fetch(query, sent.milestone_ids, sent.measurement_notes)
            if len(rows) >= len(sent) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        await connection.close()
    if len(rows) < len(sent):
        print(f"  ! only {len(rows)} of {len(sent)} changes reached a rollup")
    by_kind: dict[str, list[float]] = {"milestone": [], "measurement": []}
    for row in rows:
        by_kind[row["kind"]].append(float(row["seconds"]))
    return by_kind


def figures(seconds: list[float]) -> str:
    return (
        f"p50 {percentile(seconds, 0.5) * 1000:7.1f} ms"
        f"  p99 {percentile(seconds, 0.99) * 1000:7.1f} ms"
        f"  max {max(seconds) * 1000:7.1f} ms"
    )


# --- 2. recompute time ----------------------------------------------------------


async def recompute_times(
    database_url: str, agreement_ids: list[uuid.UUID], runs: int
) -> list[float]:
    from shared.db import create_engine, create_sessionmaker
    from shared.rollups.store import recompute_agreement
    from shared.settings import Settings

    engine = create_engine(Settings(database_url=database_url))
    sessionmaker = create_sessionmaker(engine)
    times = []
    try:
        for number in range(runs + 10):
            agreement_id = random.choice(agreement_ids)
            started_at = time.perf_counter()
            async with sessionmaker() as session:
                await recompute_agreement(session, agreement_id)
                await session.commit()
            if number >= 10:  # the first ones warm the pool and caches
                times.append(time.perf_counter() - started_at)
    finally:
        await engine.dispose()
    return times


# --- the run --------------------------------------------------------------------


async def idle_load(
    groups: dict[str, int], seconds: float = IDLE_SECONDS
) -> tuple[dict[str, float] | None, dict[str, float] | None]:
    """The cores each group keeps busy with no load (over ``seconds``), and a
    snapshot at the end of that window; both None without ``/proc``."""
    if not cpu.available():
        return None, None
    first = cpu.snapshot(groups)
    await asyncio.sleep(seconds)
    second = cpu.snapshot(groups)
    return cpu.rates(first, second, seconds), second


async def rates_run(
    options: argparse.Namespace,
    api: str,
    dsn: str,
    milestones: list[tuple[uuid.UUID, int]],
    indicators: list[uuid.UUID],
    results: list[str],
    groups: dict[str, int],
) -> None:
    """Latency at each of ``options.rates``, its lines added to ``results``, with
    the CPU each process group (``groups``: name to group id) spent per change."""
    for rate in options.rates:
        print(f"latency at {rate:g} changes/s for {options.seconds:g} s", flush=True)
        idle, before = await idle_load(groups)
        serving = cpu.of_processes(groups["serve"]) if before is not None else {}
        started_at = time.monotonic()
        sent = await drive(api, milestones, indicators, rate, options.seconds, options.connections)
        by_kind = await latencies(dsn, sent)
        seconds = by_kind["milestone"] + by_kind["measurement"]
        if seconds:
            lines = [
                f"change -> rollup @ {rate:>4g}/s"
                f" (sent {sent.achieved:5.1f}/s, n={len(seconds)}): {figures(seconds)}"
            ]
            for kind, label in (("milestone", "milestones"), ("measurement", "measures")):
                if by_kind[kind]:
                    lines.append(
                        f"  {label:>10} (n={len(by_kind[kind]):4}): {figures(by_kind[kind])}"
                    )
            if before is not None:
                after = cpu.snapshot(groups)
                elapsed = time.monotonic() - started_at
                line = cpu.per_change(before, after, len(seconds), idle=idle, seconds=elapsed)
                lines.append("  " + line)
                # Uneven shares: one worker's core saturates before the machine's do.
                share = cpu.shares(serving, cpu.of_processes(groups["serve"]), elapsed)
                lines.append(f"  serve's processes (cores busy): {share}")
            results += lines
            print("\n".join("  " + line for line in lines), flush=True)


async def drain_rate(dsn: str, sent: Sent) -> str:
    """How fast the worker, started on a backlog of ``sent``, works it off:
    its changes over the span from the first rollup to the last."""
    by_kind = await latencies(dsn, sent)
    connection = await asyncpg.connect(dsn)
    try:
        span = await connection.fetchval(
            "SELECT extract(epoch FROM max(p.processed_at) - min(p.processed_at))" + _SENT_ROLLUPS,
            sent.milestone_ids,
            sent.measurement_notes,
        )
    finally:
        await connection.close()
    done = len(by_kind["milestone"]) + len(by_kind["measurement"])
    rate = done / float(span) if span else float("nan")
    return (
        f"worker alone on a backlog of {len(sent)} changes (sent {sent.achieved:5.1f}/s"
        f" without a worker): {done} rolled up at {rate:6.1f} changes/s"
    )


async def run(options: argparse.Namespace) -> int:
    admin_dsn = f"postgresql://{options.pg_user}@{HOST}:5432/postgres"
    dsn = f"postgresql://{options.pg_user}@{HOST}:5432/{DATABASE}"
    database_url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    vhost = f"accords_bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(admin_dsn)
    await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    await connection.close()
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCORDS_")}
    env.update(
        ACCORDS_DATABASE_URL=database_url,
        ACCORDS_BROKER_URL=f"amqp://guest:guest@{HOST}:5672/{vhost}",
        ACCORDS_BOOTSTRAP_API_KEY=KEY,
        ACCORDS_RATE_LIMIT_PER_MINUTE=str(10**9),
        ACCORDS_LOG_LEVEL="warning",
        ACCORDS_LOG_FORMAT="json",
        ACCORDS_SWEEP_INTERVAL_SECONDS="3600",
    )
    logs = Path(tempfile.mkdtemp(prefix="accords-bench-pipeline-"))
    results: list[str] = []
    try:
        migrate = [str(ACCORDS), "migrate"]
        await asyncio.to_thread(subprocess.run, migrate, env=env, check=True, capture_output=True)
        print(f"seeding {options.small} agreements", flush=True)
        small_ids = await seed(dsn, options.small)
        api = f"http://{HOST}:{options.port}"
        workers = str(options.serve_workers)
        serve = ["serve", "--host", HOST, "--port", str(options.port), "--workers", workers]
        worker = ["worker", "--processes", "1", "--threads", "8"]
        with started(serve, env, logs / "serve.log") as serving:
            await wait_ready(f"{api}/readyz")
            milestones = await open_milestones(dsn)
            indicators = await indicator_ids(dsn)
            with started(worker, env, logs / "worker.log") as working:
                await wait_consuming(vhost)
                groups = {"serve": serving.pid, "worker": working.pid}
                await rates_run(options, api, dsn, milestones, indicators, results, groups)
            if options.backlog:
                print(f"worker throughput: a backlog of {options.backlog} changes", flush=True)
                # Sent as fast as the API takes them, while no worker runs.
                seconds = options.backlog / BACKLOG_RATE
                sent = await drive(
                    api, milestones, indicators, BACKLOG_RATE, seconds, options.connections
                )
                with started(worker, env, logs / "worker-backlog.log"):
                    line = await drain_rate(dsn, sent)
                results.append(line)
                print("  " + line, flush=True)
        print(f"recompute time, portfolio of {options.small}", flush=True)
        small = await recompute_times(database_url, small_ids, options.recomputes)
        print(f"seeding up to {options.large} agreements", flush=True)
        await seed(dsn, options.large - options.small, start=options.small)
        print(f"recompute time, portfolio of {options.large}", flush=True)
        large = await recompute_times(database_url, small_ids, options.recomputes)
        for size, times in ((options.small, small), (options.large, large)):
            results.append(
                f"recompute one agreement, portfolio {size:>6}:"
                f" p50 {statistics.median(times) * 1000:6.2f} ms"
                f"  p99 {percentile(times, 0.99) * 1000:6.2f} ms"
            )
        results.append(
            f"recompute ratio {options.large}/{options.small} (p50): "
            f"{statistics.median(large) / statistics.median(small):.2f} (target <= 1.5)"
        )
    finally:
        with contextlib.suppress(Exception):
            rabbitmqctl("delete_vhost", vhost)
        with contextlib.suppress(Exception):
            connection = await asyncpg.connect(admin_dsn)
            await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            await connection.close()
    print()
    print(
        "pipeline (PostgreSQL, RabbitMQ, 1 worker process x 8 threads,"
        f" serve x {options.serve_workers}, {options.connections} connections)"
    )
    for line in results:
        print("  " + line)
    print(f"  logs: {logs}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rates", default="50,200", help="changes per second (50,200)")
    parser.add_argument("--seconds", type=float, default=10.0, help="each rate runs this long")
    parser.add_argument(
        "--backlog",
        type=int,
        default=1400,
        help="changes sent while no worker runs, then worked off by one (0: skip)",
    )
    parser.add_argument(
        "--connections", type=int, default=16, help="keep-alive connections the changes use"
    )
    parser.add_argument(
        "--serve-workers", type=int, default=2, help="processes of `accords serve` (2)"
    )
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--recomputes", type=int, default=200)
    parser.add_argument("--port", type=int, default=8110)
    parser.add_argument("--pg-user", default=os.environ.get("PGUSER") or getpass.getuser())
    options = parser.parse_args(argv)
    options.rates = [float(rate) for rate in options.rates.split(",")]
    return asyncio.run(run(options))


if __name__ == "__main__":
    sys.exit(main())
