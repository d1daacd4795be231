"""The `accords` command as an operator runs it, in real subprocesses."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.live import ACCORDS, accords_env, free_port, running

pytestmark = pytest.mark.slow


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ACCORDS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return accords_env(database_url=f"sqlite:///{tmp_path / 'cli.db'}")


def test_migrate_then_create_key_prints_the_key_last(tmp_path, sqlite_env) -> None:
    migrated = run(["migrate"], sqlite_env, tmp_path)
    created = run(
        ["api-keys", "create", "--name", "ops", "--scope", "read", "--scope", "write"],
        sqlite_env,
        tmp_path,
    )

    assert migrated.returncode == 0, migrated.stderr
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("acc_")
    assert key not in created.stderr


def test_unknown_scope_is_refused(tmp_path, sqlite_env) -> None:
    run(["migrate"], sqlite_env, tmp_path)

    result = run(["api-keys", "create", "--name", "x", "--scope", "root"], sqlite_env, tmp_path)

    assert result.returncode == 2


def test_demo_loads_once(tmp_path, sqlite_env) -> None:
    run(["migrate"], sqlite_env, tmp_path)

    first = run(["demo"], sqlite_env, tmp_path)
    second = run(["demo"], sqlite_env, tmp_path)

    assert first.returncode == 0, first.stderr
    assert "Loaded" in first.stderr
    assert "already loaded" in second.stderr


def test_dev_serves_docs_and_its_printed_key_creates_an_organization(tmp_path) -> None:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("ACCORDS_")}
    base = f"http://127.0.0.1:{port}"
    dev = ["dev", "--port", str(port)]
    with running(dev, env, cwd=tmp_path, capture_stdout=True, stop_within=20) as launched:
        key = launched.stdout.readline().decode().strip() if launched.stdout else ""
        docs = _get_when_up(f"{base}/docs")
        created = httpx.post(
            f"{base}/v1/organizations",
            json={
                "name": "Special Technology Zones Authority",
                "kind": "government_agency",
                "country": "PK",
            },
            headers={"Authorization": f"Bearer {key}"},
        )

    assert docs.status_code == 200
    assert created.status_code == 201, created.text
    assert (tmp_path / "var" / "accords.db").exists()


def _get_when_up(url: str) -> httpx.Response:
    import time

    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_cli_help_lists_the_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "--help"], capture_output=True, text=True
    )

    for command in ("dev", "serve", "worker", "migrate", "api-keys", "dead-letters", "demo"):
        assert command in result.stdout


def test_dead_letters_are_listed_and_replayed(tmp_path, sqlite_env) -> None:
    run(["migrate"], sqlite_env, tmp_path)
    letter_id = asyncio.run(_store_dead_letter(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"))

    listed = run(["dead-letters", "list"], sqlite_env, tmp_path)
    replayed = run(["dead-letters", "replay", str(letter_id)], sqlite_env, tmp_path)
    again = run(["dead-letters", "replay", str(letter_id)], sqlite_env, tmp_path)
    neither = run(["dead-letters", "replay"], sqlite_env, tmp_path)
    after = run(["dead-letters", "list"], sqlite_env, tmp_path)

    assert listed.returncode == 0, listed.stderr
    assert str(letter_id) in listed.stdout and "RuntimeError: poison" in listed.stdout
    assert replayed.returncode == 0 and "Replayed 1" in replayed.stderr
    assert again.returncode == 1 and "already replayed" in again.stderr
    assert neither.returncode == 2
    assert "No dead letters" in after.stderr


async def _store_dead_letter(url: str) -> uuid.UUID:
    from shared.db import create_engine, create_sessionmaker
    from shared.events import Aggregate, record_event
    from shared.models import DeadLetter
    from shared.settings import Settings

    engine = create_engine(Settings(database_url=url))
    try:
        async with create_sessionmaker(engine)() as session:
            event_id = await record_event(
                session,
                event_type="organization.created",
                aggregate=Aggregate("organization", uuid.uuid4()),
                data={},
            )
            letter = DeadLetter(
                actor_name="events.process",
                event_id=event_id,
                message_id="m-1",
                retries=12,
                error="Traceback (most recent call last):\nRuntimeError: poison",
                message={"args": [str(event_id)]},
            )
            session.add(letter)
            await session.commit()
            return letter.id
    finally:
        await engine.dispose()
