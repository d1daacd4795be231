"""Against a real `accords serve` process: its memory while refusing a 30 MB
upload, and its log lines while contacts change (personal data stays out)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api.legal_factories import pdf_bytes
from tests.live import ACCORDS, _wait_until_up, accords_env, free_port

pytestmark = pytest.mark.slow

KEY = "accords-test-admin-key-0123456789abcdef"
MIB = 1024 * 1024


@contextmanager
def accords_serve(tmp_path: Path, **settings: str) -> Iterator[tuple[str, int, Path]]:
    """`accords serve` on a fresh SQLite file; yields (base URL, pid, log path)."""
    env = accords_env(
        database_url=f"sqlite:///{tmp_path / 'accords.db'}", bootstrap_api_key=KEY, **settings
    )
    subprocess.run([ACCORDS, "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [ACCORDS, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
        try:
            with log_path.open("rb") as reader:
                _wait_until_up(process, f"{base}/readyz", 30, reader)
            yield base, process.pid, log_path
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)


def _peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def _setup(client: httpx.Client) -> str:
    organizations = [
        client.post(
            "/v1/organizations", json={"name": name, "kind": "other", "country": country}
        ).json()["id"]
        for name, country in (("STZA", "PK"), ("GEI", "CN"))
    ]
    agreement = client.post(
        "/v1/agreements",
        json={
            "reference": "PROC-1",
            "title": "MoU",
            "instrument_type": "mou",
            "legal_character": "non_binding",
            "parties": [{"organization_id": o, "role": "signatory"} for o in organizations],
        },
    )
    assert agreement.status_code == 201, agreement.text
    return agreement.json()["id"]


def _multipart_stream(agreement_id: str, file_bytes: int) -> Iterator[bytes]:
    boundary = "accords-process-test"
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in (
            ("owner_type", "agreement"),
            ("owner_id", agreement_id),
            ("kind", "annex"),
        )
    )
    yield (
        head + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="huge.pdf"\r\n\r\n'
    ).encode()
    chunk = pdf_bytes(padding=64 * 1024)[: 64 * 1024]
    for _ in range(file_bytes // len(chunk)):
        yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def test_a_refused_30_mb_upload_leaves_the_servers_peak_memory_flat(tmp_path) -> None:
    with (
        accords_serve(tmp_path) as (base, pid, _log),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as client,
    ):
        agreement_id = _setup(client)
        warm = client.post(
            "/v1/documents",
            data={"owner_type": "agreement", "owner_id": agreement_id, "kind": "annex"},
            files={"file": ("a.pdf", pdf_bytes(padding=2 * MIB), "application/pdf")},
        )
        assert warm.status_code == 201, warm.text
        before = _peak_rss_bytes(pid)
        try:
            response = client.post(
                "/v1/documents",
                content=_multipart_stream(agreement_id, 30 * MIB),
                headers={"Content-Type": "multipart/form-data; boundary=accords-process-test"},
                timeout=60,
            )
            status = response.status_code
        except httpx.HTTPError:  # the server may close while the client still sends
            status = None
        after = _peak_rss_bytes(pid)

    growth = after - before
    print(
        f"\nstatus {status}; server peak RSS {before / MIB:.1f} MiB"
        f" -> {after / MIB:.1f} MiB (+{growth / MIB:.1f})"
    )
    assert status in (413, None)
    assert growth < 10 * MIB


def test_contacts_reach_no_log_line(tmp_path) -> None:
    name, email, phone = "Zarghuna Qadeer-Testname", "zarghuna.unique@stza.gov.pk", "+92 51 7654321"
    with accords_serve(tmp_path, log_level="debug") as (base, _pid, log_path):
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as client:
            agreement_id = _setup(client)
            organization_id = client.get(f"/v1/agreements/{agreement_id}").json()["parties"][0][
                "organization_id"
            ]
            created = client.post(
                f"/v1/organizations/{organization_id}/contacts",
                json={"name": name, "email": email, "phone": phone},
            )
            assert created.status_code == 201, created.text
            contact_id = created.json()["id"]
            client.put(
                f"/v1/agreements/{agreement_id}/focal-points",
                json={"focal_points": [{"contact_id": contact_id, "role": "legal"}]},
            )
            client.get("/v1/contacts", params={"q": "zarghuna"})
            client.delete(f"/v1/contacts/{contact_id}", headers={"If-Match": '"1"'})
            client.post(
                f"/v1/organizations/{organization_id}/contacts",
                json={"name": name, "email": email.replace("@", " at ")},
            )
        log = log_path.read_text()

    assert "request" in log  # the access lines were written
    for personal in (name, email, phone, "zarghuna"):
        assert personal.lower() not in log.lower()
