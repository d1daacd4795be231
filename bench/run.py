"""Measure the Accords API against the floor of SPEC §15, route by route.

    python -m bench.run                      # everything (what `make bench` runs)
    python -m bench.run --scenario agreement-by-id --duration 10s
    python -m bench.run --connections 16 --list

Steps: make sure wrk is installed; recreate the ``accords_bench`` database on
the local PostgreSQL; ``accords migrate``; ``accords api-keys create``; start
``accords serve`` (port 8100) and :mod:`bench.floor` (port 8101), both under
uvicorn with two workers; seed organizations, agreements, initiatives and
milestones through the API; store the rollups and number the feed as the
worker would; sign in to the dashboard; copy the API's answer to every path
measured into the floor's table. Then, for every scenario (bench/scenarios.py),
at every connection count and for each target, a short wrk warm-up followed by
a measured wrk run. Prints requests per second, the ratio to the floor, and
p50 / p99 latency. Servers are stopped and the database dropped at the end,
whatever happens. Only loopback addresses are used.
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
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from bench import prepare
from bench.scenarios import CREATE, READS, Scenario
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

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclasses.dataclass(frozen=True)
class BenchOptions:
    only: str | None  # a target name, or None for both
    scenarios: list[Scenario]  # reads; CREATE is among them when measured
    threads: int
    connections: list[int]
    duration: str
    warmup: str
    organizations: int
    agreements: int
    initiatives: int
    milestones: int
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
    response_cache: bool

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
        ACCORDS_SECRET_KEY="bench-" + os.urandom(16).hex(),
        ACCORDS_IATI_REPORTING_ORG_REF="XM-DAC-00000-BENCH",
        ACCORDS_IATI_REPORTING_ORG_TYPE="10",
        ACCORDS_IATI_REPORTING_ORG_NAME="Bench Reporting Organisation",
    )
    if not options.response_cache:
        # Every request through its route (services.api.response_cache off).
        env["ACCORDS_RESPONSE_CACHE_MB"] = "0"
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


# --- measuring and reporting --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Measurement:
    scenario: str
    connections: int
    target: str
    result: WrkResult


def measure(
    wrk: str,
    targets: list[Target],
    dataset: Dataset,
    options: BenchOptions,
    headers: dict[str, str],
    workdir: Path,
) -> list[Measurement]:
    measurements = []
    create_body = prepare.agreement_for_create(dataset)
    for scenario in options.scenarios:
        paths = scenario.paths(dataset)
        for connections in options.connections:
            for target in targets:
                for phase, duration in (("warm-up", options.warmup), ("measure", options.duration)):
                    print(
                        f"  {scenario.name} x{connections} -> {target.name}: {phase} {duration}",
                        flush=True,
                    )
                    result = run_wrk(
                        wrk,
                        target.base_url,
                        paths,
                        headers=headers,
                        threads=options.threads,
                        connections=connections,
                        duration=duration,
                        workdir=workdir,
                        create_body=create_body if scenario is CREATE else None,
                    )
                measurements.append(Measurement(scenario.name, connections, target.name, result))
    return measurements


def render_table(measurements: list[Measurement], options: BenchOptions) -> str:
    by_key = {(m.scenario, m.connections, m.target): m.result for m in measurements}
    header = ["scenario", "conns", "accords req/s", "floor req/s", "ratio"]
    header += ["accords p50", "accords p99", "floor p50", "floor p99"]
    rows = [header]
    for scenario in options.scenarios:
        for connections in options.connections:
            api = by_key.get((scenario.name, connections, "accords"))
            floor = by_key.get((scenario.name, connections, "floor"))
            ratio = "-"
            if api and floor and floor.requests_per_second:
                ratio = f"{api.requests_per_second / floor.requests_per_second:.2f}"
            rows.append(
                [
                    scenario.name,
                    str(connections),
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
    print(render_table(measurements, options))
    print()
    floors = {(m.scenario, m.connections): m for m in measurements if m.target == "floor"}
    below = [
        m
        for m in measurements
        if m.target == "accords"
        and (floor := floors.get((m.scenario, m.connections))) is not None
        and m.result.requests_per_second < 0.3 * floor.result.requests_per_second
    ]
    for m in below:
        print(f"! {m.scenario} x{m.connections}: below 0.3 of the floor")
    errors = [
        f"{m.scenario} x{m.connections} -> {m.target}: "
        f"{m.result.non_2xx} of {m.result.requests} responses not 2xx"
        for m in measurements
        if m.result.non_2xx
    ]
    socket_errors = [
        f"{m.scenario} x{m.connections} -> {m.target}: {m.result.socket_errors} socket errors"
        for m in measurements
        if m.result.socket_errors
    ]
    for line in errors + socket_errors:
        print(f"! {line}")
    print(
        f"wrk -t{options.threads} -c{'/'.join(map(str, options.connections))} "
        f"-d{options.duration}; {options.workers} uvicorn workers per server; rate-limit "
        f"counters in {'Redis' if options.redis_url else 'PostgreSQL'}; response cache "
        f"{'on' if options.response_cache else 'off'}; {os.cpu_count()} cores "
        f"shared by wrk, PostgreSQL and the servers; load before the run "
        f"{os.getloadavg()[0]:.2f}; {elapsed:.0f}s in all"
    )
    if options.json_path:
        rows = [
            {
                "scenario": m.scenario,
                "connections": m.connections,
                "target": m.target,
                **dataclasses.asdict(m.result),
            }
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
        "bench.floor",
        "--host",
        HOST,
        "--port",
        str(options.floor_port),
        "--workers",
        str(options.workers),
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

        # Both servers always start: the API seeds the data that the floor serves.
        for port in (options.api_port, options.floor_port):
            _ensure_port_free(port)
        print(f"starting accords on :{options.api_port} and the floor on :{options.floor_port}")
        servers.start("accords", _serve_command(options), env)
        servers.start(
            "floor", _floor_command(options), {**env, "ACCORDS_BENCH_DSN": options.dsn(DATABASE)}
        )
        api = Target("accords", options.api_port, "/readyz")
        floor = Target("floor", options.floor_port, "/healthz")
        for target in (api, floor):
            wait_until_ready(servers, target.name, f"{target.base_url}{target.ready_path}")

        print(
            f"seeding {options.organizations} organizations, {options.agreements} agreements, "
            f"{options.initiatives} initiatives and {options.milestones} milestones each"
        )
        seed_started = time.monotonic()
        dataset = asyncio.run(
            seed(
                api.base_url,
                api_key,
                organizations=options.organizations,
                agreements=options.agreements,
                initiatives_per_agreement=options.initiatives,
                milestones_per_initiative=options.milestones,
            )
        )
        print(f"  seeded in {time.monotonic() - seed_started:.1f}s")
        print("storing rollups and numbering the feed (the worker's part)")
        asyncio.run(prepare.run_worker_steps(env["ACCORDS_DATABASE_URL"], dataset.agreement_ids))
        # The same request bytes go to both servers: the key, and a dashboard session.
        headers = {"Authorization": f"Bearer {api_key}"}
        headers["Cookie"] = asyncio.run(prepare.sign_in(api.base_url, api_key))
        dataset = dataclasses.replace(
            dataset, feed_after=asyncio.run(prepare.feed_position(api.base_url, headers))
        )
        reads = [scenario for scenario in options.scenarios if scenario is not CREATE]
        print("copying the API's answers to the floor")
        sizes = asyncio.run(
            prepare.copy_answers_to_floor(
                api.base_url,
                headers,
                (path for scenario in reads for path in scenario.paths(dataset)),
                options.dsn(DATABASE),
            )
        )
        for scenario in reads:
            paths = scenario.paths(dataset)
            mean = sum(sizes[path] for path in paths) / len(paths)
            print(f"  {scenario.name:<26} {len(paths):>4} paths, {mean:>8,.0f} bytes on average")

        targets = [target for target in (api, floor) if options.only in (None, target.name)]
        print(f"running wrk (warm-up {options.warmup}, then {options.duration} measured)")
        with tempfile.TemporaryDirectory(prefix="accords-bench-") as workdir:
            measurements = measure(wrk, targets, dataset, options, headers, Path(workdir))
        servers.check_alive()
    finally:
        signal.alarm(0)
        servers.stop_all()
        if database_created and not options.keep_database:
            with contextlib.suppress(Exception):
                asyncio.run(drop_database(options))
    return report(measurements, options, time.monotonic() - started)


def parse_options(argv: Sequence[str] | None = None) -> BenchOptions:
    scenarios = [*READS, CREATE]
    by_name = {scenario.name: scenario for scenario in scenarios}
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
    parser.add_argument(
        "--no-response-cache",
        action="store_true",
        help="turn the API's response cache off: every request through its route",
    )
    parser.add_argument("--duration", default="5s", help="each measured wrk run (5s)")
    parser.add_argument("--warmup", default="2s", help="wrk warm-up before each run (2s)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--connections", default="16,64", help="wrk connections, comma-separated (16,64)"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers per server (2)")
    parser.add_argument("--organizations", type=int, default=40)
    parser.add_argument("--agreements", type=int, default=200)
    parser.add_argument("--initiatives", type=int, default=2, help="per agreement (2)")
    parser.add_argument("--milestones", type=int, default=3, help="per initiative (3)")
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
        "--max-seconds", type=int, default=1800, help="stop everything after this long (1800)"
    )
    parser.add_argument(
        "--redis-url",
        help="keep rate-limit counters in this Redis (loopback only), e.g. "
        "redis://127.0.0.1:6379/15; default: in PostgreSQL, as docker-compose.yml does",
    )
    args = parser.parse_args(argv)
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.name:<26} {scenario.description}")
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
    try:
        connections = [int(part) for part in args.connections.split(",")]
    except ValueError:
        parser.error(f"not a list of connection counts: {args.connections!r}")
    if args.initiatives < 1 or args.milestones < 1 or args.agreements < 50:
        parser.error("the scenarios need at least 50 agreements, 1 initiative and 1 milestone")
    return BenchOptions(
        only={"api": "accords", "floor": "floor"}.get(args.only) if args.only else None,
        scenarios=[by_name[name] for name in args.scenario] if args.scenario else scenarios,
        threads=args.threads,
        connections=connections,
        duration=args.duration,
        warmup=args.warmup,
        organizations=args.organizations,
        agreements=args.agreements,
        initiatives=args.initiatives,
        milestones=args.milestones,
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
        response_cache=not args.no_response_cache,
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
