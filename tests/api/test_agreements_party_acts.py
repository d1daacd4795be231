"""Party acts (SPEC §10): what each party did and when, and what follows from it."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.api.act_factories import events_of, negotiating_agreement, party, record_act
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization, transition


async def test_a_signature_is_recorded_with_its_signatory_and_place(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)

    response = await record_act(
        client,
        agreement["id"],
        stza["id"],
        "signature",
        "2023-09-04",
        signed_by_name="Chairman, STZA",
        signed_by_title="Chairman",
        place="CIFTIS, Beijing",
    )

    assert response.status_code == 201, response.text
    act = response.json()
    assert (act["act"], act["on"], act["place"]) == ("signature", "2023-09-04", "CIFTIS, Beijing")
    assert response.headers["location"] == f"/v1/party-acts/{act['id']}"
    assert (await client.get(f"/v1/party-acts/{act['id']}")).json() == act


async def test_each_party_entry_shows_the_dates_its_acts_give(client) -> None:
    agreement, stza, gei = await negotiating_agreement(client, legal_character="binding")
    await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")
    await record_act(client, agreement["id"], stza["id"], "ratification", "2023-10-01")
    await record_act(client, agreement["id"], gei["id"], "accession", "2023-11-02")

    fetched = (await client.get(f"/v1/agreements/{agreement['id']}")).json()

    assert party(fetched, stza) | {"organization_id": None} == {
        "organization_id": None,
        "role": "signatory",
        "signed_on": "2023-09-04",
        "consented_on": "2023-10-01",
        "withdrawn_on": None,
    }
    assert (party(fetched, gei)["signed_on"], party(fetched, gei)["consented_on"]) == (
        None,
        "2023-11-02",
    )


async def test_the_list_and_the_read_by_id_show_the_same_party_dates(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")

    fetched = (await client.get(f"/v1/agreements/{agreement['id']}")).json()
    listed = (await client.get("/v1/agreements", params={"organization_id": stza["id"]})).json()

    assert listed["items"] == [fetched]
    assert party(fetched, stza)["signed_on"] == "2023-09-04"


async def test_recording_an_act_gives_the_agreement_a_new_version(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)

    await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")
    fetched = await client.get(f"/v1/agreements/{agreement['id']}")

    assert fetched.json()["version"] == agreement["version"] + 1
    assert fetched.headers["etag"] == f'"{agreement["version"] + 1}"'


async def test_an_organization_that_is_not_a_party_answers_422(client) -> None:
    agreement, _, _ = await negotiating_agreement(client)
    outsider = await create_organization(client, country="DE")

    response = await record_act(client, agreement["id"], outsider["id"], "signature", "2023-09-04")

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "organization_id"]


async def test_an_act_dated_in_the_future_answers_422(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()

    response = await record_act(client, agreement["id"], stza["id"], "signature", tomorrow)

    assert response.status_code == 422
    assert "future" in str(response.json()["errors"])


async def test_an_unknown_act_answers_422(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)

    response = await record_act(client, agreement["id"], stza["id"], "handshake", "2023-09-04")

    assert response.status_code == 422


async def test_a_ratification_without_a_signature_answers_409_pointing_to_accession(
    client,
) -> None:
    agreement, stza, _ = await negotiating_agreement(client)

    response = await record_act(client, agreement["id"], stza["id"], "ratification", "2023-10-01")

    assert response.status_code == 409
    assert "needs a signature on or before it" in response.json()["detail"]
    assert "accession" in response.json()["detail"]


async def test_a_consent_dated_before_the_signature_answers_409(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")

    response = await record_act(client, agreement["id"], stza["id"], "approval", "2023-09-03")

    assert response.status_code == 409
    assert "2023-09-03" in response.json()["detail"]


async def test_a_consent_on_the_signing_day_is_accepted(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")

    response = await record_act(client, agreement["id"], stza["id"], "acceptance", "2023-09-04")

    assert response.status_code == 201


async def test_accession_needs_no_signature(client) -> None:
    agreement, _, gei = await negotiating_agreement(client)

    response = await record_act(client, agreement["id"], gei["id"], "accession", "2024-01-15")

    assert response.status_code == 201


async def test_nothing_can_be_dated_after_a_withdrawal(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")
    await record_act(client, agreement["id"], stza["id"], "withdrawal", "2024-03-01")

    response = await record_act(client, agreement["id"], stza["id"], "signature", "2024-03-02")

    assert response.status_code == 409
    assert "withdrew on 2024-03-01" in response.json()["detail"]


async def test_a_withdrawal_dated_before_an_earlier_recorded_act_answers_409(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")

    response = await record_act(client, agreement["id"], stza["id"], "withdrawal", "2023-09-01")

    assert response.status_code == 409


async def test_a_party_withdraws_only_once(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    await record_act(client, agreement["id"], stza["id"], "withdrawal", "2024-03-01")

    response = await record_act(client, agreement["id"], stza["id"], "withdrawal", "2024-03-01")

    assert response.status_code == 409
    assert "withdraws only once" in response.json()["detail"]


async def test_signing_without_a_date_takes_the_later_of_two_signatures(client) -> None:
    agreement, stza, gei = await negotiating_agreement(client)
    await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")
    await record_act(client, agreement["id"], gei["id"], "signature", "2023-09-06")

    response = await transition(client, agreement["id"], "signed")

    assert response.status_code == 200, response.text
    assert response.json()["signed_on"] == "2023-09-06"


async def test_signing_with_a_single_signature_act_and_no_date_answers_409(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")

    response = await transition(client, agreement["id"], "signed")

    assert response.status_code == 409
    assert "signature acts of two signatories" in response.json()["detail"]


async def test_an_explicit_signing_date_wins_over_the_acts(client) -> None:
    agreement, stza, gei = await negotiating_agreement(client)
    await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")
    await record_act(client, agreement["id"], gei["id"], "signature", "2023-09-06")

    response = await transition(client, agreement["id"], "signed", on="2023-09-05")

    assert response.json()["signed_on"] == "2023-09-05"


async def _signed(client, **overrides):  # type: ignore[no-untyped-def]
    agreement, stza, gei = await negotiating_agreement(client, **overrides)
    await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")
    await record_act(client, agreement["id"], gei["id"], "signature", "2023-09-04")
    signed = await transition(client, agreement["id"], "signed")
    assert signed.status_code == 200, signed.text
    return agreement, stza, gei


async def test_a_binding_agreement_refuses_active_naming_the_signatory_yet_to_ratify(
    client,
) -> None:
    agreement, stza, gei = await _signed(client, legal_character="binding")
    await record_act(client, agreement["id"], stza["id"], "ratification", "2023-12-01")

    refused = await transition(client, agreement["id"], "active")

    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "Great Wall Enterprise Institute (GEI)" in detail
    assert gei["id"] in detail
    assert "STZA" not in detail


async def test_a_binding_agreement_moves_to_active_once_both_ratified(client) -> None:
    agreement, stza, gei = await _signed(client, legal_character="binding")
    await record_act(client, agreement["id"], stza["id"], "ratification", "2023-12-01")
    await record_act(client, agreement["id"], gei["id"], "ratification", "2024-01-10")

    response = await transition(client, agreement["id"], "active", on="2024-01-10")

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "active"


async def test_a_binding_agreement_with_no_consent_names_both_signatories(client) -> None:
    agreement, stza, gei = await _signed(client, legal_character="binding")

    refused = await transition(client, agreement["id"], "active")

    assert stza["id"] in refused.json()["detail"] and gei["id"] in refused.json()["detail"]


async def test_a_non_binding_agreement_moves_to_active_on_signatures_alone(client) -> None:
    agreement, _, _ = await _signed(client, legal_character="non_binding")

    response = await transition(client, agreement["id"], "active")

    assert response.status_code == 200


async def test_a_withdrawn_signatory_is_not_awaited(client) -> None:
    agreement, stza, gei = await _signed(client, legal_character="binding")
    await record_act(client, agreement["id"], stza["id"], "ratification", "2023-12-01")
    await record_act(client, agreement["id"], gei["id"], "withdrawal", "2023-12-02")

    response = await transition(client, agreement["id"], "active")

    assert response.status_code == 200, response.text


async def test_deleting_an_act_recomputes_the_party_dates(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    first = (
        await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")
    ).json()
    second = (
        await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-10")
    ).json()

    response = await client.delete(f"/v1/party-acts/{second['id']}", headers={"If-Match": '"1"'})
    fetched = (await client.get(f"/v1/agreements/{agreement['id']}")).json()

    assert response.status_code == 204
    assert party(fetched, stza)["signed_on"] == first["on"]
    assert (await client.get(f"/v1/party-acts/{second['id']}")).status_code == 404


async def test_deleting_the_signature_a_ratification_rests_on_answers_409(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    signature = (
        await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")
    ).json()
    await record_act(client, agreement["id"], stza["id"], "ratification", "2023-10-01")

    response = await client.delete(f"/v1/party-acts/{signature['id']}", headers={"If-Match": '"1"'})

    assert response.status_code == 409
    assert "ratification" in response.json()["detail"]


async def test_deleting_an_act_without_if_match_answers_428(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    act = (await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")).json()

    response = await client.delete(f"/v1/party-acts/{act['id']}")

    assert response.status_code == 428


async def test_the_list_filters_by_party_and_act(client) -> None:
    agreement, stza, gei = await negotiating_agreement(client)
    ours = (await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")).json()
    await record_act(client, agreement["id"], gei["id"], "signature", "2023-09-04")
    await record_act(client, agreement["id"], gei["id"], "acceptance", "2023-09-05")

    by_party = await client.get(
        f"/v1/agreements/{agreement['id']}/party-acts", params={"organization_id": stza["id"]}
    )
    by_act = await client.get(
        f"/v1/agreements/{agreement['id']}/party-acts", params={"act": "acceptance"}
    )

    assert by_party.json()["items"] == [ours]
    assert [act["act"] for act in by_act.json()["items"]] == ["acceptance"]


async def test_a_party_with_acts_cannot_be_dropped_by_a_patch(client) -> None:
    stza = await create_organization(client)
    gei = await create_organization(client)
    other = await create_organization(client)
    agreement = await create_agreement(client, [stza, gei])
    await record_act(client, agreement["id"], gei["id"], "signature", "2023-09-04")

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={
            "parties": [
                {"organization_id": stza["id"], "role": "signatory"},
                {"organization_id": other["id"], "role": "signatory"},
            ]
        },
        headers={"If-Match": '"2"'},
    )

    assert response.status_code == 409
    assert gei["id"] in response.json()["detail"]


async def test_a_party_kept_through_a_patch_keeps_its_dates(client) -> None:
    stza = await create_organization(client)
    gei = await create_organization(client)
    agreement = await create_agreement(client, [stza, gei])
    await record_act(client, agreement["id"], gei["id"], "signature", "2023-09-04")

    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={
            "parties": [
                {"organization_id": gei["id"], "role": "signatory"},
                {"organization_id": stza["id"], "role": "funder"},
            ]
        },
        headers={"If-Match": '"2"'},
    )

    assert response.status_code == 200, response.text
    assert party(response.json(), gei)["signed_on"] == "2023-09-04"


async def test_recording_and_deleting_emit_events_in_the_agreement_sequence(client, app) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    act = (await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")).json()
    await client.delete(f"/v1/party-acts/{act['id']}", headers={"If-Match": '"1"'})

    events = await events_of(app, agreement["id"])

    assert [event.type for event in events][-2:] == [
        "agreement.party_act_recorded",
        "agreement.party_act_deleted",
    ]
    assert [event.sequence for event in events] == list(range(1, len(events) + 1))
    recorded = events[-2].data
    assert recorded["id"] == act["id"]
    assert party(recorded["agreement"], stza)["signed_on"] == "2023-09-04"


async def test_a_bound_key_meets_another_agreements_acts_as_missing(client, app) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    act = (await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")).json()
    outsider = await create_organization(client)
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(outsider["id"]))

    async with client_for(app, key) as bound:
        listed = await bound.get(f"/v1/agreements/{agreement['id']}/party-acts")
        fetched = await bound.get(f"/v1/party-acts/{act['id']}")
        recorded = await record_act(bound, agreement["id"], stza["id"], "signature", "2023-09-05")
        deleted = await bound.delete(f"/v1/party-acts/{act['id']}", headers={"If-Match": '"1"'})

    assert [listed.status_code, fetched.status_code, recorded.status_code, deleted.status_code] == [
        404,
        404,
        404,
        404,
    ]


async def test_an_act_is_audited_under_its_agreement(client) -> None:
    agreement, stza, _ = await negotiating_agreement(client)
    act = (await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")).json()

    entries = (
        await client.get(
            "/v1/audit-log", params={"entity_type": "agreement", "entity_id": agreement["id"]}
        )
    ).json()["items"]

    recorded = [entry for entry in entries if entry["action"] == "party_act_recorded"]
    assert [entry["after"]["id"] for entry in recorded] == [act["id"]]


async def test_deleting_a_draft_agreement_deletes_its_acts(client) -> None:
    stza = await create_organization(client)
    agreement = await create_agreement(client, [stza])
    act = (await record_act(client, agreement["id"], stza["id"], "signature", "2023-09-04")).json()

    deleted = await client.delete(f"/v1/agreements/{agreement['id']}", headers={"If-Match": '"2"'})

    assert deleted.status_code == 204
    assert (await client.get(f"/v1/party-acts/{act['id']}")).status_code == 404
