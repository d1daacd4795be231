"""What `make bench` measures: the reads a dashboard or an integrator makes, and a create.

Each read scenario lists the request paths it cycles through; the floor
(bench/floor.py) serves, for the same path, the bytes the API answered it
before the run. To add a read, append a :class:`Scenario` to :data:`READS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from bench.seed import Dataset


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One request shape, sent to the API and to the floor alike."""

    name: str
    description: str
    paths: Callable[[Dataset], list[str]]


def _each(template: str, ids: Callable[[Dataset], list[str]]) -> Callable[[Dataset], list[str]]:
    return lambda data: [template.format(id=id_) for id_ in ids(data)]


def _agreements(data: Dataset) -> list[str]:
    return data.agreement_ids


def _first_agreements(data: Dataset) -> list[str]:
    # Agreements whose record is worth a page: the first 50 (all are alike).
    return data.agreement_ids[:50]


READS: list[Scenario] = [
    Scenario(
        "agreement-by-id",
        "GET one agreement with its parties, cycling over every seeded id",
        _each("/v1/agreements/{id}", _agreements),
    ),
    Scenario(
        "agreements-filtered-50",
        "GET a filtered page of 50 agreements (status)",
        lambda data: ["/v1/agreements?status=draft&limit=50"],
    ),
    Scenario(
        "initiatives-filtered-50",
        "GET a filtered page of 50 initiatives (status)",
        lambda data: ["/v1/initiatives?status=planned&limit=50"],
    ),
    Scenario(
        "milestones-filtered-50",
        "GET a filtered page of 50 milestones (status pending)",
        lambda data: ["/v1/milestones?status=pending&limit=50"],
    ),
    Scenario(
        "agreement-rollup",
        "GET an agreement's rollup, cycling over every agreement",
        _each("/v1/agreements/{id}/rollup", _agreements),
    ),
    Scenario(
        "initiative-rollup",
        "GET an initiative's rollup, cycling over every initiative",
        _each("/v1/initiatives/{id}/rollup", lambda data: data.initiative_ids),
    ),
    Scenario(
        "portfolio-rollup",
        "GET the portfolio rollup over every agreement",
        lambda data: ["/v1/rollups/portfolio"],
    ),
    Scenario(
        "events-feed-50",
        "GET a page of 50 events of the feed, a few pages in",
        lambda data: [f"/v1/events?limit=50&after={data.feed_after}"],
    ),
    Scenario(
        "agreement-history",
        "GET an agreement's lifecycle history",
        _each("/v1/agreements/{id}/history", _agreements),
    ),
    Scenario(
        "agreement-versions",
        "GET an agreement's terms versions",
        _each("/v1/agreements/{id}/versions", _agreements),
    ),
    Scenario(
        "agreement-iati",
        "GET one agreement's IATI 2.03 activity document",
        _each("/v1/agreements/{id}/iati.xml", _first_agreements),
    ),
    Scenario(
        "page-portfolio",
        "GET the dashboard's portfolio page (a signed-in session)",
        lambda data: ["/app/"],
    ),
    Scenario(
        "page-agreement",
        "GET the dashboard's page of one agreement (a signed-in session)",
        _each("/app/agreements/{id}", _first_agreements),
    ),
]

CREATE = Scenario(
    "agreement-create",
    "POST a new agreement with two parties (its row, parties, event and audit row)",
    lambda data: ["/v1/agreements"],
)
