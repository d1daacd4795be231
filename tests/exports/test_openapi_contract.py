"""The OpenAPI document says what the API enforces, and the API does what it says."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource

from tests.api.tracking_factories import create_initiative, create_milestone
from tests.factories import create_agreement

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    return (await client.get("/openapi.json")).json()


def operations(openapi: dict[str, Any], *methods: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if method in methods and path.startswith("/v1")
    ]


def header(operation: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next(
        (p for p in operation.get("parameters", []) if p["in"] == "header" and p["name"] == name),
        None,
    )


async def test_every_patch_and_delete_declares_if_match_required(openapi: dict[str, Any]) -> None:
    for path, method, operation in operations(openapi, "patch", "delete"):
        if path in ("/v1/api-keys/{api_key_id}", "/v1/calendar-feeds/{feed_id}"):
            continue  # never changed, only deleted (like api keys): no version to match
        declared = header(operation, "If-Match")
        assert declared is not None and declared["required"] is True, f"{method} {path}"


async def test_every_post_declares_an_optional_idempotency_key(openapi: dict[str, Any]) -> None:
    for path, method, operation in operations(openapi, "post"):
        declared = header(operation, "Idempotency-Key")
        assert declared is not None and declared["required"] is False, f"{method} {path}"


async def test_creates_declare_the_etag_header_and_link_to_their_reads(
    openapi: dict[str, Any],
) -> None:
    created = openapi["paths"]["/v1/agreements"]["post"]["responses"]["201"]
    assert "ETag" in created["headers"]
    targets = {link["operationId"] for link in created["links"].values()}
    get_one = openapi["paths"]["/v1/agreements/{agreement_id}"]["get"]["operationId"]
    assert get_one in targets
    for link in created["links"].values():
        target = next(
            operation
            for _path, _method, operation in operations(
                openapi, "get", "put", "patch", "delete", "post"
            )
            if operation["operationId"] == link["operationId"]
        )
        takes_if_match = header(target, "If-Match") is not None
        expected = {"agreement_id": "$response.body#/id"}
        if takes_if_match:
            # Its first change or its deletion: the new resource's ETag is current.
            expected["header.If-Match"] = "$response.header.ETag"
        assert link["parameters"] == expected, link["operationId"]


async def test_every_create_links_to_the_operations_taking_its_id(
    openapi: dict[str, Any],
) -> None:
    for path, _method, operation in operations(openapi, "post"):
        created = operation["responses"].get("201")
        if created is None:
            continue
        collection = path.rsplit("/", 1)[-1]
        has_item_path = any(
            re.fullmatch(rf"/v1/{collection}/\{{\w+\}}", other) for other in openapi["paths"]
        )
        assert bool(created.get("links")) == has_item_path, path


async def test_a_405_allows_every_method_the_path_takes(client: httpx.AsyncClient) -> None:
    item = await client.put(f"/v1/agreements/{uuid.uuid4()}")
    collection = await client.delete("/v1/agreements")
    assert item.status_code == collection.status_code == 405
    assert item.headers["Allow"] == "DELETE, GET, HEAD, PATCH"
    assert collection.headers["Allow"] == "GET, HEAD, POST"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/v1/agreements", "expires_before"),
        ("/v1/milestones", "due_before"),
        ("/v1/engagements", "starts_before"),
        ("/v1/exports/agreements.csv", "expires_before"),
    ],
)
async def test_a_date_filter_takes_only_a_date(
    client: httpx.AsyncClient, path: str, parameter: str
) -> None:
    refused = await client.get(path, params={parameter: "0"})
    accepted = await client.get(path, params={parameter: "2030-01-01"})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"loc": ["query", parameter], "msg": "must be a date, YYYY-MM-DD"}
    ]
    assert accepted.status_code == 200


async def test_head_answers_every_get_route_with_its_headers_and_no_body(
    client: httpx.AsyncClient, openapi: dict[str, Any]
) -> None:
    agreement = await create_agreement(client)
    initiative = await create_initiative(client, agreement)
    milestone = await create_milestone(client, initiative["id"])
    known = {
        "agreement_id": agreement["id"],
        "initiative_id": initiative["id"],
        "milestone_id": milestone["id"],
        "organization_id": agreement["parties"][0]["organization_id"],
        "format": "csv",
    }
    checked = 0
    for path, _method, _operation in operations(openapi, "get"):
        url = re.sub(r"\{(\w+)\}", lambda m: known.get(m.group(1), str(uuid.uuid4())), path)
        got = await client.get(url)
        head = await client.head(url)
        assert head.status_code == got.status_code, url
        assert head.content == b"", url
        for name in ("content-type", "etag"):
            assert head.headers.get(name) == got.headers.get(name), (url, name)
        checked += 1
    assert checked > 20


async def test_the_readme_etag_step_works_with_head(client: httpx.AsyncClient) -> None:
    agreement = await create_agreement(client)
    etag = (await client.head(f"/v1/agreements/{agreement['id']}")).headers["ETag"]
    response = await client.patch(
        f"/v1/agreements/{agreement['id']}",
        json={"summary": "Implementation planned during the delegation visit."},
        headers={"If-Match": etag},
    )
    assert response.status_code == 200


async def test_every_schema_carries_an_example_that_validates(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    registry = Registry().with_resource(
        "urn:accords", Resource.from_contents({**openapi, "$schema": DRAFT_2020_12})
    )
    for name, schema in schemas.items():
        examples = schema.get("examples") or ([schema["example"]] if "example" in schema else [])
        assert examples, name
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"urn:accords#/components/schemas/{name}"}, registry=registry
        )
        errors = [error.message for error in validator.iter_errors(examples[0])]
        assert errors == [], name


@pytest.mark.parametrize(
    "resource",
    ["agreements", "initiatives", "milestones", "engagements", "indicators", "reports"],
)
async def test_an_export_takes_exactly_its_list_routes_filters(
    openapi: dict[str, Any], resource: str
) -> None:
    def query(path: str) -> list[dict[str, Any]]:
        parameters = openapi["paths"][path]["get"]["parameters"]
        return [
            p for p in parameters if p["in"] == "query" and p["name"] not in ("limit", "cursor")
        ]

    assert query(f"/v1/exports/{resource}.{{format}}") == query(f"/v1/{resource}")
