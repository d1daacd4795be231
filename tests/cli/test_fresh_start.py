"""A fresh deploy always starts: several processes running the start-up steps at once.

`accords serve --workers N` with ``ACCORDS_BOOTSTRAP_API_KEY`` on a fresh
PostgreSQL database makes every uvicorn worker store the bootstrap key at the
same moment; replicas of a stack may run `accords migrate` at the same moment.
Each fresh database here is a copy of one migrated template (``CREATE DATABASE
... TEMPLATE``), so a start costs the processes and not the migration.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import _create_pg_database, drop_pg_database_later, migrated_pg_database, pg_url
from tests.live import (
    ACCORDS,
    accords_env,
    children_of,
    free_port,
    listens,
    sockets_of,
    tcp_inodes,
)
from tests.servers import POSTGRES, POSTGRES_ADMIN_URL

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STARTUP_COMPLETE = b"Application startup complete."


@pytest.fixture(scope="module")
async def template() -> AsyncIterator[str]:
    """A migrated, empty database the fresh ones are copied from."""
    async with migrated_pg_database("accords_fresh_tpl") as name:
        yield name


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def fresh_database(template: str) -> AsyncIterator[str]:
    name = f"accords_fresh_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield name
    finally:
        drop_pg_database_later(name)


@contextlib.contextmanager
def started(args: list[str], env: dict[str, str]) -> Iterator[tuple[subprocess.Popen, object]]:
    """An `accords` process with its stderr in a temporary file; stopped at the end."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [ACCORDS, *args], env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
        )
        try:
            yield process, log
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def wait_for_workers(  # type: ignore[no-untyped-def]
    process: subprocess.Popen, log, workers: int, port: int, timeout: float = 90
) -> None:
    """Until every uvicorn worker finished its start-up and the server listens
    on ``port``; fails if the server stopped.

    A worker says its start-up completed before it binds, so a server that
    then finds its port taken (another test's server picked the same free
    port) exits and says why here, rather than leave another process to answer.
    Generous: on a loaded machine four workers importing the app take a while.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log.seek(0)
        text = log.read()
        if process.poll() is not None:
            raise AssertionError(
                f"accords serve exited with {process.returncode}: "
                f"{text.decode(errors='replace')[-3000:]}"
            )
        if text.count(STARTUP_COMPLETE) >= workers and listens(process.pid, port):
            return
        time.sleep(0.1)
    log.seek(0)
    raise AssertionError(
        f"{workers} workers did not start and listen on {port} within {timeout} s: "
        f"{log.read().decode(errors='replace')[-3000:]}"
    )


def serve_args(port: int, workers: int) -> list[str]:
    return ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def env_for(database: str, key: str) -> dict[str, str]:
    env = accords_env(database_url=pg_url(database), bootstrap_api_key=key)
    env["ACCORDS_LOG_LEVEL"] = "info"  # uvicorn says when each worker's start-up completed
    return env


@dataclass
class Serving:
    """An `accords serve` whose workers are all up, on a fresh database."""

    process: subprocess.Popen
    log: Any
    port: int
    database: str
    key: str

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def serving(template: str, workers: int) -> AsyncIterator[Serving]:
    """`accords serve --workers N` with a bootstrap key on a fresh database,
    once every worker is up and it listens; stopped at the end."""
    key = "accords-fresh-" + uuid.uuid4().hex
    async with fresh_database(template) as database:
        port = free_port()
        with started(serve_args(port, workers), env_for(database, key)) as (process, log):
            await asyncio.to_thread(wait_for_workers, process, log, workers, port)
            yield Serving(process, log, port, database, key)


async def assert_key_works_and_was_stored_once(  # type: ignore[no-untyped-def]
    database: str, base: str, key: str, log=None
) -> None:
    """The key is accepted on eight requests and was stored once; with the
    server's ``log`` in the failure when a request gets no answer."""
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10
    ) as http:
        try:
            answers = [await http.get("/v1/api-keys") for _ in range(8)]
        except httpx.HTTPError as exc:
            told = ""
            if log is not None:
                log.seek(0)
                told = log.read().decode(errors="replace")[-3000:]
            raise AssertionError(f"{base}: {exc!r}; the server's log: {told}") from exc
    assert [answer.status_code for answer in answers] == [200] * 8
    connection = await asyncpg.connect(pg_url(database).replace("+asyncpg", ""))
    try:
        keys = await connection.fetchval("SELECT count(*) FROM api_keys")
        audits = await connection.fetchval(
            "SELECT count(*) FROM audit_log WHERE entity_type = 'api_key'"
        )
    finally:
        await connection.close()
    assert (keys, audits) == (1, 1)


async def test_five_fresh_starts_of_four_workers_with_a_bootstrap_key_all_come_up(
    template: str,
) -> None:
    # Twenty workers racing to store the same key on fresh databases (five times
    # four). Ten starts took 75-124 s of a suite that must stay under 10 minutes
    # on two cores; the race is also run by the twin servers below.
    for _ in range(5):
        async with serving(template, 4) as server:
            await assert_key_works_and_was_stored_once(
                server.database, server.base, server.key, server.log
            )
            assert server.process.poll() is None


async def test_two_servers_started_at_the_same_instant_on_a_fresh_database_both_come_up(
    template: str,
) -> None:
    for _ in range(2):
        key = "accords-fresh-" + uuid.uuid4().hex
        async with fresh_database(template) as database:
            env = env_for(database, key)
            ports = [free_port(), free_port()]
            with (
                started(serve_args(ports[0], 1), env) as (first, first_log),
                started(serve_args(ports[1], 1), env) as (second, second_log),
            ):
                await asyncio.to_thread(wait_for_workers, first, first_log, 1, ports[0])
                await asyncio.to_thread(wait_for_workers, second, second_log, 1, ports[1])
                for port, log in zip(ports, (first_log, second_log), strict=True):
                    await assert_key_works_and_was_stored_once(
                        database, f"http://127.0.0.1:{port}", key, log
                    )


def migrate_twice_at_once(env: dict[str, str]) -> tuple[list[int], list[str]]:
    runs = [
        subprocess.Popen(
            [ACCORDS, "migrate"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    errors = [run.communicate(timeout=120)[1].decode()[-2000:] for run in runs]
    return [run.returncode for run in runs], errors


async def test_two_migrations_started_at_the_same_instant_on_an_empty_database_both_succeed() -> (
    None
):
    POSTGRES.require()
    name = f"accords_fresh_mig_{uuid.uuid4().hex[:8]}"
    await _create_pg_database(name)
    try:
        env = accords_env(database_url=pg_url(name))
        codes, errors = await asyncio.to_thread(migrate_twice_at_once, env)
        assert codes == [0, 0], errors
        connection = await asyncpg.connect(pg_url(name).replace("+asyncpg", ""))
        try:
            versions = await connection.fetch("SELECT version_num FROM alembic_version")
        finally:
            await connection.close()
        assert len(versions) == 1
    finally:
        drop_pg_database_later(name)


def _command_line(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as raw:
        return [part.decode() for part in raw.read().split(b"\0") if part]


async def test_serve_forks_its_workers_from_the_imported_app_and_stops_them_on_sigterm(
    template: str,
) -> None:
    """Workers are forked from the supervisor (services.api.forked_workers), not
    spawned as new interpreters that import everything again: a spawned worker's
    command line is multiprocessing's ``spawn_main``, a forked one's is the
    supervisor's own. Each serves requests; SIGTERM stops every one."""
    async with serving(template, 3) as server:
        process = server.process
        workers = children_of(process.pid)
        assert len(workers) == 3
        supervisor_line = _command_line(process.pid)
        for worker in workers:
            line = _command_line(worker)
            assert not any("spawn_main" in part for part in line), line
            assert line == supervisor_line
        await assert_key_works_and_was_stored_once(
            server.database, server.base, server.key, server.log
        )

        os.killpg(process.pid, signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
        assert all(_gone(worker) for worker in workers)
        server.log.seek(0)
        assert server.log.read().count(b"Finished server process") == 3


def _gone(pid: int) -> bool:
    """No such process, or one that has exited (a zombie until reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


# --- each forked worker listens on a socket of its own ---------------------------


async def _open_answered(port: int, count: int) -> list[asyncio.StreamWriter]:
    """``count`` keep-alive connections opened at once, each answered once."""

    async def one() -> asyncio.StreamWriter:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        status = await asyncio.wait_for(reader.readline(), 10)
        assert status.startswith(b"HTTP/1.1 200"), status
        return writer

    return list(await asyncio.gather(*(one() for _ in range(count))))


def _spread(port: int, workers: list[int]) -> list[int]:
    """How many established connections on ``port`` each worker holds."""
    established = tcp_inodes(port, "01")
    return [len(sockets_of(worker) & established) for worker in workers]


async def test_forked_workers_listen_on_their_own_sockets_so_connections_spread_over_them(
    template: str,
) -> None:
    """uvicorn shares one listening socket, and the worker that wakes first
    accepts every connection waiting. Forked workers each listen on their own
    (SO_REUSEPORT): 32 connections opened at once reach both, and a worker
    killed and restarted by the supervisor listens again on a new one."""
    async with serving(template, 2) as server:
        process, port = server.process, server.port
        workers = children_of(process.pid)
        listening = tcp_inodes(port, "0A")
        own = [sockets_of(worker) & listening for worker in workers]
        assert [len(sockets) for sockets in own] == [1, 1]
        assert own[0] != own[1]
        # The supervisor holds the port but does not listen: nothing waits on it.
        assert not sockets_of(process.pid) & listening

        writers = await _open_answered(port, 32)
        spread = _spread(port, workers)
        assert sum(spread) == 32 and min(spread) > 0, spread
        for writer in writers:
            writer.close()

        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            current = children_of(process.pid)
            if workers[0] not in current and len(current) == 2:
                fresh = next(pid for pid in current if pid not in workers)
                if sockets_of(fresh) & tcp_inodes(port, "0A"):
                    break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"no worker restarted and listening: {children_of(process.pid)}")
        writers = await _open_answered(port, 32)
        spread = _spread(port, current)
        assert sum(spread) == 32 and min(spread) > 0, spread
        for writer in writers:
            writer.close()


@pytest.mark.parametrize("shared", [False, True], ids=["plain", "port-sharing"])
def test_serve_on_a_port_taken_exits_with_uvicorns_start_up_failure(shared: bool) -> None:
    """A port another process listens on: the supervisor says so and exits 3,
    also when that listener shares its port (another `accords serve`), which
    would otherwise get part of this one's connections."""
    with socket.socket() as taken:
        if shared:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = accords_env(database_url=pg_url("test"))
        done = subprocess.run(
            [ACCORDS, *serve_args(port, 2)], env=env, capture_output=True, timeout=60
        )
    assert done.returncode == 3
    assert b"bind_failed" in done.stderr and b"Address already in use" in done.stderr
