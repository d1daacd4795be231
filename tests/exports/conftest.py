"""Exports run with a configured IATI publisher unless a test says otherwise."""

from __future__ import annotations

import pytest

from shared.settings import Settings

REPORTING_REF = "XM-OCHA-ACCORDS"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        log_format="console",
        log_level="warning",
        environment="test",
        iati_reporting_org_ref=REPORTING_REF,
        iati_reporting_org_type="10",
        iati_reporting_org_name="Accords Secretariat",
        public_url="https://accords.example.org",
        webhook_allow_private_targets=True,
    )
