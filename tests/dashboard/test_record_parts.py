"""Indicators, reports, documents and contacts on the pages, as /v1 shows them."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.api.legal_factories import create_contact, create_document, pdf_bytes
from tests.api.results_factories import create_indicator, measure, schedule, sweep_reports
from tests.api.tracking_factories import active_agreement, create_initiative
from tests.conftest import make_key
from tests.dashboard.browsing import post_form, signed_in
from tests.dashboard.html import foreign_urls
from tests.factories import create_organization


async def test_the_agreement_page_shows_indicators_with_their_achievement(app, client) -> None:
    agreement = await active_agreement(client)
    initiative = await create_initiative(client, agreement)
    indicator = await create_indicator(client, initiative["id"])
    await measure(client, indicator["id"], 35)
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        page = (await browsing.get(f"/app/agreements/{agreement['id']}")).text
    assert '<section id="indicators"' in page
    assert "Policymakers trained" in page
    assert "29% achieved" in page


async def test_documents_are_listed_and_download_through_the_session(app, client) -> None:
    agreement = await active_agreement(client)
    document = await create_document(client, "agreement", agreement["id"], title="Signed MoU")
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        page = (await browsing.get(f"/app/agreements/{agreement['id']}")).text
        download = await browsing.get(f"/app/documents/{document['id']}/content")
    assert f'href="/app/documents/{document["id"]}/content"' in page
    assert foreign_urls(page) == []
    assert download.status_code == 200
    assert download.content == pdf_bytes()
    assert download.headers["content-type"].startswith("application/pdf")


async def test_a_bound_key_cannot_download_another_organizations_document(app, client) -> None:
    agreement = await active_agreement(client)
    document = await create_document(client, "agreement", agreement["id"])
    outsider = await create_organization(client, country="FR")
    key = await make_key(app, ["read"], organization_id=uuid.UUID(outsider["id"]))
    async with signed_in(app, key) as browsing:
        response = await browsing.get(f"/app/documents/{document['id']}/content")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]


async def test_overdue_reports_show_on_the_agreement_and_attention_pages(app, client) -> None:
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
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        page = (await browsing.get(f"/app/agreements/{agreement['id']}")).text
        attention = (await browsing.get("/app/attention")).text
    assert '<section id="reports"' in page
    assert "Overdue" in page
    assert "Reports overdue or due within 30 days" in attention
    assert f'href="/app/agreements/{agreement["id"]}#reports"' in attention


async def test_the_organization_page_lists_its_contacts(app, client) -> None:
    organization = await create_organization(client)
    await create_contact(client, organization["id"], name="Amina Qureshi")
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        page = (await browsing.get(f"/app/organizations/{organization['id']}")).text
    assert '<section id="contacts"' in page
    assert "Amina Qureshi" in page


async def _opened_report(app, client) -> tuple[dict, dict]:  # type: ignore[no-untyped-def]
    agreement = await active_agreement(client)
    reporter = agreement["parties"][0]["organization_id"]
    current = await client.get(f"/v1/agreements/{agreement['id']}")
    await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"reporting": schedule(reporter)},
        headers={"If-Match": current.headers["etag"]},
    )
    await sweep_reports(app, dt.date.today())
    report = (await client.get(f"/v1/reports?agreement_id={agreement['id']}")).json()["items"][0]
    return agreement, report


async def test_submitting_a_report_without_a_narrative_shows_the_rule(app, client) -> None:
    agreement, report = await _opened_report(app, client)
    page = f"/app/agreements/{agreement['id']}"
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        refused = await post_form(
            browsing, page, f"/app/reports/{report['id']}/transition", {"to": "submitted"}
        )
    assert refused.status_code == 409
    assert "Submitting needs a narrative" in refused.text
    assert (await client.get(f"/v1/reports/{report['id']}")).json()["status"] == "open"


async def test_a_report_is_submitted_and_accepted_from_the_page(app, client) -> None:
    agreement, report = await _opened_report(app, client)
    etag = (await client.get(f"/v1/reports/{report['id']}")).headers["etag"]
    await client.patch(
        f"/v1/reports/{report['id']}",
        json={"narrative": "Two cohorts trained."},
        headers={"If-Match": etag},
    )
    page = f"/app/agreements/{agreement['id']}"
    action = f"/app/reports/{report['id']}/transition"
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        submitted = await post_form(browsing, page, action, {"to": "submitted"})
        accepted = await post_form(
            browsing, page, action, {"to": "accepted", "comment": "Thank you; accepted."}
        )
    assert [submitted.status_code, accepted.status_code] == [303, 303]
    stored = (await client.get(f"/v1/reports/{report['id']}")).json()
    assert stored["status"] == "accepted"
    assert stored["review_comment"] == "Thank you; accepted."
