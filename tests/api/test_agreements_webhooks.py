"""The legal record reaches webhook receivers like every other change, in the
agreement's sequence order, signed as Standard Webhooks."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from shared.settings import Settings
from tests.api.act_factories import negotiating_agreement, record_act
from tests.api.legal_factories import create_document
from tests.factories import transition
from tests.webhooks.factories import create_endpoint
from tests.webhooks.receiver import Receiver
from tests.worker.conftest import piped_client, pipeline  # noqa: F401 - fixtures


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        log_format="console",
        log_level="warning",
        environment="test",
        webhook_allow_private_targets=True,
        webhook_retry_schedule=[0, 0, 0],
        webhook_timeout_seconds=5,
    )


async def test_acts_the_signed_copy_and_amendments_arrive_verified_in_agreement_sequence(
    piped_client,  # noqa: F811
) -> None:
    async with Receiver() as receiver:
        endpoint = await create_endpoint(
            piped_client,
            url=receiver.url,
            event_types=["agreement.party_act_recorded", "document.added", "agreement.amended"],
        )
        agreement, stza, gei = await negotiating_agreement(
            piped_client, effective_from="2023-09-04", expires_on="2028-09-04"
        )
        await record_act(piped_client, agreement["id"], stza["id"], "signature", "2023-09-04")
        await record_act(piped_client, agreement["id"], gei["id"], "signature", "2023-09-04")
        await transition(piped_client, agreement["id"], "signed")
        await create_document(piped_client, "agreement", agreement["id"], kind="signed_copy")
        await piped_client.post(
            f"/v1/agreements/{agreement['id']}/amendments",
            json={
                "title": "Extension by two years",
                "kind": "extension",
                "effective_from": "2025-01-01",
                "changes": {"expires_on": "2030-09-04"},
            },
        )
        requests = await receiver.wait_for(4)

    verifier = Webhook(endpoint["secret"])
    payloads = sorted(
        (verifier.verify(request.body, request.headers) for request in requests),
        key=lambda payload: payload["sequence"],
    )
    assert [payload["type"] for payload in payloads] == [
        "agreement.party_act_recorded",
        "agreement.party_act_recorded",
        "document.added",
        "agreement.amended",
    ]
    sequences = [payload["sequence"] for payload in payloads]
    assert sequences == sorted(set(sequences))
    assert payloads[2]["data"]["kind"] == "signed_copy"
    assert payloads[3]["data"]["expires_on"] == "2030-09-04"
