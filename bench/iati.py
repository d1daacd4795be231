"""IATI portfolio export benchmark: time and memory of a 1,000-agreement export.

    python -m bench.iati [--agreements 1000] [--initiatives 2]

Seeds ``--agreements`` agreements (each with ``--initiatives`` initiatives)
through the API of one ``accords serve`` process (one uvicorn worker, on
PostgreSQL, database ``accords_bench_iati``, recreated and dropped), warms
the export up on one organization's agreements, then reads the process's
resident memory (idle), resets its peak (``/proc/PID/clear_refs``), streams
``GET /v1/exports/iati.xml`` to a file and reads the peak again. Prints the
time, the size, the peak RSS growth over the idle process, and whether the
document validates against the IATI 2.03 schema.

Targets (SPEC section 15): under 10 s, and flat memory (within 50 MB of idle).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.seed import seed  # noqa: E402
from shared.iati.validation import validate  # noqa: E402
from shared.migrate import upgrade_async  # noqa: E402
from tests.live import accords_env, free_port, running  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "accords_bench_iati"
DATABASE_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DATABASE}"
CONCURRENT_REQUESTS = 8


async def recreate_database(drop_only: bool = False) -> None:
    connection = await asyncpg.connect(ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        if not drop_only:
            await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()


def memory_kib(pid: int, field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


async def add_initiatives(
    base: str, key: str, agreement_ids: list[str], per_agreement: int
) -> None:
    semaphore = asyncio.Semaphore(CONCURRENT_REQUESTS)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as client:

        async def create(agreement_id: str, number: int) -> None:
            async with semaphore:
                agreement = (await client.get(f"/v1/agreements/{agreement_id}")).json()
                body = {
                    "title": f"Workstream {number} of {agreement['reference']}",
                    "lead_organization_id": agreement["parties"][0]["organization_id"],
                    "objective_ref": agreement["objectives"][0]["ref"],
                    "planned_start": "2025-02-01",
                    "planned_end": "2027-12-31",
                }
                response = await client.post(
                    f"/v1/agreements/{agreement_id}/initiatives", json=body
                )
            if response.status_code != 201:
                raise RuntimeError(f"initiative: {response.status_code} {response.text[:500]}")

        await asyncio.gather(
            *(
                create(agreement_id, number)
                for agreement_id in agreement_ids
                for number in range(1, per_agreement + 1)
            )
        )


async def stream_to(base: str, key: str, path: Path, params: dict[str, str]) -> tuple[float, int]:
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120
    ) as client:
        started = time.perf_counter()
        size = 0
        with path.open("wb") as output:
            async with client.stream("GET", "/v1/exports/iati.xml", params=params) as response:
                if response.status_code != 200:
                    raise RuntimeError(f"export answered {response.status_code}")
                async for chunk in response.aiter_bytes():
                    output.write(chunk)
                    size += len(chunk)
        return time.perf_counter() - started, size


async def run(options: argparse.Namespace) -> int:
    await recreate_database()
    await upgrade_async(DATABASE_URL)
    key = "acc_bench_" + secrets.token_urlsafe(24)
    env = accords_env(
        database_url=DATABASE_URL,
        bootstrap_api_key=key,
        iati_reporting_org_ref="XM-OCHA-ACCORDS-BENCH",
        iati_reporting_org_type="10",
        iati_reporting_org_name="Accords benchmark publisher",
        rate_limit_per_minute="10000000",
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    try:
        with running(serve, env, ready_url=f"{base}/readyz") as process:
            seeded = time.perf_counter()
            dataset = await seed(base, key, organizations=40, agreements=options.agreements)
            await add_initiatives(base, key, dataset.agreement_ids, options.initiatives)
            print(
                f"seeded {options.agreements} agreements with {options.initiatives} initiatives "
                f"each in {time.perf_counter() - seeded:.1f} s"
            )
            with tempfile.TemporaryDirectory() as folder:
                warm = Path(folder) / "warm.xml"
                await stream_to(base, key, warm, {"organization_id": dataset.organization_ids[0]})
                await asyncio.sleep(0.5)
                idle = memory_kib(process.pid, "VmRSS")
                reset_peak(process.pid)
                document = Path(folder) / "portfolio.xml"
                seconds, size = await stream_to(base, key, document, {})
                peak = memory_kib(process.pid, "VmHWM")
                issues = validate(document)
        activities = options.agreements * (1 + options.initiatives)
        print(
            f"export of {options.agreements} agreements ({activities} activities, "
            f"{size / 1e6:.1f} MB): {seconds:.2f} s"
        )
        print(
            f"RSS idle {idle / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB, "
            f"growth {(peak - idle) / 1024:.1f} MiB"
        )
        print(f"validates against IATI 2.03: {'yes' if not issues else issues[:3]}")
        ok = seconds < 10 and (peak - idle) < 50 * 1024 and not issues
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        await recreate_database(drop_only=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=1000)
    parser.add_argument("--initiatives", type=int, default=2)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
