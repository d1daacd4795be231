"""Small plain functions building contacts, focal points and documents for tests."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

_counter = itertools.count(1)


def contact_body(**overrides: Any) -> dict[str, Any]:
    number = next(_counter)
    body: dict[str, Any] = {
        "name": f"Person {number}",
        "email": f"person{number}@example.org",
        "title": "Director, International Cooperation",
        "phone": "+92 51 9201234",
        "languages": ["en", "ur"],
    }
    body.update(overrides)
    return body


async def create_contact(
    client: httpx.AsyncClient, organization_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/organizations/{organization_id}/contacts", json=contact_body(**overrides)
    )
    assert response.status_code == 201, response.text
    return response.json()


async def put_focal_points(
    client: httpx.AsyncClient, agreement_id: str, points: list[tuple[str, str]]
) -> httpx.Response:
    return await client.put(
        f"/v1/agreements/{agreement_id}/focal-points",
        json={"focal_points": [{"contact_id": cid, "role": role} for cid, role in points]},
    )


def pdf_bytes(padding: int = 0) -> bytes:
    """A small PDF (its signature is all the sniffer needs), padded to taste."""
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        + b"%" * padding
        + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )


def elf_bytes() -> bytes:
    """The start of an x86-64 ELF executable."""
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 100


def document_fields(owner_type: str, owner_id: str, **overrides: Any) -> dict[str, str]:
    fields = {"owner_type": owner_type, "owner_id": owner_id, "kind": "signed_copy"}
    fields.update({name: str(value) for name, value in overrides.items()})
    return fields


async def upload(
    client: httpx.AsyncClient,
    owner_type: str,
    owner_id: str,
    content: bytes | None = None,
    *,
    filename: str = "mou-signed.pdf",
    content_type: str = "application/pdf",
    **fields: Any,
) -> httpx.Response:
    return await client.post(
        "/v1/documents",
        data=document_fields(owner_type, owner_id, **fields),
        files={"file": (filename, pdf_bytes() if content is None else content, content_type)},
    )


async def create_document(
    client: httpx.AsyncClient,
    owner_type: str,
    owner_id: str,
    content: bytes | None = None,
    **kw: Any,
) -> dict[str, Any]:
    response = await upload(client, owner_type, owner_id, content, **kw)
    assert response.status_code == 201, response.text
    return response.json()
