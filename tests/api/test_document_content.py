from __future__ import annotations

import hashlib
import os

import pytest

from shared.documents.service import CHUNK_BYTES
from tests.api.legal_factories import create_document, pdf_bytes
from tests.factories import create_agreement

# Larger than two slices, so that ranges cross slice boundaries.
CONTENT = pdf_bytes(padding=2 * CHUNK_BYTES + 1000)


@pytest.fixture
async def document(client) -> dict:
    agreement = await create_agreement(client)
    return await create_document(client, "agreement", agreement["id"], CONTENT)


def _content_path(document: dict) -> str:
    return f"/v1/documents/{document['id']}/content"


async def test_download_answers_the_bytes_with_their_headers(client, document) -> None:
    response = await client.get(_content_path(document))

    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-length"] == str(len(CONTENT))
    assert response.headers["content-disposition"] == 'attachment; filename="mou-signed.pdf"'
    assert response.headers["etag"] == f'"{hashlib.sha256(CONTENT).hexdigest()}"'
    assert response.headers["accept-ranges"] == "bytes"


async def test_a_range_of_the_first_100_bytes_answers_206_with_exactly_them(
    client, document
) -> None:
    response = await client.get(_content_path(document), headers={"Range": "bytes=0-99"})

    assert response.status_code == 206
    assert response.content == CONTENT[:100]
    assert len(response.content) == 100
    assert response.headers["content-range"] == f"bytes 0-99/{len(CONTENT)}"
    assert response.headers["content-length"] == "100"


async def test_a_range_across_slices_answers_those_bytes(client, document) -> None:
    start, end = CHUNK_BYTES - 10, 2 * CHUNK_BYTES + 10

    response = await client.get(_content_path(document), headers={"Range": f"bytes={start}-{end}"})

    assert response.status_code == 206
    assert response.content == CONTENT[start : end + 1]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=-10", slice(-10, None)),
        (f"bytes={len(CONTENT) - 5}-", slice(-5, None)),
        (f"bytes=10-{len(CONTENT) + 500}", slice(10, None)),
    ],
)
async def test_suffix_and_open_ranges(client, document, header, expected) -> None:
    response = await client.get(_content_path(document), headers={"Range": header})

    assert response.status_code == 206
    assert response.content == CONTENT[expected]


async def test_a_range_past_the_end_answers_416(client, document) -> None:
    response = await client.get(
        _content_path(document), headers={"Range": f"bytes={len(CONTENT)}-"}
    )

    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("header", ["items=0-10", "bytes=0-1,5-6", "bytes=9-3", "bytes=abc"])
async def test_a_range_it_does_not_understand_is_ignored(client, document, header) -> None:
    response = await client.get(_content_path(document), headers={"Range": header})

    assert response.status_code == 200
    assert len(response.content) == len(CONTENT)


async def test_if_range_with_another_etag_answers_the_whole_document(client, document) -> None:
    response = await client.get(
        _content_path(document), headers={"Range": "bytes=0-9", "If-Range": '"other"'}
    )

    assert response.status_code == 200
    assert len(response.content) == len(CONTENT)


async def test_if_none_match_with_the_etag_answers_304(client, document) -> None:
    etag = f'"{document["sha256"]}"'

    response = await client.get(_content_path(document), headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.content == b""


async def test_head_answers_the_headers_alone(client, document) -> None:
    response = await client.head(_content_path(document))

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len(CONTENT))
    assert response.headers["etag"] == f'"{document["sha256"]}"'


async def test_head_with_a_range_answers_206_headers(client, document) -> None:
    response = await client.head(_content_path(document), headers={"Range": "bytes=0-99"})

    assert response.status_code == 206
    assert response.headers["content-length"] == "100"


async def test_a_non_ascii_filename_is_encoded_as_rfc_5987(client) -> None:
    agreement = await create_agreement(client)
    document = await create_document(
        client, "agreement", agreement["id"], filename="谅解备忘录 signed.pdf"
    )

    response = await client.get(_content_path(document))

    assert response.headers["content-disposition"] == (
        'attachment; filename="signed.pdf"; '
        "filename*=UTF-8''%E8%B0%85%E8%A7%A3%E5%A4%87%E5%BF%98%E5%BD%95%20signed.pdf"
    )
    assert document["filename"] == "谅解备忘录 signed.pdf"


async def test_text_is_served_as_utf8(client) -> None:
    agreement = await create_agreement(client)
    document = await create_document(
        client, "agreement", agreement["id"], "Minutes — 纪要\n".encode(), filename="minutes.txt"
    )

    response = await client.get(_content_path(document))

    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Minutes — 纪要\n"


async def test_random_bytes_survive_the_round_trip(client) -> None:
    agreement = await create_agreement(client)
    content = pdf_bytes() + os.urandom(CHUNK_BYTES + 7)
    document = await create_document(client, "agreement", agreement["id"], content)

    response = await client.get(_content_path(document))

    assert hashlib.sha256(response.content).hexdigest() == document["sha256"]
