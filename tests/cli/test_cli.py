"""The `accords` command as an operator runs it, in real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.live import ACCORDS, accords_env, free_port

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
    process = subprocess.Popen(
        [ACCORDS, "dev", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        key = process.stdout.readline().strip() if process.stdout else ""
        base = f"http://127.0.0.1:{port}"
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
    finally:
        process.terminate()
        process.wait(timeout=20)

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

    for command in ("dev", "serve", "migrate", "api-keys", "demo"):
        assert command in result.stdout
