"""Measure the Accords API against the floor for its stack.

    python -m bench.run                      # everything (what `make bench` runs)
    python -m bench.run --only api           # skip the floor
    python -m bench.run --scenario agreement-by-id --duration 30s
    python -m bench.run --list

Steps: make sure wrk is installed; recreate the ``accords_bench`` database on
the local PostgreSQL; ``accords migrate``; ``accords api-keys create``; start
``accords serve`` (port 8100) and :mod:`bench.floor` (port 8101), both under
uvicorn with two workers; seed organizations and agreements through the API;
then, for every scenario and target, a short wrk warm-up followed by a
measured wrk run. Prints requests per second, the ratio to the floor, and
p50 / p99 latency. Servers are stopped and the database dropped at the end,
whatever happens. Only loopback addresses are used.

To add a scenario, append a :class:`Scenario` to :data:`SCENARIOS`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import getpass
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from bench.seed import Dataset, seed
from bench.servers import Servers, wait_until_ready
from bench.wrk import WrkResult, ensure_wrk, is_duration, run_wrk

REPO_ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = REPO_ROOT / "var" / "bench"
# The console script installed next to this interpreter, not whatever is on PATH.
ACCORDS = Path(sys.executable).parent / "accords"

HOST = "127.0.0.1"  # loopback only: the servers, PostgreSQL and wrk's target
DATABASE = "accords_bench"


@dataclasses.dataclass(frozen=True)
class Target:
    """A server under test."""

    name: str  # "accords" or "floor"
    port: int
    ready_path: str
    headers: dict[str, str]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One request shape, sent to the API and to the floor.

    ``api_paths`` and ``floor_paths`` return the request paths for each side;
    with more than one path, wrk cycles through them (bench/paths.lua).
    """

    name: str
    description: str
    api_paths: Callable[[Dataset], list[str]]
    floor_paths: Callable[[Dataset], list[str]]

    def paths_for(self, target: Target, dataset: Dataset) -> list[str]:
        return self.api_paths(dataset) if target.name == "accords" else self.floor_paths(dataset)


SCENARIOS: list[Scenario] = [
    Scenario(
        name="agreement-by-id",
        description="GET one agreement with its parties, cycling over all seeded ids",
        api_paths=lambda data: [f"/v1/agreements/{id_}" for id_ in data.agreement_ids],
        floor_paths=lambda data: [f"/agreements/{id_}" for id_ in data.agreement_ids],
    ),
    Scenario(
        name="agreements-page-50",
        description="GET the first page of 50 agreements, each with its parties",
        api_paths=lambda data: ["/v1/agreements?limit=50"],
        floor_paths=lambda data: ["/agreements?limit=50"],
    ),
]


@dataclasses.dataclass(frozen=True)
class BenchOptions:
    only: str | None  # a target name, or None for both
    scenarios: list[Scenario]
    threads: int
    connections: int
    duration: str
    warmup: str
    organizations: int
    agreements: int
    workers: int
    api_port: int
    floor_port: int
    pg_port: int
    pg_user: str
    admin_database: str
    keep_database: bool
    json_path: Path | None
    max_seconds: int
    redis_url: str | None

    def dsn(self, database: str) -> str:
        return f"postgresql://{self.pg_user}@{HOST}:{self.pg_port}/{database}"


# --- PostgreSQL and the accords CLI -------------------------------------------


async def recreate_database(options: BenchOptions) -> None:
    connection = await asyncpg.connect(options.dsn(options.admin_database), timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()


async def drop_database(options: BenchOptions) -> None:
    connection = await asyncpg.connect(options.dsn(options.admin_database), timeout=10)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    finally:
        await connection.close()


def accords_environment(options: BenchOptions) -> dict[str, str]:
    """The API's settings for the run: the bench database, quiet logs, no 429s.

    No ACCORDS_BROKER_URL: the API answers reads without the broker, and
    nothing the seeding enqueues should land on a broker shared with tests.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("ACCORDS_")}
    env.update(
        ACCORDS_DATABASE_URL=(
            f"postgresql+asyncpg://{options.pg_user}@{HOST}:{options.pg_port}/{DATABASE}"
        ),
        ACCORDS_LOG_LEVEL="warning",
        ACCORDS_LOG_FORMAT="json",
        # The limiter still runs on every request; it must just never answer 429.
        ACCORDS_RATE_LIMIT_PER_MINUTE=str(10**9),
        ACCORDS_ENVIRONMENT="production",
    )
    if options.redis_url:
        # Rate-limit counters in Redis instead of the database.
        env["ACCORDS_REDIS_URL"] = options.redis_url
    return env


def run_accords(args: list[str], env: dict[str, str], *, timeout: float) -> str:
    completed = subprocess.run(
        [str(ACCORDS), *args],
        env=env,
        cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"accords {' '.join(args)} failed ({completed.returncode}):\n"
            f"{completed.stdout}\n{completed.stderr}"
        )
    return completed.stdout


def create_api_key(env: dict[str, str]) -> str:
    """A read/write key; the CLI prints the raw key alone on its last line."""
    stdout = run_accords(
        ["api-keys", "create", "--name", "bench", "--scope", "read", "--scope", "write"],
        env,
        timeout=60,
    )
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError("accords api-keys create printed nothing")
    return lines[-1]


def check_responses(targets: list[Target], dataset: Dataset, scenarios: list[Scenario]) -> None:
    """Each side answers 200 to every scenario's first path before anything is measured."""
    for scenario in scenarios:
        for target in targets:
            path = scenario.paths_for(target, dataset)[0]
            request = urllib.request.Request(f"{target.base_url}{path}", headers=target.headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    body = response.read()
            except urllib.error.HTTPError as error:
                raise RuntimeError(
                    f"{target.name} answered {error.code} to GET {path}: {error.read()[:1000]!r}"
                ) from error
            document = json.loads(body)
            shape = (
                f"{len(document['items'])} items" if "items" in document else f"id {document['id']}"
            )
            print(f"  {scenario.name:<22} {target.name:<8} 200, {len(body):>6} bytes, {shape}")


# --- measuring and reporting --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Measurement:
    scenario: str
    target: str
    result: WrkResult


def measure(
    wrk: str, targets: list[Target], dataset: Dataset, options: BenchOptions, workdir: Path
) -> list[Measurement]:
    measurements = []
    for scenario in options.scenarios:
        for target in targets:
            paths = scenario.paths_for(target, dataset)
            for phase, duration in (("warm-up", options.warmup), ("measure", options.duration)):
                print(f"  {scenario.name} -> {target.name}: {phase} {duration}", flush=True)
                result = run_wrk(
                    wrk,
                    target.base_url,
                    paths,
                    headers=target.headers,
                    threads=options.threads,
                    connections=options.connections,
                    duration=duration,
                    workdir=workdir,
                )
            measurements.append(Measurement(scenario.name, target.name, result))
    return measurements


def render_table(measurements: list[Measurement], scenarios: list[Scenario]) -> str:
    by_key = {(m.scenario, m.target): m.result for m in measurements}
    header = [
        "scenario",
        "accords req/s",
        "floor req/s",
        "ratio",
        "accords p50",
        "accords p99",
        "floor p50",
        "floor p99",
    ]
    rows = [header]
    for scenario in scenarios:
        api = by_key.get((scenario.name, "accords"))
        floor = by_key.get((scenario.name, "floor"))
        ratio = "-"
        if api and floor and floor.requests_per_second:
            ratio = f"{api.requests_per_second / floor.requests_per_second:.2f}"
        rows.append(
            [
                scenario.name,
                f"{api.requests_per_second:,.0f}" if api else "-",
                f"{floor.requests_per_second:,.0f}" if floor else "-",
                ratio,
                f"{api.p50_ms:.2f} ms" if api else "-",
                f"{api.p99_ms:.2f} ms" if api else "-",
                f"{floor.p50_ms:.2f} ms" if floor else "-",
                f"{floor.p99_ms:.2f} ms" if floor else "-",
            ]
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = []
    for number, row in enumerate(rows):
        cells = [
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(" | ".join(cells))
        if number == 0:
            lines.append("-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def report(measurements: list[Measurement], options: BenchOptions, elapsed: float) -> int:
    """Print the table and any errors; non-zero when a run saw error responses."""
    print()
    print(render_table(measurements, options.scenarios))
    print()
    errors = [
        f"{m.scenario} -> {m.target}: {m.result.non_2xx} of {m.result.requests} responses not 2xx"
        for m in measurements
        if m.result.non_2xx
    ]
    socket_errors = [
        f"{m.scenario} -> {m.target}: {m.result.socket_errors} socket errors"
        for m in measurements
        if m.result.socket_errors
    ]
    for line in errors + socket_errors:
        print(f"! {line}")
    print(
        f"wrk -t{options.threads} -c{options.connections} -d{options.duration}; "
        f"{options.workers} uvicorn workers per server; rate-limit counters in "
        f"{'Redis' if options.redis_url else 'PostgreSQL'}; {os.cpu_count()} cores shared by "
        f"wrk and the servers; {elapsed:.0f}s in all"
    )
    if options.json_path:
        rows = [
            {"scenario": m.scenario, "target": m.target, **dataclasses.asdict(m.result)}
            for m in measurements
        ]
        options.json_path.write_text(json.dumps(rows, indent=2) + "\n")
    # Figures over error responses measure the wrong thing.
    return 1 if errors else 0


# --- the run ------------------------------------------------------------------


class BenchTimeout(Exception):
    """The whole run took longer than --max-seconds."""


def _interrupt(signum: int, _frame: object) -> None:
    if signum == signal.SIGALRM:
        raise BenchTimeout("the benchmark ran past --max-seconds")
    raise KeyboardInterrupt(f"signal {signum}")


def _ensure_port_free(port: int) -> None:
    """Fail before starting rather than measure whatever already listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: connections of an earlier run still in TIME_WAIT don't count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise RuntimeError(f"{HOST}:{port} is taken ({error}); pick another port") from None


def _serve_command(options: BenchOptions) -> list[str]:
    return [
        str(ACCORDS),
        "serve",
        "--host",
        HOST,
        "--port",
        str(options.api_port),
        "--workers",
        str(options.workers),
    ]


def _floor_command(options: BenchOptions) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.floor:app",
        "--host",
        HOST,
        "--port",
        str(options.floor_port),
        "--workers",
        str(options.workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def run(options: BenchOptions) -> int:
    # SIGTERM and the overall deadline unwind through the finally below, which
    # stops the servers; a plain SIGTERM would skip it.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGALRM, _interrupt)
    signal.alarm(options.max_seconds)
    started = time.monotonic()
    servers = Servers(cwd=REPO_ROOT, log_dir=LOG_DIR)
    database_created = False
    try:
        wrk = ensure_wrk()
        if not ACCORDS.exists():
            sys.exit(f"{ACCORDS} not found: install the project in this environment first")
        env = accords_environment(options)

        print(f"recreating database {DATABASE} on {HOST}:{options.pg_port}", flush=True)
        asyncio.run(recreate_database(options))
        database_created = True
        print("accords migrate", flush=True)
        run_accords(["migrate"], env, timeout=180)
        api_key = create_api_key(env)
        auth = {"Authorization": f"Bearer {api_key}"}

        # Both servers always start: the API seeds the data that the floor reads.
        for port in (options.api_port, options.floor_port):
            _ensure_port_free(port)
        print(f"starting accords on :{options.api_port} and the floor on :{options.floor_port}")
        servers.start("accords", _serve_command(options), env)
        servers.start(
            "floor", _floor_command(options), {**env, "ACCORDS_BENCH_DSN": options.dsn(DATABASE)}
        )
        api = Target("accords", options.api_port, "/readyz", auth)
        floor = Target("floor", options.floor_port, "/healthz", auth)  # same request bytes
        for target in (api, floor):
            wait_until_ready(servers, target.name, f"{target.base_url}{target.ready_path}")

        print(f"seeding {options.organizations} organizations and {options.agreements} agreements")
        seed_started = time.monotonic()
        dataset = asyncio.run(
            seed(
                api.base_url,
                api_key,
                organizations=options.organizations,
                agreements=options.agreements,
            )
        )
        print(f"  seeded in {time.monotonic() - seed_started:.1f}s")

        targets = [target for target in (api, floor) if options.only in (None, target.name)]
        print("checking responses")
        check_responses(targets, dataset, options.scenarios)

        print(f"running wrk (warm-up {options.warmup}, then {options.duration} measured)")
        with tempfile.TemporaryDirectory(prefix="accords-bench-") as workdir:
            measurements = measure(wrk, targets, dataset, options, Path(workdir))
        servers.check_alive()
    finally:
        signal.alarm(0)
        servers.stop_all()
        if database_created and not options.keep_database:
            with contextlib.suppress(Exception):
                asyncio.run(drop_database(options))
    return report(measurements, options, time.monotonic() - started)


def parse_options(argv: Sequence[str] | None = None) -> BenchOptions:
    by_name = {scenario.name: scenario for scenario in SCENARIOS}
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--only", choices=["api", "floor"], help="measure one side only")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted(by_name),
        help="run this scenario (repeatable; default: all)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("--duration", default="10s", help="each measured wrk run (10s)")
    parser.add_argument("--warmup", default="3s", help="wrk warm-up before each run (3s)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers per server (2)")
    parser.add_argument("--organizations", type=int, default=40)
    parser.add_argument("--agreements", type=int, default=200)
    parser.add_argument("--api-port", type=int, default=8100)
    parser.add_argument("--floor-port", type=int, default=8101)
    parser.add_argument("--pg-port", type=int, default=5432, help="PostgreSQL on 127.0.0.1")
    parser.add_argument(
        "--pg-user", default=os.environ.get("PGUSER") or getpass.getuser(), help="PostgreSQL role"
    )
    parser.add_argument(
        "--admin-database", default="postgres", help="database to connect to for CREATE DATABASE"
    )
    parser.add_argument("--keep-database", action="store_true", help=f"keep {DATABASE} afterwards")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write results here")
    parser.add_argument(
        "--max-seconds", type=int, default=900, help="stop everything after this long (900)"
    )
    parser.add_argument(
        "--redis-url",
        help="keep rate-limit counters in this Redis (loopback only), e.g. "
        "redis://127.0.0.1:6379/15; default: in PostgreSQL, as docker-compose.yml does",
    )
    args = parser.parse_args(argv)
    if args.list:
        for scenario in SCENARIOS:
            print(f"{scenario.name:<22} {scenario.description}")
        sys.exit(0)
    if args.redis_url and urlsplit(args.redis_url).hostname not in (
        "127.0.0.1",
        "localhost",
        "::1",
    ):
        parser.error("--redis-url must point at a loopback address")
    for duration in (args.duration, args.warmup):
        if not is_duration(duration):
            parser.error(f"not a wrk duration: {duration!r} (e.g. 10s, 500ms, 1m)")
    return BenchOptions(
        only={"api": "accords", "floor": "floor"}.get(args.only) if args.only else None,
        scenarios=[by_name[name] for name in args.scenario] if args.scenario else list(SCENARIOS),
        threads=args.threads,
        connections=args.connections,
        duration=args.duration,
        warmup=args.warmup,
        organizations=args.organizations,
        agreements=args.agreements,
        workers=args.workers,
        api_port=args.api_port,
        floor_port=args.floor_port,
        pg_port=args.pg_port,
        pg_user=args.pg_user,
        admin_database=args.admin_database,
        keep_database=args.keep_database,
        json_path=args.json_path,
        max_seconds=args.max_seconds,
        redis_url=args.redis_url,
    )


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        return run(options)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped", file=sys.stderr)
        return 130
    except (BenchTimeout, RuntimeError, subprocess.TimeoutExpired) as error:
        # Servers are already stopped; the message carries what is needed (logs included).
        print(f"\nbench failed: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
