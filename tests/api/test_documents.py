from __future__ import annotations

import hashlib
import io
import uuid
import zipfile

import pytest

from tests.api.legal_factories import (
    create_document,
    document_fields,
    elf_bytes,
    pdf_bytes,
    upload,
)
from tests.api.tracking_factories import create_engagement, create_research, events_of
from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization


@pytest.fixture
async def agreement(client) -> dict:
    return await create_agreement(client)


def _zip(*entries: tuple[str, bytes], stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, data) in enumerate(entries):
            compress = zipfile.ZIP_STORED if stored_first and index == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=compress)
    return buffer.getvalue()


DOCX = _zip(("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w:document/>"))
XLSX = _zip(("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>"))
ODT = _zip(
    ("mimetype", b"application/vnd.oasis.opendocument.text"),
    ("content.xml", b"<office:document-content/>"),
    stored_first=True,
)
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40


async def test_upload_the_signed_copy_of_an_agreement(client, agreement) -> None:
    content = pdf_bytes()

    response = await upload(
        client,
        "agreement",
        agreement["id"],
        content,
        title="Signed copy",
        language="en",
        authentic="true",
    )

    assert response.status_code == 201, response.text
    document = response.json()
    assert document["owner_type"] == "agreement"
    assert document["owner_id"] == agreement["id"]
    assert (document["kind"], document["title"], document["language"]) == (
        "signed_copy",
        "Signed copy",
        "en",
    )
    assert document["authentic"] is True
    assert (document["filename"], document["media_type"]) == ("mou-signed.pdf", "application/pdf")
    assert document["size"] == len(content)
    assert document["sha256"] == hashlib.sha256(content).hexdigest()
    assert response.headers["location"] == f"/v1/documents/{document['id']}"
    assert document["content_url"] == f"/v1/documents/{document['id']}/content"


async def test_authentic_defaults_to_false(client, agreement) -> None:
    document = await create_document(client, "agreement", agreement["id"])

    assert document["authentic"] is False
    assert document["title"] is None


@pytest.mark.parametrize(
    ("content", "filename", "media_type"),
    [
        (
            DOCX,
            "annex.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (XLSX, "budget.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (ODT, "minutes.odt", "application/vnd.oasis.opendocument.text"),
        (PNG, "scan.png", "image/png"),
        (JPEG, "photo.jpg", "image/jpeg"),
        ("Minutes of the visit — 会议纪要\n".encode(), "minutes.txt", "text/plain"),
        (b"ref,title\nO1,Capacity building\n", "objectives.csv", "text/csv"),
    ],
)
async def test_each_accepted_type_is_recognised_from_its_bytes(
    client, agreement, content, filename, media_type
) -> None:
    document = await create_document(
        client,
        "agreement",
        agreement["id"],
        content,
        filename=filename,
        content_type="application/octet-stream",
    )

    assert document["media_type"] == media_type


async def test_the_media_type_comes_from_the_bytes_not_the_client(client, agreement) -> None:
    document = await create_document(
        client,
        "agreement",
        agreement["id"],
        PNG,
        filename="scan.pdf",
        content_type="application/pdf",
    )

    assert document["media_type"] == "image/png"


async def test_an_executable_named_pdf_answers_415(client, agreement) -> None:
    response = await upload(client, "agreement", agreement["id"], elf_bytes(), filename="mou.pdf")

    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/documents")).json()["items"] == []


@pytest.mark.parametrize(
    "content",
    [
        _zip(("payload.bin", b"\x00\x01")),
        b"text with a NUL \x00 inside",
        "caf\xe9 in Latin-1".encode("latin-1"),
        b"GIF89a" + b"\x00" * 20,
    ],
    ids=["plain-zip", "nul-byte", "not-utf8", "gif"],
)
async def test_bytes_of_other_types_answer_415(client, agreement, content) -> None:
    response = await upload(client, "agreement", agreement["id"], content, filename="x.txt")

    assert response.status_code == 415


async def test_a_json_body_answers_415(client, agreement) -> None:
    response = await client.post(
        "/v1/documents", json=document_fields("agreement", agreement["id"])
    )

    assert response.status_code == 415


async def test_a_truncated_multipart_body_answers_400(client, agreement) -> None:
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="kind"\r\n\r\nannex\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-1.'
    )

    response = await client.post(
        "/v1/documents", content=body, headers={"Content-Type": "multipart/form-data; boundary=XyZ"}
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "poem"}, "kind"),
        ({"owner_type": "initiative"}, "owner_type"),
        ({"owner_id": "not-a-uuid"}, "owner_id"),
        ({"owner_id": str(uuid.uuid4())}, "owner_id"),
        ({"language": "english"}, "language"),
        ({"authentic": "perhaps"}, "authentic"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_invalid_fields_answer_422(client, agreement, overrides, field) -> None:
    response = await client.post(
        "/v1/documents",
        data={**document_fields("agreement", agreement["id"]), **overrides},
        files={"file": ("mou.pdf", pdf_bytes(), "application/pdf")},
    )

    assert response.status_code == 422, response.text
    assert field in str(response.json()["errors"])


async def test_documents_of_an_amendment_go_with_its_agreement(client, app, agreement) -> None:
    amendment = await client.post(
        f"/v1/agreements/{agreement['id']}/amendments",
        json={
            "title": "Two-year extension",
            "kind": "extension",
            "effective_from": "2099-01-01",
            "changes": {"expires_on": "2100-01-01"},
        },
    )
    assert amendment.status_code == 201, amendment.text
    document = await create_document(client, "amendment", amendment.json()["id"], kind="draft")

    deleted = await client.delete(f"/v1/agreements/{agreement['id']}", headers={"If-Match": '"1"'})

    assert deleted.status_code == 204, deleted.text
    assert (await client.get(f"/v1/documents/{document['id']}")).status_code == 404


async def test_a_document_for_a_missing_report_answers_422(client) -> None:
    # Every owner type of the contract now has its entry: a missing owner is the error.
    response = await upload(client, "report", str(uuid.uuid4()))

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "owner_id"]


async def test_a_missing_file_answers_422(client, agreement) -> None:
    response = await client.post(
        "/v1/documents",
        data=document_fields("agreement", agreement["id"]),
        files={"other": ("x.txt", b"hello", "text/plain")},
    )

    assert response.status_code == 422


async def test_an_empty_file_answers_422(client, agreement) -> None:
    response = await upload(client, "agreement", agreement["id"], b"")

    assert response.status_code == 422
    assert "file" in str(response.json()["errors"])


async def test_a_missing_required_field_answers_422(client, agreement) -> None:
    response = await client.post(
        "/v1/documents",
        data={"owner_type": "agreement", "owner_id": agreement["id"]},
        files={"file": ("a.pdf", pdf_bytes(), "application/pdf")},
    )

    assert response.status_code == 422
    assert "kind" in str(response.json()["errors"])


async def test_a_path_in_the_filename_is_dropped(client, agreement) -> None:
    document = await create_document(
        client, "agreement", agreement["id"], filename="C:\\scans\\..\\mou.pdf"
    )

    assert document["filename"] == "mou.pdf"


async def test_documents_of_engagements_and_research_collaborations(client, agreement) -> None:
    engagement = await create_engagement(client, agreement)
    research = await create_research(
        client, [party["organization_id"] for party in agreement["parties"]]
    )

    minutes = await create_document(client, "engagement", engagement["id"], kind="minutes")
    report = await create_document(client, "research_collaboration", research["id"], kind="report")

    assert (minutes["owner_type"], report["owner_type"]) == ("engagement", "research_collaboration")


async def test_list_filters_by_owner_and_kind(client, agreement) -> None:
    other = await create_agreement(client)
    signed = await create_document(client, "agreement", agreement["id"])
    annex = await create_document(client, "agreement", agreement["id"], kind="annex")
    await create_document(client, "agreement", other["id"])

    by_owner = (
        await client.get(
            "/v1/documents", params={"owner_type": "agreement", "owner_id": agreement["id"]}
        )
    ).json()
    by_kind = (
        await client.get("/v1/documents", params={"owner_id": agreement["id"], "kind": "annex"})
    ).json()

    assert [item["id"] for item in by_owner["items"]] == [signed["id"], annex["id"]]
    assert [item["id"] for item in by_kind["items"]] == [annex["id"]]


async def test_update_metadata_with_if_match(client, agreement) -> None:
    document = await create_document(client, "agreement", agreement["id"])
    path = f"/v1/documents/{document['id']}"

    missing = await client.patch(path, json={"language": "zh-Hans"})
    changed = await client.patch(
        path,
        json={"language": "zh-Hans", "authentic": True, "filename": "mou-zh.pdf"},
        headers={"If-Match": '"1"'},
    )

    assert missing.status_code == 428
    assert changed.status_code == 200, changed.text
    assert (changed.json()["language"], changed.json()["filename"]) == ("zh-Hans", "mou-zh.pdf")
    assert changed.json()["sha256"] == document["sha256"]


@pytest.mark.parametrize(
    "body",
    [{"filename": "../etc/passwd"}, {"filename": None}, {"sha256": "0" * 64}, {"kind": "poem"}],
)
async def test_invalid_metadata_changes_answer_422(client, agreement, body) -> None:
    document = await create_document(client, "agreement", agreement["id"])

    response = await client.patch(
        f"/v1/documents/{document['id']}", json=body, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 422


async def test_delete_a_document_and_its_bytes(client, agreement) -> None:
    document = await create_document(client, "agreement", agreement["id"])

    deleted = await client.delete(f"/v1/documents/{document['id']}", headers={"If-Match": '"1"'})

    assert deleted.status_code == 204
    assert (await client.get(f"/v1/documents/{document['id']}")).status_code == 404
    assert (await client.get(f"/v1/documents/{document['id']}/content")).status_code == 404


async def test_events_carry_metadata_in_the_agreement_sequence(client, app, agreement) -> None:
    from sqlalchemy import select

    from shared.models import OutboxEvent

    document = await create_document(client, "agreement", agreement["id"])
    await client.patch(
        f"/v1/documents/{document['id']}", json={"title": "Signed"}, headers={"If-Match": '"1"'}
    )
    await client.delete(f"/v1/documents/{document['id']}", headers={"If-Match": '"2"'})

    async with app.state.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.aggregate_id == uuid.UUID(agreement["id"]))
                .order_by(OutboxEvent.sequence)
            )
        ).all()
    assert [(row.type, row.sequence) for row in rows] == [
        ("agreement.created", 1),
        ("document.added", 2),
        ("document.updated", 3),
        ("document.deleted", 4),
    ]
    assert rows[1].data["sha256"] == document["sha256"]
    assert not {"content", "data", "bytes"} & set(rows[1].data)


async def test_deleting_an_agreement_deletes_its_documents(client, app, agreement) -> None:
    document = await create_document(client, "agreement", agreement["id"])

    deleted = await client.delete(f"/v1/agreements/{agreement['id']}", headers={"If-Match": '"1"'})

    assert deleted.status_code == 204
    assert (await client.get(f"/v1/documents/{document['id']}")).status_code == 404
    types = [event_type for event_type, _ in await events_of(app)]
    assert types[-2:] == ["document.deleted", "agreement.deleted"]


async def test_deleting_an_engagement_deletes_its_documents(client, agreement) -> None:
    engagement = await create_engagement(client, agreement)
    document = await create_document(client, "engagement", engagement["id"], kind="minutes")

    deleted = await client.delete(
        f"/v1/engagements/{engagement['id']}", headers={"If-Match": '"1"'}
    )

    assert deleted.status_code == 204
    assert (await client.get(f"/v1/documents/{document['id']}")).status_code == 404


async def test_deleting_a_research_collaboration_deletes_its_documents(client, agreement) -> None:
    research = await create_research(client, [agreement["parties"][0]["organization_id"]])
    document = await create_document(client, "research_collaboration", research["id"])

    deleted = await client.delete(
        f"/v1/research-collaborations/{research['id']}", headers={"If-Match": '"1"'}
    )

    assert deleted.status_code == 204
    assert (await client.get(f"/v1/documents/{document['id']}")).status_code == 404


async def test_an_upload_replayed_with_its_idempotency_key_makes_one_document(
    client, agreement
) -> None:
    fields = document_fields("agreement", agreement["id"])
    files = {"file": ("mou.pdf", pdf_bytes(), "application/pdf")}
    headers = {"Idempotency-Key": "upload-1"}

    request = client.build_request(
        "POST", "/v1/documents", data=fields, files=files, headers=headers
    )
    body = request.read()

    first = await client.send(request)
    # httpx draws a new boundary per request: send the very same bytes again.
    again = await client.post(
        "/v1/documents",
        content=body,
        headers={**headers, "Content-Type": request.headers["content-type"]},
    )

    assert first.status_code == 201, first.text
    assert again.json()["id"] == first.json()["id"]
    assert len((await client.get("/v1/documents")).json()["items"]) == 1


async def test_a_bound_key_gets_404_for_another_agreements_document(client, app) -> None:
    ours = await create_organization(client)
    partner = await create_organization(client)
    our_agreement = await create_agreement(client, parties=[ours, partner])
    theirs = await create_agreement(client)
    their_document = await create_document(client, "agreement", theirs["id"])
    our_document = await create_document(client, "agreement", our_agreement["id"])
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(ours["id"]))

    async with client_for(app, key) as bound:
        metadata = await bound.get(f"/v1/documents/{their_document['id']}")
        content = await bound.get(f"/v1/documents/{their_document['id']}/content")
        changed = await bound.patch(
            f"/v1/documents/{their_document['id']}",
            json={"title": "x"},
            headers={"If-Match": '"1"'},
        )
        listed = (await bound.get("/v1/documents")).json()
        attach = await upload(bound, "agreement", theirs["id"])
        own = await bound.get(f"/v1/documents/{our_document['id']}/content")

    assert (metadata.status_code, content.status_code, changed.status_code) == (404, 404, 404)
    assert [item["id"] for item in listed["items"]] == [our_document["id"]]
    assert attach.status_code == 422
    assert own.status_code == 200


async def test_a_bound_key_sees_documents_of_engagements_under_its_agreements(client, app) -> None:
    ours = await create_organization(client)
    our_agreement = await create_agreement(
        client, parties=[ours, await create_organization(client)]
    )
    theirs = await create_agreement(client)
    our_minutes = await create_document(
        client, "engagement", (await create_engagement(client, our_agreement))["id"]
    )
    await create_document(client, "engagement", (await create_engagement(client, theirs))["id"])
    key = await make_key(app, ["read"], organization_id=uuid.UUID(ours["id"]))

    async with client_for(app, key) as bound:
        listed = (await bound.get("/v1/documents", params={"owner_type": "engagement"})).json()

    assert [item["id"] for item in listed["items"]] == [our_minutes["id"]]


async def _opened_report(app, client) -> dict:
    import datetime as dt

    from shared.reports.periods import add_months
    from tests.api.results_factories import reports_of, schedule, sweep_reports
    from tests.api.tracking_factories import active_agreement

    today = dt.datetime.now(dt.UTC).date()
    parties = [await create_organization(client), await create_organization(client)]
    agreement = await active_agreement(
        client,
        parties=parties,
        reporting=schedule(parties[1]["id"], first_period_start=add_months(today, -4).isoformat()),
    )
    await sweep_reports(app, today)
    return (await reports_of(client, agreement["id"]))[0]


async def test_a_report_takes_documents_in_its_agreements_sequence(client, app) -> None:
    report = await _opened_report(app, client)

    document = await create_document(client, "report", report["id"], kind="report")

    assert (document["owner_type"], document["owner_id"]) == ("report", report["id"])
    [(_, data)] = await events_of(app, prefix="document.added")
    assert data["id"] == document["id"]


async def test_a_bound_key_gets_404_for_another_agreements_report_document(client, app) -> None:
    report = await _opened_report(app, client)
    document = await create_document(client, "report", report["id"], kind="report")
    outsider = await create_organization(client)
    key = await make_key(app, ["read", "write"], organization_id=uuid.UUID(outsider["id"]))

    async with client_for(app, key) as bound:
        metadata = await bound.get(f"/v1/documents/{document['id']}")
        attach = await upload(bound, "report", report["id"])

    assert (metadata.status_code, attach.status_code) == (404, 422)
