"""Benchmark data, created through the API so it is shaped as users' data is."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from typing import Any

import httpx

COUNTRIES = ["PK", "CN", "TR", "MY", "ID", "EG", "KE", "BR", "DE", "GB", "SA", "AE", "UZ", "KZ"]
ORGANIZATION_KINDS = [
    "government_agency",
    "research_institute",
    "university",
    "company",
    "ngo",
    "intergovernmental",
]
INSTRUMENT_TYPES = ["mou", "moa", "framework_agreement", "letter_of_intent"]
FOCUS_AREAS = [
    "policymaker capacity building",
    "innovation ecosystems",
    "collaborative research",
    "technology zones",
    "digital economy",
    "renewable energy",
    "agritech",
    "public health",
]
OBJECTIVES = [
    "Train policymakers on technology-zone governance",
    "Connect incubators and venture networks across both countries",
    "Run joint research calls in applied sciences",
    "Draft a strategic plan for the next generation of technology zones",
    "Exchange researchers and graduate students every year",
]
NON_SIGNATORY_ROLES = ["implementing_partner", "funder", "witness", "observer"]
CONCURRENT_REQUESTS = 8


@dataclasses.dataclass(frozen=True)
class Dataset:
    """What seeding created, for scenarios to build their request paths from."""

    organization_ids: list[str]
    agreement_ids: list[str]
    # With ``initiatives_per_agreement``: the initiatives and their milestones.
    initiative_ids: list[str] = dataclasses.field(default_factory=list)
    milestone_ids: list[str] = dataclasses.field(default_factory=list)
    # An event id a few pages into the feed, once the relay has positioned them.
    feed_after: str = ""


def organization_body(index: int, rng: random.Random) -> dict[str, Any]:
    return {
        "name": f"Bench Organization {index:03d}",
        "acronym": f"BO{index:03d}",
        "kind": rng.choice(ORGANIZATION_KINDS),
        "country": rng.choice(COUNTRIES),
    }


def agreement_body(index: int, organization_ids: list[str], rng: random.Random) -> dict[str, Any]:
    """An MoU between two signatories, sometimes with partners, funders or witnesses."""
    chosen = rng.sample(organization_ids, k=rng.choice([2, 2, 3, 4]))
    parties = [{"organization_id": id_, "role": "signatory"} for id_ in chosen[:2]]
    parties += [
        {"organization_id": id_, "role": rng.choice(NON_SIGNATORY_ROLES)} for id_ in chosen[2:]
    ]
    objectives = [
        {"ref": f"O{number}", "text": text}
        for number, text in enumerate(rng.sample(OBJECTIVES, k=rng.randint(2, 4)), start=1)
    ]
    return {
        "reference": f"BENCH-{index:04d}",
        "title": f"Memorandum of understanding on technology cooperation no. {index}",
        "instrument_type": rng.choice(INSTRUMENT_TYPES),
        "legal_character": "non_binding",
        "summary": "Cooperation on technology zones, innovation ecosystems and joint research, "
        "with capacity building for policymakers and a delegation visit to plan implementation.",
        "focus_areas": rng.sample(FOCUS_AREAS, k=rng.randint(1, 3)),
        "objectives": objectives,
        "signed_at": "Bench Conference on Technology Zones",
        "effective_from": "2025-01-01",
        "expires_on": "2030-01-01",
        "parties": parties,
    }


def initiative_body(index: int, agreement: dict[str, Any]) -> dict[str, Any]:
    objective = agreement["objectives"][index % len(agreement["objectives"])]
    return {
        "title": f"Initiative {index + 1}: {objective['text']}",
        "objective_ref": objective["ref"],
        "lead_organization_id": agreement["parties"][index % 2]["organization_id"],
        "planned_start": "2025-02-01",
        "planned_end": "2027-12-31",
    }


def milestone_body(index: int, rng: random.Random) -> dict[str, Any]:
    done = index == 0
    return {
        "title": f"Milestone {index + 1}",
        "due_on": f"20{rng.choice(['25', '26', '27'])}-{rng.randint(1, 12):02d}-15",
        "status": "done" if done else "pending",
        **({"completed_on": "2025-06-01"} if done else {}),
    }


async def seed(
    base_url: str,
    api_key: str,
    *,
    organizations: int,
    agreements: int,
    initiatives_per_agreement: int = 0,
    milestones_per_initiative: int = 0,
) -> Dataset:
    """Create organizations, then agreements between them (and what carries them out)."""
    if organizations < 4:
        raise ValueError("seeding needs at least 4 organizations")
    rng = random.Random(20250101)  # the same data on every run
    semaphore = asyncio.Semaphore(CONCURRENT_REQUESTS)
    async with httpx.AsyncClient(
        base_url=base_url,
        headers={"Authorization": f"Bearer {api_key}"},
        limits=httpx.Limits(max_connections=CONCURRENT_REQUESTS),
        timeout=30,
    ) as client:

        async def create(path: str, body: dict[str, Any]) -> str:
            async with semaphore:
                response = await client.post(path, json=body)
            if response.status_code != 201:
                raise RuntimeError(
                    f"POST {path} answered {response.status_code}: {response.text[:1000]}"
                )
            return str(response.json()["id"])

        organization_bodies = [organization_body(index, rng) for index in range(organizations)]
        organization_ids = list(
            await asyncio.gather(
                *(create("/v1/organizations", body) for body in organization_bodies)
            )
        )
        agreement_bodies = [
            agreement_body(index, organization_ids, rng) for index in range(agreements)
        ]
        agreement_ids = list(
            await asyncio.gather(*(create("/v1/agreements", body) for body in agreement_bodies))
        )
        initiative_ids = list(
            await asyncio.gather(
                *(
                    create(f"/v1/agreements/{agreement_id}/initiatives", initiative_body(n, body))
                    for agreement_id, body in zip(agreement_ids, agreement_bodies, strict=True)
                    for n in range(initiatives_per_agreement)
                )
            )
        )
        milestone_ids = list(
            await asyncio.gather(
                *(
                    create(f"/v1/initiatives/{initiative_id}/milestones", milestone_body(n, rng))
                    for initiative_id in initiative_ids
                    for n in range(milestones_per_initiative)
                )
            )
        )
    return Dataset(
        organization_ids=organization_ids,
        agreement_ids=agreement_ids,
        initiative_ids=initiative_ids,
        milestone_ids=milestone_ids,
    )
