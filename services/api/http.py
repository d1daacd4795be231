"""HTTP mechanics shared by every resource: ETags, preconditions, pagination."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar, get_args

from fastapi import Header, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

from shared.errors import DomainError, PreconditionFailed, PreconditionRequired

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``cursor`` to get the next."""

    items: list[T]
    next_cursor: str | None = Field(description="Opaque cursor of the next page; null at the end.")


class InvalidCursor(DomainError):
    status = 400
    type_slug = "invalid-cursor"
    title = "Invalid cursor"


LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size (1-200).")]
CursorQuery = Annotated[
    str | None,
    Query(max_length=200, description="The `next_cursor` of the previous page."),
]
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The resource's current ETag; required to change or delete it.",
    ),
]


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    """The id after which the page starts; ids are time-ordered UUIDs."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, binascii.Error) as exc:
        raise InvalidCursor("The cursor is not one this API gave out.") from exc


def page_of(rows: list[T], limit: int, key: Callable[[T], uuid.UUID]) -> tuple[list[T], str | None]:
    """Split the ``limit + 1`` rows a list query fetched into a page and its cursor."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(key(rows[-1]))
    return rows, None


def etag_for(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag_for(version)


def check_if_match(if_match: str | None, version: int) -> None:
    """Enforce optimistic concurrency: 428 without If-Match, 412 when it is stale."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "This change needs an If-Match header with the resource's current ETag."
        )
    current = etag_for(version)
    for candidate in (part.strip() for part in if_match.split(",")):
        # Weak validators never match for If-Match (RFC 9110 section 13.1.1).
        if candidate == "*" or candidate == current:
            return
    raise PreconditionFailed(
        f"The resource has changed; its current ETag is {current}.", etag=current
    )


_known_query_params: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _is_date(annotation: Any) -> bool:
    return annotation is dt.date or dt.date in get_args(annotation)


def _declared_query_params(route: APIRoute) -> tuple[frozenset[str], frozenset[str]]:
    """The route's query parameters, and those of them that are dates."""
    key = id(route)
    if key not in _known_query_params:
        names: set[str] = set()
        dates: set[str] = set()
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            names.update(param.alias for param in dependant.query_params)
            dates.update(
                param.alias
                for param in dependant.query_params
                if _is_date(param.field_info.annotation)
            )
            pending.extend(dependant.dependencies)
        _known_query_params[key] = (frozenset(names), frozenset(dates))
    return _known_query_params[key]


async def strict_query(request: Request) -> None:
    """Refuse query parameters a route does not know, parameters given more
    than once, and NUL characters in any.

    A misspelt filter (`?staus=active`) silently ignored would return the
    wrong list, and so would `?type=a&type=b` read as `type=b` alone: every
    parameter takes one value, so saying so is kinder to integrators. Date
    parameters take `YYYY-MM-DD` only.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared, dates = _declared_query_params(route)
    errors = []
    seen: set[str] = set()
    for name, value in request.query_params.multi_items():
        if name not in declared:
            errors.append({"loc": ["query", name], "msg": "unknown query parameter"})
        elif name in seen:
            errors.append({"loc": ["query", name], "msg": "given more than once; takes one value"})
        elif "\x00" in value:
            errors.append({"loc": ["query", name], "msg": "contains a NUL character"})
        elif name in dates and not _ISO_DATE.match(value):
            # pydantic would read `0` as a Unix time; dates are YYYY-MM-DD only.
            errors.append({"loc": ["query", name], "msg": "must be a date, YYYY-MM-DD"})
        seen.add(name)
    if errors:
        raise InvalidQuery(
            "The query string has parameters this operation does not take as given.",
            errors=errors,
        )


class InvalidQuery(DomainError):
    status = 422
    type_slug = "validation-error"
    title = "Validation error"


PublicModel = TypeVar("PublicModel", bound=BaseModel)


def rendered_answer(body: str | bytes, response: Response) -> Response:
    """Stored JSON (shared.rendered) as the route's answer.

    FastAPI keeps what the route and its dependencies set on their ``response``
    only for answers it serializes itself; this carries the status and headers
    over, so that a stored answer is the one the route would have serialized.
    """
    answer = Response(
        content=body, media_type="application/json", status_code=response.status_code or 200
    )
    answer.headers.raw.extend(response.headers.raw)
    return answer


def rendered_page(bodies: list[str], next_cursor: str | None) -> str:
    """A :class:`Page`'s JSON from its items' stored JSON, as pydantic writes it."""
    cursor = "null" if next_cursor is None else json.dumps(next_cursor)
    return '{"items":[' + ",".join(bodies) + '],"next_cursor":' + cursor + "}"


def rendered_page_answer(rows: list[Any], limit: int, response: Response) -> Response:
    """The page answer for the ``limit + 1`` (id, stored JSON) pairs a list fetched."""
    items, next_cursor = page_of(rows, limit, key=lambda row: row[0])
    return rendered_answer(rendered_page([row[1] for row in items], next_cursor), response)


def paginate(rows: list[Any], limit: int, public: type[PublicModel]) -> Page[PublicModel]:
    """The page answer for ``limit + 1`` rows a list query fetched, ordered by id."""
    items, next_cursor = page_of(rows, limit, key=lambda row: row.id)
    return Page[public](  # type: ignore[valid-type]
        items=[public.model_validate(row) for row in items], next_cursor=next_cursor
    )


async def list_answer(
    session: Any,
    stored: Callable[..., Awaitable[list[Any] | None]],
    live: Callable[..., Awaitable[list[Any]]],
    query: dict[str, Any],
    public: type[PublicModel],
    response: Response,
) -> Page[PublicModel] | Response:
    """A list route's page: its stored JSON when every row has some, else rendered live.

    ``stored`` and ``live`` are the list's two reads, called with ``query``
    (which holds the page's ``limit``).
    """
    rows = await stored(session, **query)
    if rows is not None:
        return rendered_page_answer(rows, query["limit"], response)
    return paginate(await live(session, **query), query["limit"], public)


def api_routes(application: Any) -> list[APIRoute]:
    """Every APIRoute of a FastAPI app, included routers' too."""
    found: list[APIRoute] = []
    pending = list(application.router.routes)
    while pending:
        route = pending.pop(0)
        if isinstance(route, APIRoute):
            found.append(route)
        included = getattr(route, "original_router", None)
        if included is not None:
            pending.extend(included.routes)
    return found
