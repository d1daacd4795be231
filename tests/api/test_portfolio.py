"""The portfolio rollup's counts, counted by the database, on both databases."""

from __future__ import annotations

import uuid

from tests.conftest import client_for, make_key
from tests.factories import create_agreement, create_organization, transition


async def test_the_portfolio_counts_pairs_areas_statuses_and_healths(app, client) -> None:
    pk, pk_too = [await create_organization(client, country="PK") for _ in range(2)]
    cn = await create_organization(client, country="CN")
    tr = await create_organization(client, country="TR")
    await create_agreement(client, [pk, cn], focus_areas=["zones", "research"])
    one_country = await create_agreement(client, [pk, pk_too], focus_areas=["zones"])
    await create_agreement(client, [cn, pk, tr], focus_areas=["research"])
    await transition(client, one_country["id"], "negotiation")

    body = (await client.get("/v1/rollups/portfolio")).json()

    assert body == {
        "total": 3,
        "by_health": {"pending": 3},
        "by_status": {"draft": 2, "negotiation": 1},
        # Three countries make three pairs; one country pairs with itself.
        "by_country_pair": {"CN-PK": 2, "CN-TR": 1, "PK-PK": 1, "PK-TR": 1},
        "by_focus_area": {"research": 2, "zones": 2},
        "achievement": None,
    }


async def test_a_bound_key_and_the_organization_filter_count_only_their_agreements(
    app, client
) -> None:
    pk, cn, tr = [await create_organization(client, country=code) for code in ("PK", "CN", "TR")]
    await create_agreement(client, [pk, cn])
    await create_agreement(client, [tr, cn], focus_areas=["agritech"])
    key = await make_key(app, ["read"], organization_id=uuid.UUID(tr["id"]))

    async with client_for(app, key) as bound:
        seen = (await bound.get("/v1/rollups/portfolio")).json()
    filtered = (await client.get(f"/v1/rollups/portfolio?organization_id={pk['id']}")).json()

    assert (seen["total"], seen["by_country_pair"], seen["by_focus_area"]) == (
        1,
        {"CN-TR": 1},
        {"agritech": 1},
    )
    assert (filtered["total"], filtered["by_country_pair"]) == (1, {"CN-PK": 1})


async def test_an_empty_portfolio_counts_nothing(client) -> None:
    assert (await client.get("/v1/rollups/portfolio")).json() == {
        "total": 0,
        "by_health": {},
        "by_status": {},
        "by_country_pair": {},
        "by_focus_area": {},
        "achievement": None,
    }
