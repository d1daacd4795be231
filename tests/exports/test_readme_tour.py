"""The README's API tour, run as written against `accords dev`.

The shell blocks of the "API tour" section run in bash, with one change: the
address of the server under test replaces `API=http://127.0.0.1:8000`.
`curl` fails the script on any HTTP error (`--fail-with-body`), so a step
the API refuses (a 405 on the `curl -sI` that fetches the ETag, a 428 on the
PATCH after it) breaks the test as it would break a reader's session.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.live import accords_env, free_port, running

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"
PRELUDE = """set -euo pipefail
curl() { command curl --fail-with-body --show-error "$@"; }
"""


def tour_blocks() -> list[str]:
    text = README.read_text()
    section = text.split("## API tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def run_bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", PRELUDE + script], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq")
def test_the_readme_api_tour_runs_as_written(tmp_path: Path) -> None:
    blocks = tour_blocks()
    assert len(blocks) >= 2
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = accords_env(database_url=f"sqlite:///{tmp_path / 'accords.db'}")
    setup, *rest = blocks
    assert "API=http://127.0.0.1:8000" in setup
    with running(
        ["dev", "--port", str(port)], env, ready_url=f"{base}/readyz", cwd=tmp_path, timeout=60
    ):
        first = run_bash(setup.replace("API=http://127.0.0.1:8000", f"API={base}"), tmp_path)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        key = (tmp_path / "var" / "dev-admin-key").read_text().strip()
        mou = httpx.get(
            f"{base}/v1/agreements",
            params={"q": "STZA-GEI-MOU-2023"},
            headers={"Authorization": f"Bearer {key}"},
        ).json()["items"][0]
        assert mou["summary"] == "Implementation planned during the delegation visit."
        # "The worker turns events into rollups": within 2 s (SPEC section 4).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rollup = httpx.get(
                f"{base}/v1/agreements/{mou['id']}/rollup",
                headers={"Authorization": f"Bearer {key}"},
            )
            if rollup.status_code == 200:
                break
            time.sleep(0.2)
        preamble = setup.split("# Two organizations", 1)[0].replace(
            "API=http://127.0.0.1:8000", f"API={base}"
        )
        for block in rest:
            script = preamble + f"MOU={mou['id']}\n" + block
            later = run_bash(script, tmp_path)
            assert later.returncode == 0, later.stdout[-3000:] + later.stderr[-3000:]
