"""Recording a party act, uploading a document, writing, submitting and reviewing
a report from the Agreement page: the /v1 services' rules, events and audit."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.api.app import create_app
from shared.models import AuditEntry
from tests.api.legal_factories import elf_bytes, pdf_bytes
from tests.api.results_factories import schedule, sweep_reports
from tests.api.tracking_factories import active_agreement, events_of
from tests.conftest import client_for, make_key
from tests.dashboard.browsing import post_form, signed_in
from tests.dashboard.html import csrf_token, parse, unlabelled_fields
from tests.factories import create_agreement, create_organization


async def _key_id(client: httpx.AsyncClient, key: str) -> str:
    keys = (await client.get("/v1/api-keys")).json()["items"]
    return next(item["id"] for item in keys if key.startswith(item["key_prefix"]))


async def _audit(app: Any, entity_id: str, action: str) -> list[AuditEntry]:
    async with app.state.sessionmaker() as session:
        rows = await session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_id == uuid.UUID(entity_id), AuditEntry.action == action
            )
        )
        return list(rows.all())


async def _upload(
    browsing: httpx.AsyncClient,
    agreement_id: str,
    fields: dict[str, str],
    file: tuple[str, bytes, str] | None,
    *,
    with_token: bool = True,
) -> httpx.Response:
    """Submit the page's upload form as a browser does: the fields, then the file."""
    page = await browsing.get(f"/app/agreements/{agreement_id}")
    data = {**({"csrf_token": csrf_token(page.text)} if with_token else {}), **fields}
    files = {"file": file} if file else {"file": ("", b"", "application/octet-stream")}
    return await browsing.post(
        f"/app/documents?agreement_id={agreement_id}", data=data, files=files
    )


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: Counter[str] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids[value] += 1


def _duplicate_ids(html: str) -> list[str]:
    collector = _Ids()
    collector.feed(html)
    return [name for name, count in collector.ids.items() if count > 1]


# --- party acts ---------------------------------------------------------------


async def test_recording_a_party_act_writes_the_act_its_event_and_audit_row(app, client) -> None:
    agreement = await active_agreement(client)
    party = agreement["parties"][0]["organization_id"]
    key = await make_key(app, ["write"])
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, key) as browsing:
        recorded = await post_form(
            browsing,
            page,
            f"{page}/party-acts",
            {
                "organization_id": party,
                "act": "signature",
                "on": "2023-09-04",
                "signed_by_name": "Chairman, STZA",
                "place": "CIFTIS, Beijing",
            },
        )
        assert recorded.status_code == 303, recorded.text
        assert recorded.headers["location"].endswith("?saved=party_act#parties")
        shown = (await browsing.get(recorded.headers["location"])).text
    assert "The party act is recorded." in shown
    assert "by Chairman, STZA" in shown
    assert "Signed 4 Sep 2023" in shown
    acts = (await client.get(f"/v1/agreements/{agreement['id']}/party-acts")).json()["items"]
    assert [(act["act"], act["on"], act["place"]) for act in acts] == [
        ("signature", "2023-09-04", "CIFTIS, Beijing")
    ]
    assert [kind for kind, _ in await events_of(app, prefix="agreement.party_act")] == [
        "agreement.party_act_recorded"
    ]
    (audit,) = await _audit(app, agreement["id"], "party_act_recorded")
    assert str(audit.api_key_id) == await _key_id(client, key)
    assert audit.request_id


async def test_a_refused_party_act_shows_the_rule_keeps_the_input_and_records_nothing(
    app, client
) -> None:
    agreement = await active_agreement(client)
    party = agreement["parties"][1]["organization_id"]
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await post_form(
            browsing,
            page,
            f"{page}/party-acts",
            {
                "organization_id": party,
                "act": "ratification",
                "on": "2024-01-10",
                "note": "Ratified by the State Council",
            },
        )
    assert refused.status_code == 409
    assert "This ratification cannot be recorded" in refused.text
    assert 'class="error-summary"' in refused.text
    assert "Ratified by the State Council</textarea>" in refused.text
    assert 'value="2024-01-10"' in refused.text
    assert f'<option value="{party}" selected>' in refused.text
    assert '<option value="ratification" selected>' in refused.text
    assert "<details open>" in refused.text
    acts = (await client.get(f"/v1/agreements/{agreement['id']}/party-acts")).json()["items"]
    assert acts == []
    assert await events_of(app, prefix="agreement.party_act") == []
    assert await _audit(app, agreement["id"], "party_act_recorded") == []


async def test_a_future_dated_act_links_the_message_to_its_field(app, client) -> None:
    agreement = await active_agreement(client)
    page = f"/app/agreements/{agreement['id']}"
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await post_form(
            browsing,
            page,
            f"{page}/party-acts",
            {
                "organization_id": agreement["parties"][0]["organization_id"],
                "act": "signature",
                "on": tomorrow,
                "place": "Islamabad",
            },
        )
    assert refused.status_code == 422
    assert 'href="#act-on"' in refused.text
    assert "cannot be dated in the future" in refused.text
    assert 'id="act-on-error"' in refused.text
    assert 'value="Islamabad"' in refused.text
    acts = (await client.get(f"/v1/agreements/{agreement['id']}/party-acts")).json()["items"]
    assert acts == []


# --- documents ----------------------------------------------------------------


async def test_uploading_a_document_stores_it_with_its_event_and_audit_row(app, client) -> None:
    agreement = await active_agreement(client)
    key = await make_key(app, ["write"])
    async with signed_in(app, key) as browsing:
        uploaded = await _upload(
            browsing,
            agreement["id"],
            {
                "kind": "signed_copy",
                "title": "Signed MoU",
                "language": "zh-Hans",
                "authentic": "true",
            },
            ("mou-signed.pdf", pdf_bytes(), "application/pdf"),
        )
        assert uploaded.status_code == 303, uploaded.text
        shown = (await browsing.get(uploaded.headers["location"])).text
    assert "The document is uploaded." in shown
    listed = await client.get(
        "/v1/documents", params={"owner_type": "agreement", "owner_id": agreement["id"]}
    )
    (document,) = listed.json()["items"]
    assert (document["title"], document["kind"], document["language"]) == (
        "Signed MoU",
        "signed_copy",
        "zh-Hans",
    )
    assert document["authentic"] is True
    assert document["media_type"] == "application/pdf"
    assert document["filename"] == "mou-signed.pdf"
    assert f'href="/app/documents/{document["id"]}/content"' in shown
    content = await client.get(f"/v1/documents/{document['id']}/content")
    assert content.content == pdf_bytes()
    assert [kind for kind, _ in await events_of(app, prefix="document.")] == ["document.added"]
    (audit,) = await _audit(app, document["id"], "added")
    assert str(audit.api_key_id) == await _key_id(client, key)
    assert audit.request_id


async def test_a_file_of_a_refused_type_shows_the_rule_and_keeps_the_fields(app, client) -> None:
    agreement = await active_agreement(client)
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await _upload(
            browsing,
            agreement["id"],
            {"kind": "annex", "title": "Annex A", "language": "en"},
            ("annex.pdf", elf_bytes(), "application/pdf"),
        )
    assert refused.status_code == 415
    assert "none of the accepted types" in refused.text
    assert 'href="#document-file"' in refused.text
    assert 'value="Annex A"' in refused.text
    assert '<option value="annex" selected>' in refused.text
    listed = await client.get(
        "/v1/documents", params={"owner_type": "agreement", "owner_id": agreement["id"]}
    )
    assert listed.json()["items"] == []
    assert await events_of(app, prefix="document.") == []


async def test_an_empty_file_and_a_bad_language_are_field_errors(app, client) -> None:
    agreement = await active_agreement(client)
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await _upload(
            browsing, agreement["id"], {"kind": "minutes", "language": "not a tag!"}, None
        )
    assert refused.status_code == 422
    assert 'href="#document-language"' in refused.text
    assert 'href="#document-file"' in refused.text
    assert 'value="not a tag!"' in refused.text
    assert parse(refused.text).h1 == 1
    listed = await client.get(
        "/v1/documents", params={"owner_type": "agreement", "owner_id": agreement["id"]}
    )
    assert listed.json()["items"] == []


async def test_an_upload_without_the_csrf_token_is_refused_and_stores_nothing(app, client) -> None:
    agreement = await active_agreement(client)
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await _upload(
            browsing,
            agreement["id"],
            {"kind": "signed_copy"},
            ("mou.pdf", pdf_bytes(), "application/pdf"),
            with_token=False,
        )
        forged = await browsing.post(
            f"/app/documents?agreement_id={agreement['id']}",
            data={"kind": "signed_copy", "csrf_token": "forged"},
            files={"file": ("mou.pdf", pdf_bytes(), "application/pdf")},
        )
    assert [refused.status_code, forged.status_code] == [403, 403]
    assert "text/html" in refused.headers["content-type"]
    assert "security token" in refused.text
    listed = await client.get(
        "/v1/documents", params={"owner_type": "agreement", "owner_id": agreement["id"]}
    )
    assert listed.json()["items"] == []


@pytest.fixture
async def small_limit_app(settings, engine):  # type: ignore[no-untyped-def]
    application = create_app(settings.model_copy(update={"max_document_bytes": 1000}))
    async with application.router.lifespan_context(application):
        yield application


async def test_a_file_over_the_limit_answers_413_on_the_page(small_limit_app) -> None:
    app = small_limit_app
    admin_key = await make_key(app, ["admin"])
    async with client_for(app, admin_key) as admin:
        agreement = await create_agreement(admin)
        async with signed_in(app, await make_key(app, ["write"])) as browsing:
            exact = await _upload(
                browsing,
                agreement["id"],
                {"kind": "draft"},
                ("draft.pdf", pdf_bytes(padding=1000 - len(pdf_bytes())), "application/pdf"),
            )
            over = await _upload(
                browsing,
                agreement["id"],
                {"kind": "draft", "title": "Too big"},
                ("draft.pdf", pdf_bytes(padding=2000), "application/pdf"),
            )
        listed = await admin.get(
            "/v1/documents", params={"owner_type": "agreement", "owner_id": agreement["id"]}
        )
    assert exact.status_code == 303, exact.text
    assert over.status_code == 413
    assert "larger than the limit of 1000 bytes" in over.text
    assert "up to 1000 bytes" in over.text  # the form says the limit too
    assert len(listed.json()["items"]) == 1


async def test_a_body_far_over_the_limit_answers_the_page_not_json(small_limit_app) -> None:
    app = small_limit_app
    admin_key = await make_key(app, ["admin"])
    async with client_for(app, admin_key) as admin:
        agreement = await create_agreement(admin)
        async with signed_in(app, await make_key(app, ["write"])) as browsing:
            # Refused by its declared length, before the route reads any of it.
            over = await _upload(
                browsing,
                agreement["id"],
                {"kind": "draft", "title": "Far too big"},
                ("draft.pdf", pdf_bytes(padding=2_000_000), "application/pdf"),
            )
        listed = await admin.get(
            "/v1/documents", params={"owner_type": "agreement", "owner_id": agreement["id"]}
        )
    assert over.status_code == 413
    assert over.headers["content-type"].startswith("text/html")
    # The Agreement page again, the rule's message in its error summary.
    assert "There is a problem" in over.text
    assert "The file is larger than the limit of 1000 bytes." in over.text
    assert listed.json()["items"] == []


# --- reports ------------------------------------------------------------------


async def _opened_report(app: Any, client: httpx.AsyncClient) -> tuple[dict, dict]:
    agreement = await active_agreement(client)
    reporter = agreement["parties"][0]["organization_id"]
    current = await client.get(f"/v1/agreements/{agreement['id']}")
    patched = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"reporting": schedule(reporter)},
        headers={"If-Match": current.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    await sweep_reports(app, dt.date.today())
    report = (await client.get(f"/v1/reports?agreement_id={agreement['id']}")).json()["items"][0]
    return agreement, report


async def test_a_report_is_written_and_submitted_in_one_form(app, client) -> None:
    agreement, report = await _opened_report(app, client)
    key = await make_key(app, ["write"])
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, key) as browsing:
        shown = (await browsing.get(page)).text
        assert f'action="/app/reports/{report["id"]}/draft"' in shown
        submitted = await post_form(
            browsing,
            page,
            f"/app/reports/{report['id']}/draft",
            {
                "version": str(report["version"]),
                "narrative": "Two training cohorts held in Beijing.",
                "challenges": "Visa lead times.",
                "action": "submit",
            },
        )
        assert submitted.status_code == 303, submitted.text
        after = (await browsing.get(submitted.headers["location"])).text
    assert "The report is submitted for review." in after
    stored = (await client.get(f"/v1/reports/{report['id']}")).json()
    assert stored["status"] == "submitted"
    assert stored["narrative"] == "Two training cohorts held in Beijing."
    assert stored["challenges"] == "Visa lead times."
    assert stored["next_steps"] is None
    kinds = [
        kind
        for kind, data in await events_of(app, prefix="report.")
        if data.get("id") == report["id"]
    ]
    assert kinds[-2:] == ["report.updated", "report.submitted"]
    (audit,) = await _audit(app, report["id"], "submitted")
    assert str(audit.api_key_id) == await _key_id(client, key)
    assert audit.request_id


async def test_saving_a_draft_keeps_the_report_open(app, client) -> None:
    agreement, report = await _opened_report(app, client)
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        saved = await post_form(
            browsing,
            page,
            f"/app/reports/{report['id']}/draft",
            {
                "version": str(report["version"]),
                "narrative": "First cohort held.",
                "action": "save",
            },
        )
        shown = (await browsing.get(saved.headers["location"])).text
    assert saved.status_code == 303
    assert "First cohort held.</textarea>" in shown  # the draft is there to go on with
    stored = (await client.get(f"/v1/reports/{report['id']}")).json()
    assert (stored["status"], stored["narrative"]) == ("open", "First cohort held.")


async def test_submitting_without_a_narrative_shows_the_rule_and_saves_nothing(app, client) -> None:
    agreement, report = await _opened_report(app, client)
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await post_form(
            browsing,
            page,
            f"/app/reports/{report['id']}/draft",
            {
                "version": str(report["version"]),
                "narrative": "  ",
                "challenges": "Visa lead times.",
                "action": "submit",
            },
        )
    assert refused.status_code == 409
    assert "Submitting needs a narrative" in refused.text
    assert "Visa lead times.</textarea>" in refused.text
    assert f'<details id="report-{report["id"]}" open>' in refused.text
    stored = (await client.get(f"/v1/reports/{report['id']}")).json()
    assert (stored["status"], stored["challenges"], stored["version"]) == (
        "open",
        None,
        report["version"],
    )
    assert await _audit(app, report["id"], "updated") == []
    assert not [data for kind, data in await events_of(app, prefix="report.updated")]


async def test_a_stale_report_form_is_refused(app, client) -> None:
    agreement, report = await _opened_report(app, client)
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await post_form(
            browsing,
            f"/app/agreements/{agreement['id']}",
            f"/app/reports/{report['id']}/draft",
            {"version": str(report["version"] + 3), "narrative": "Late text", "action": "save"},
        )
    assert refused.status_code == 412
    assert "changed since this page was loaded" in refused.text
    assert "Late text</textarea>" in refused.text
    assert (await client.get(f"/v1/reports/{report['id']}")).json()["narrative"] is None


async def test_a_submitted_report_is_returned_with_a_comment_and_written_again(app, client) -> None:
    agreement, report = await _opened_report(app, client)
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        await post_form(
            browsing,
            page,
            f"/app/reports/{report['id']}/draft",
            {"version": str(report["version"]), "narrative": "Cohort one.", "action": "submit"},
        )
        review_page = (await browsing.get(page)).text
        returned = await post_form(
            browsing,
            page,
            f"/app/reports/{report['id']}/transition",
            {"to": "returned", "comment": "Add the attendance figures."},
        )
        shown = (await browsing.get(returned.headers["location"])).text
    assert f'<label for="report-{report["id"]}-to">Review</label>' in review_page
    assert returned.status_code == 303
    stored = (await client.get(f"/v1/reports/{report['id']}")).json()
    assert (stored["status"], stored["review_comment"]) == (
        "returned",
        "Add the attendance figures.",
    )
    # Returned: its form is open again, with the text written so far.
    assert f'<details id="report-{report["id"]}" open>' in shown
    assert "Cohort one.</textarea>" in shown


async def test_a_bound_reporter_cannot_review_its_own_report(app, client) -> None:
    agreement, report = await _opened_report(app, client)
    reporter = uuid.UUID(report["reporter_organization_id"])
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, await make_key(app, ["write"], organization_id=reporter)) as browsing:
        submitted = await post_form(
            browsing,
            page,
            f"/app/reports/{report['id']}/draft",
            {"version": str(report["version"]), "narrative": "Cohort one.", "action": "submit"},
        )
        refused = await post_form(
            browsing,
            page,
            f"/app/reports/{report['id']}/transition",
            {"to": "accepted", "comment": "Looks fine to us."},
        )
    assert submitted.status_code == 303
    assert refused.status_code == 403
    assert "cannot review its own report" in refused.text
    assert "Looks fine to us.</textarea>" in refused.text
    assert (await client.get(f"/v1/reports/{report['id']}")).json()["status"] == "submitted"


# --- on every form ------------------------------------------------------------


async def test_the_new_forms_need_the_csrf_token(app, client) -> None:
    agreement, report = await _opened_report(app, client)
    party = agreement["parties"][0]["organization_id"]
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        act = await browsing.post(
            f"/app/agreements/{agreement['id']}/party-acts",
            data={"organization_id": party, "act": "signature", "on": "2023-09-04"},
        )
        draft = await browsing.post(
            f"/app/reports/{report['id']}/draft",
            data={"version": str(report["version"]), "narrative": "x", "action": "submit"},
        )
    assert [act.status_code, draft.status_code] == [403, 403]
    assert (await client.get(f"/v1/agreements/{agreement['id']}/party-acts")).json()["items"] == []
    assert (await client.get(f"/v1/reports/{report['id']}")).json()["status"] == "open"


async def test_a_bound_key_cannot_act_on_another_organizations_record(app, client) -> None:
    agreement, report = await _opened_report(app, client)
    party = agreement["parties"][0]["organization_id"]
    outsider = await create_organization(client, country="FR")
    key = await make_key(app, ["write"], organization_id=uuid.UUID(outsider["id"]))
    async with signed_in(app, key) as browsing:
        token = csrf_token((await browsing.get("/app/")).text)
        act = await browsing.post(
            f"/app/agreements/{agreement['id']}/party-acts",
            data={
                "organization_id": party,
                "act": "signature",
                "on": "2023-09-04",
                "csrf_token": token,
            },
        )
        draft = await browsing.post(
            f"/app/reports/{report['id']}/draft",
            data={
                "version": str(report["version"]),
                "narrative": "x",
                "action": "submit",
                "csrf_token": token,
            },
        )
        document = await browsing.post(
            f"/app/documents?agreement_id={agreement['id']}",
            data={"kind": "signed_copy", "csrf_token": token},
            files={"file": ("mou.pdf", pdf_bytes(), "application/pdf")},
        )
    assert [act.status_code, draft.status_code, document.status_code] == [404, 404, 404]
    for response in (act, draft, document):
        assert "text/html" in response.headers["content-type"]
    assert (await client.get(f"/v1/agreements/{agreement['id']}/party-acts")).json()["items"] == []
    assert (await client.get(f"/v1/reports/{report['id']}")).json()["status"] == "open"
    listed = await client.get(
        "/v1/documents", params={"owner_type": "agreement", "owner_id": agreement["id"]}
    )
    assert listed.json()["items"] == []


async def test_a_read_key_sees_no_forms_and_cannot_upload(app, client) -> None:
    agreement = await active_agreement(client)
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        shown = (await browsing.get(f"/app/agreements/{agreement['id']}")).text
        refused = await browsing.post(
            f"/app/documents?agreement_id={agreement['id']}",
            data={"kind": "signed_copy", "csrf_token": csrf_token(shown)},
            files={"file": ("mou.pdf", pdf_bytes(), "application/pdf")},
        )
    assert "Record a party act" not in shown
    assert "Upload a document" not in shown
    assert refused.status_code == 403


async def test_the_agreement_page_with_every_form_is_labelled_and_has_unique_ids(
    app, client
) -> None:
    agreement, _report = await _opened_report(app, client)
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        shown = (await browsing.get(f"/app/agreements/{agreement['id']}")).text
    assert "Record a party act" in shown
    assert "Upload a document" in shown
    assert 'enctype="multipart/form-data"' in shown
    assert parse(shown).h1 == 1
    assert unlabelled_fields(shown) == []
    assert _duplicate_ids(shown) == []
