"""The pages: what they show, for whom, and that they stay on this host."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.api.tracking_factories import (
    active_agreement,
    create_engagement,
    create_initiative,
    create_milestone,
)
from tests.conftest import make_key
from tests.dashboard.browsing import signed_in
from tests.dashboard.html import foreign_urls, parse, unlabelled_fields
from tests.factories import create_agreement, create_organization, transition


async def _story(client) -> dict:  # type: ignore[no-untyped-def]
    """An active agreement with an initiative, an overdue and a future milestone."""
    agreement = await active_agreement(
        client, reference="STZA-GEI-MOU-2023", focus_areas=["capacity building"]
    )
    initiative = await create_initiative(client, agreement)
    overdue = await create_milestone(
        client, initiative["id"], title="Baseline study", due_on="2024-01-31"
    )
    future = await create_milestone(client, initiative["id"], title="Curriculum agreed")
    await create_engagement(client, agreement)
    return {"agreement": agreement, "initiative": initiative, "overdue": overdue, "future": future}


async def test_the_portfolio_lists_agreements_with_health_progress_and_next_due(
    app, client
) -> None:
    story = await _story(client)
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        page = (await browsing.get("/app/")).text
    assert "STZA-GEI-MOU-2023" in page
    assert f'href="/app/agreements/{story["agreement"]["id"]}"' in page
    assert re.search(
        r'class="badge health-\w+"><span class="visually-hidden">Health: </span>', page
    )
    assert "0% done" in page
    assert "Curriculum agreed" in page  # next due
    assert "<svg" in page and "Agreements by health" in page


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("?country=CN", "AGR-CN", "AGR-FR"),
        ("?country=fr", "AGR-FR", "AGR-CN"),
        ("?status=draft", "AGR-FR", "AGR-CN"),
        ("?focus_area=fisheries", "AGR-FR", "AGR-CN"),
        ("?q=ocean", "AGR-FR", "AGR-CN"),
    ],
)
async def test_portfolio_filters(app, client, query, shown, hidden) -> None:
    pk = await create_organization(client, country="PK")
    cn = await create_organization(client, country="CN")
    fr = await create_organization(client, country="FR")
    with_cn = await create_agreement(client, [pk, cn], reference="AGR-CN", signed_on="2023-09-04")
    await create_agreement(
        client, [pk, fr], reference="AGR-FR", title="Ocean science", focus_areas=["fisheries"]
    )
    assert (await transition(client, with_cn["id"], "negotiation")).status_code == 200
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        page = (await browsing.get(f"/app/{query}")).text
    assert shown in page
    assert hidden not in page


async def test_a_bad_filter_shows_an_error_summary_linking_to_the_field(app) -> None:
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        response = await browsing.get("/app/?country=Pakistan")
    assert response.status_code == 422
    assert 'href="#country"' in response.text
    assert 'value="Pakistan"' in response.text  # what was typed stays


async def test_the_portfolio_pages_through_agreements(app, client) -> None:
    parties = [await create_organization(client), await create_organization(client)]
    for number in range(27):
        await create_agreement(client, parties, reference=f"PAGE-{number:03d}")
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        first = (await browsing.get("/app/")).text
        next_link = re.search(r'href="(/app/\?cursor=[^"]+)" rel="next"', first)
        assert next_link, first
        second = (await browsing.get(next_link.group(1).replace("&amp;", "&"))).text
    assert "PAGE-000" in first and "PAGE-024" in first and "PAGE-025" not in first
    assert "PAGE-025" in second and "PAGE-026" in second and "PAGE-000" not in second


async def test_the_agreement_page_shows_every_section(app, client) -> None:
    story = await _story(client)
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        page = (await browsing.get(f"/app/agreements/{story['agreement']['id']}")).text
    for section in (
        "terms",
        "parties",
        "lifecycle",
        "objectives",
        "initiatives",
        "milestones",
        "engagements",
        "research",
    ):
        assert f'<section id="{section}"' in page, section
    assert "Policymaker training programme" in page
    assert re.search(r'<tr class="overdue" id="milestone-' + story["overdue"]["id"], page)
    assert "Milestones due by month" in page
    assert "Not covered" in page  # O2 has no initiative


async def test_attention_lists_overdue_milestones_expiring_and_dormant_agreements(
    app, client
) -> None:
    import datetime as dt

    story = await _story(client)
    soon = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    await active_agreement(client, reference="EXPIRING-SOON", expires_on=soon)
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        page = (await browsing.get("/app/attention")).text
    assert "Baseline study" in page
    assert "Overdue" in page
    assert "EXPIRING-SOON" in page
    assert "Dormant" in page
    assert story["agreement"]["reference"] in page


async def test_attention_shows_the_longest_overdue_first_and_says_when_it_lists_only_some(
    app, client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.dashboard import attention

    monkeypatch.setattr(attention, "LIMIT", 2)
    story = await _story(client)  # "Baseline study", due 2024-01-31
    initiative = story["initiative"]["id"]
    # Made later (greater ids) but longer overdue, and one overdue least of all.
    await create_milestone(client, initiative, title="Inception workshop", due_on="2023-06-30")
    await create_milestone(client, initiative, title="Scoping note", due_on="2024-06-30")
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        page = (await browsing.get("/app/attention")).text
    assert "Overdue milestones (2+)" in page
    assert "Only the 2 longest overdue are listed." in page
    assert page.index("Inception workshop") < page.index("Baseline study")
    assert "Scoping note" not in page
    monkeypatch.setattr(attention, "LIMIT", 3)
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        page = (await browsing.get("/app/attention")).text
    assert "Overdue milestones (3)</h2>" in page and "Scoping note" in page
    assert "are listed." not in page


async def test_the_organization_page_lists_its_agreements(app, client) -> None:
    story = await _story(client)
    party = story["agreement"]["parties"][0]["organization_id"]
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        page = (await browsing.get(f"/app/organizations/{party}")).text
    assert "STZA-GEI-MOU-2023" in page
    assert parse(page).h1 == 1


async def test_a_bound_keys_session_gets_a_404_page_for_another_organizations_agreement(
    app, client
) -> None:
    story = await _story(client)
    outsider = await create_organization(client, country="FR")
    theirs = await create_agreement(
        client, [outsider, await create_organization(client, country="DE")], reference="OTHER-1"
    )
    key = await make_key(app, ["write"], organization_id=uuid.UUID(outsider["id"]))
    async with signed_in(app, key) as browsing:
        hidden = await browsing.get(f"/app/agreements/{story['agreement']['id']}")
        portfolio = (await browsing.get("/app/")).text
        own = await browsing.get(f"/app/agreements/{theirs['id']}")
    assert hidden.status_code == 404
    assert "text/html" in hidden.headers["content-type"]
    assert "Page not found" in hidden.text
    assert "STZA-GEI-MOU-2023" not in portfolio
    assert "OTHER-1" in portfolio
    assert own.status_code == 200


async def test_an_unknown_agreement_or_a_malformed_id_is_a_404_page(app) -> None:
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        unknown = await browsing.get("/app/agreements/0190f5d4-0000-7000-8000-000000000000")
        malformed = await browsing.get("/app/agreements/not-an-id")
        nowhere = await browsing.get("/app/nowhere")
    for response in (unknown, malformed, nowhere):
        assert response.status_code == 404
        assert "text/html" in response.headers["content-type"]


async def test_every_page_stays_on_this_host_has_one_h1_and_labels_every_field(app, client) -> None:
    story = await _story(client)
    agreement_id = story["agreement"]["id"]
    party = story["agreement"]["parties"][0]["organization_id"]
    paths = [
        "/app/",
        f"/app/agreements/{agreement_id}",
        "/app/attention",
        f"/app/organizations/{party}",
        "/app/?country=xx1",
    ]
    async with signed_in(app, await make_key(app, ["write"])) as browsing:
        pages = {path: (await browsing.get(path)).text for path in paths}
        browsing.cookies.clear()
        pages["/app/login"] = (await browsing.get("/app/login")).text
    for path, html in pages.items():
        assert foreign_urls(html) == [], path
        assert parse(html).h1 == 1, path
        assert unlabelled_fields(html) == [], path


async def test_pages_tell_the_browser_to_load_nothing_from_elsewhere(app) -> None:
    async with signed_in(app, await make_key(app, ["read"])) as browsing:
        response = await browsing.get("/app/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'none'" in policy
    assert response.headers["cache-control"] == "no-store"
