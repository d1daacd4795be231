"""Who is calling: the bearer key of a request and the principal it stands for.

One reading of ``Authorization: Bearer <key>`` for every part of the edge
that looks at it: the auth dependency (:mod:`services.api.deps`) and the rate
limit (which counts before routing). Plain functions over header values and
ASGI scopes, no I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Protocol

from starlette.types import Scope

from shared.events import Actor

BEARER_CHALLENGE = 'Bearer realm="accords"'


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    api_key_id: uuid.UUID
    scopes: frozenset[str]
    organization_id: uuid.UUID | None
    request_id: str | None

    @property
    def actor(self) -> Actor:
        return Actor(api_key_id=self.api_key_id, request_id=self.request_id)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes


class KeyRow(Protocol):
    """What a key lookup (database or cache) answers."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def scopes(self) -> list[str]: ...
    @property
    def organization_id(self) -> uuid.UUID | None: ...


def principal_for(row: KeyRow, *, request_id: str | None) -> Principal:
    """The principal of a looked-up key."""
    return Principal(
        api_key_id=row.id,
        scopes=frozenset(row.scopes),
        organization_id=row.organization_id,
        request_id=request_id,
    )


def parse_bearer(authorization: str | None) -> str | None:
    """The key of an ``Authorization`` header value; None unless it is ``Bearer <key>``."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def authorization_header(scope: Scope) -> str | None:
    """The first ``Authorization`` header of an ASGI request, as Starlette decodes it."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return value.decode("latin-1")
    return None


def bearer_token(scope: Scope) -> str | None:
    """The bearer key of an ASGI request, read as the auth dependency reads it."""
    return parse_bearer(authorization_header(scope))
