"""A Python client generated from `/openapi.json` works against `accords serve`.

openapi-python-client runs from a virtual environment of its own: it pins
typer below the version Accords' CLI needs, so the two cannot share one
environment. The environment is made once per machine (in
``ACCORDS_TOOLS_DIR``, default ``~/.cache/accords-tools``) and reused: under a
lock (two test runs on one machine build it once), and only an install that
finished counts (one interrupted half-way is made again).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import importlib
import json
import os
import secrets
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.live import ACCORDS, accords_env, serving

pytestmark = pytest.mark.slow
# 0.29.x only: another minor version may name the generated modules otherwise.
GENERATOR = "openapi-python-client~=0.29.1"
PACKAGE = "accords_generated_client"
# No post-generation hooks: they run whatever `ruff` the PATH has, if any, and
# the generated code is imported, not read.
GENERATOR_CONFIG = {"post_hooks": []}


def generator_executable() -> Path:
    tools = Path(os.environ.get("ACCORDS_TOOLS_DIR", Path.home() / ".cache" / "accords-tools"))
    tools.mkdir(parents=True, exist_ok=True)
    home = tools / "openapi-python-client-0.29"
    executable = home / "bin" / "openapi-python-client"
    installed = home / "installed.txt"
    with (tools / "openapi-python-client-0.29.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (executable.exists() and installed.exists() and installed.read_text() == GENERATOR):
            venv.create(home, with_pip=True, clear=True)
            subprocess.run(
                [str(home / "bin" / "python"), "-m", "pip", "install", "--quiet", GENERATOR],
                check=True,
                timeout=540,
            )
            installed.write_text(GENERATOR)
    return executable


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("generated-client")
    key = "acc_test_" + secrets.token_urlsafe(24)
    env = accords_env(database_url=f"sqlite:///{folder / 'accords.db'}", bootstrap_api_key=key)
    subprocess.run([ACCORDS, "migrate"], env=env, check=True, capture_output=True, timeout=120)
    with serving(env) as base:
        yield base, key


@pytest.fixture(scope="module")
def client_package(
    live_server: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    base, _key = live_server
    folder = tmp_path_factory.mktemp("client")
    spec = folder / "openapi.json"
    spec.write_bytes(httpx.get(f"{base}/openapi.json", timeout=120).content)
    config = folder / "generator.json"
    config.write_text(json.dumps(GENERATOR_CONFIG))
    generated = subprocess.run(
        [
            str(generator_executable()),
            "generate",
            "--path",
            str(spec),
            "--config",
            str(config),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    output = generated.stdout + generated.stderr
    # XML and spreadsheet answers have no model (expected); anything else dropped is a bug.
    for failure in ("Unable to", "Failure to process", "Could not find reference"):
        assert failure not in output, output
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


def test_a_generated_client_creates_an_agreement_moves_it_and_reads_its_rollup(
    live_server: tuple[str, str], client_package: ModuleType
) -> None:
    base, key = live_server
    api = importlib.import_module(f"{PACKAGE}.api.organizations")
    models = importlib.import_module(f"{PACKAGE}.models")
    create_organization = importlib.import_module(
        f"{api.__name__}.create_organization_v1_organizations_post"
    )
    agreements = f"{PACKAGE}.api.agreements"
    create_agreement = importlib.import_module(f"{agreements}.create_agreement_v1_agreements_post")
    transition = importlib.import_module(
        f"{agreements}.transition_agreement_v1_agreements_agreement_id_transitions_post"
    )
    rollup = importlib.import_module(
        f"{PACKAGE}.api.rollups.get_agreement_rollup_v1_agreements_agreement_id_rollup_get"
    )
    client = client_package.AuthenticatedClient(base_url=base, token=key)
    with client:
        stza = create_organization.sync(
            client=client,
            body=models.OrganizationCreate(
                name="Special Technology Zones Authority",
                acronym="STZA",
                kind=models.OrganizationCreateKind.GOVERNMENT_AGENCY,
                country="PK",
            ),
        )
        gei = create_organization.sync(
            client=client,
            body=models.OrganizationCreate(
                name="Great Wall Enterprise Institute",
                kind=models.OrganizationCreateKind.RESEARCH_INSTITUTE,
                country="CN",
            ),
        )
        assert isinstance(stza, models.OrganizationPublic), stza
        mou = create_agreement.sync(
            client=client,
            body=models.AgreementCreate(
                reference="STZA-GEI-MOU-2023",
                title="STZA-GEI MoU on STI cooperation",
                instrument_type=models.AgreementCreateInstrumentType.MOU,
                legal_character=models.AgreementCreateLegalCharacter.NON_BINDING,
                parties=[
                    models.Party(organization_id=stza.id, role=models.PartyRole.SIGNATORY),
                    models.Party(organization_id=gei.id, role=models.PartyRole.SIGNATORY),
                ],
            ),
        )
        assert isinstance(mou, models.AgreementPublic), mou
        moved = transition.sync(
            mou.id,
            client=client,
            body=models.TransitionRequest(to=models.TransitionRequestTo.NEGOTIATION),
        )
        signed = transition.sync(
            mou.id,
            client=client,
            body=models.TransitionRequest(
                to=models.TransitionRequestTo.SIGNED, on=dt.date(2023, 9, 4)
            ),
        )
        figures = rollup.sync(mou.id, client=client)
    assert moved.status == "negotiation"
    assert signed.status == "signed"
    assert isinstance(figures, models.AgreementRollupPublic), figures
    assert figures.agreement_id == mou.id
