"""The document size limit holds while the upload streams in, not after."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import pytest

from services.api.app import create_app
from tests.api.legal_factories import document_fields, pdf_bytes
from tests.conftest import client_for, make_key
from tests.factories import create_agreement

MIB = 1024 * 1024
THIRTY_MB = 30 * MIB


def _multipart_head(agreement_id: str, boundary: str) -> bytes:
    head = b""
    for name, value in document_fields("agreement", agreement_id).items():
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="huge.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    return head


class Stream:
    """A multipart body of ``file_bytes`` sent in 64 KiB chunks of one reused buffer,
    so that the client side holds next to nothing; counts what was consumed."""

    def __init__(self, agreement_id: str, file_bytes: int, boundary: str = "accords-test") -> None:
        self.head = _multipart_head(agreement_id, boundary)
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.file_bytes = file_bytes
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.sent = 0

    @property
    def length(self) -> int:
        return len(self.head) + self.file_bytes + len(self.tail)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b"%PDF-1.4\n" + b"%" * (64 * 1024 - 9)
        yield self.head
        remaining = self.file_bytes
        while remaining > 0:
            piece = chunk if remaining >= len(chunk) else chunk[:remaining]
            self.sent += len(piece)
            yield piece
            remaining -= len(piece)
        yield self.tail


@pytest.fixture
async def agreement(client) -> dict:
    return await create_agreement(client)


async def test_a_30_mb_streamed_upload_answers_413_without_holding_it(client, agreement) -> None:
    stream = Stream(agreement["id"], THIRTY_MB)
    tracemalloc.start()
    try:
        response = await client.post(
            "/v1/documents", content=stream, headers={"Content-Type": stream.content_type}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    # Stopped just past the 25 MiB limit, not at the end of the 30 MB.
    assert stream.sent < 26 * MIB
    print(f"\npeak Python allocation during a refused 30 MB upload: {peak / MIB:.2f} MiB")
    assert peak < 4 * MIB


async def test_a_declared_length_over_the_limit_answers_413_before_reading(
    client, agreement
) -> None:
    stream = Stream(agreement["id"], THIRTY_MB)

    response = await client.post(
        "/v1/documents",
        content=stream,
        headers={"Content-Type": stream.content_type, "Content-Length": str(stream.length)},
    )

    assert response.status_code == 413
    assert stream.sent == 0


async def test_an_upload_within_the_limit_is_accepted_past_the_general_body_limit(
    client, agreement
) -> None:
    stream = Stream(agreement["id"], 3 * MIB)

    response = await client.post(
        "/v1/documents", content=stream, headers={"Content-Type": stream.content_type}
    )

    assert response.status_code == 201, response.text
    assert response.json()["size"] == 3 * MIB


@pytest.fixture
async def small_limit_app(settings, engine):  # type: ignore[no-untyped-def]
    application = create_app(settings.model_copy(update={"max_document_bytes": 1000}))
    async with application.router.lifespan_context(application):
        yield application


async def _upload_to(app, size: int):  # type: ignore[no-untyped-def]
    key = await make_key(app, ["admin"])
    async with client_for(app, key) as admin:
        agreement = await create_agreement(admin)
        content = pdf_bytes(padding=size - len(pdf_bytes()))
        assert len(content) == size
        return await admin.post(
            "/v1/documents",
            data=document_fields("agreement", agreement["id"]),
            files={"file": ("mou.pdf", content, "application/pdf")},
        )


async def test_a_file_of_exactly_the_limit_is_accepted(small_limit_app) -> None:
    response = await _upload_to(small_limit_app, 1000)

    assert response.status_code == 201, response.text


async def test_one_byte_over_the_limit_answers_413(small_limit_app) -> None:
    response = await _upload_to(small_limit_app, 1001)

    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]
