from __future__ import annotations

from tests.factories import create_agreement, create_organization, transition


async def _signable(client) -> dict:
    agreement = await create_agreement(client, signed_on="2023-09-04")
    await transition(client, agreement["id"], "negotiation")
    return agreement


async def test_full_path_to_active_records_history(client) -> None:
    agreement = await _signable(client)

    signed = await transition(client, agreement["id"], "signed")
    active = await transition(client, agreement["id"], "active", on="2023-09-05")
    history = (await client.get(f"/v1/agreements/{agreement['id']}/history")).json()

    assert signed.status_code == 200
    assert active.json()["status"] == "active"
    assert active.json()["effective_from"] == "2023-09-05"
    assert [(entry["from"], entry["to"]) for entry in history["items"]] == [
        ("draft", "negotiation"),
        ("negotiation", "signed"),
        ("signed", "active"),
    ]
    assert history["items"][2]["on"] == "2023-09-05"
    assert history["items"][0]["api_key_id"] is not None


async def test_signing_requires_two_signatories(client) -> None:
    solo = await create_organization(client)
    agreement = await create_agreement(client, [solo], signed_on="2023-09-04")
    await transition(client, agreement["id"], "negotiation")

    response = await transition(client, agreement["id"], "signed")

    assert response.status_code == 409
    assert "signatory" in response.json()["detail"]


async def test_signing_requires_a_signing_date(client) -> None:
    agreement = await create_agreement(client)
    await transition(client, agreement["id"], "negotiation")

    refused = await transition(client, agreement["id"], "signed")
    accepted = await transition(client, agreement["id"], "signed", on="2023-09-04")

    assert refused.status_code == 409
    assert "signed_on" in refused.json()["detail"]
    assert accepted.status_code == 200
    assert accepted.json()["signed_on"] == "2023-09-04"


async def test_termination_requires_a_reason(client) -> None:
    agreement = await _signable(client)
    await transition(client, agreement["id"], "signed")
    await transition(client, agreement["id"], "active")

    refused = await transition(client, agreement["id"], "terminated")
    accepted = await transition(client, agreement["id"], "terminated", reason="Funding ended")

    assert refused.status_code == 409
    assert "reason" in refused.json()["detail"]
    assert accepted.json()["status"] == "terminated"


async def test_invalid_move_answers_409_with_allowed_targets(client) -> None:
    agreement = await create_agreement(client)

    response = await transition(client, agreement["id"], "active")

    assert response.status_code == 409
    assert response.json()["allowed"] == ["negotiation", "cancelled"]


async def test_suspension_and_resumption(client) -> None:
    agreement = await _signable(client)
    for target in ("signed", "active", "suspended"):
        assert (await transition(client, agreement["id"], target)).status_code == 200

    resumed = await transition(client, agreement["id"], "active")

    assert resumed.json()["status"] == "active"


async def test_terminal_state_allows_nothing(client) -> None:
    agreement = await create_agreement(client)
    await transition(client, agreement["id"], "cancelled")

    response = await transition(client, agreement["id"], "draft")

    assert response.status_code == 409
    assert response.json()["allowed"] == []


async def test_unknown_target_status_answers_422(client) -> None:
    agreement = await create_agreement(client)

    response = await transition(client, agreement["id"], "celebrated")

    assert response.status_code == 422


async def test_signed_agreement_cannot_be_deleted_or_change_parties(client) -> None:
    agreement = await _signable(client)
    signed = (await transition(client, agreement["id"], "signed")).json()
    etag = f'"{signed["version"]}"'

    deleted = await client.delete(f"/v1/agreements/{agreement['id']}", headers={"If-Match": etag})
    patched = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={
            "parties": [
                {"organization_id": signed["parties"][0]["organization_id"], "role": "signatory"}
            ]
        },
        headers={"If-Match": etag},
    )

    assert deleted.status_code == 409
    assert patched.status_code == 409


async def test_transition_bumps_version(client) -> None:
    agreement = await create_agreement(client)

    moved = await transition(client, agreement["id"], "negotiation")

    assert moved.json()["version"] == agreement["version"] + 1
    assert moved.headers["etag"] == f'"{agreement["version"] + 1}"'
