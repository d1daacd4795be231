"""`GET /v1/event-types`, and every event type documented as an OpenAPI webhook."""

from __future__ import annotations

import datetime as dt
import inspect
from functools import cache
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, FastAPI, Header
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, create_model

from services.api.deps import Reader
from services.api.problems import problem_responses
from shared.event_catalogue import CATALOGUE, EventType, data_schema

router = APIRouter(prefix="/v1/event-types", tags=["events"])


class EventTypePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "milestone.completed",
                    "description": "A milestone became `done`.",
                    "data_schema": {"type": "object", "title": "MilestoneData"},
                }
            ]
        }
    )

    type: str
    description: str
    data_schema: dict[str, Any] = Field(description="The JSON Schema (2020-12) of `data`.")


class EventTypeList(BaseModel):
    items: list[EventTypePublic]
    next_cursor: None = Field(default=None, description="Always null: the list is short.")


@router.get("", responses=problem_responses(401, 403))
async def list_event_types(principal: Reader) -> EventTypeList:
    """Every event type webhooks and the feed carry, with the JSON Schema of its `data`.

    The schemas come from the same models as the payloads (the resource as
    the API returns it, plus `previous_status` and the like); generate
    receivers' code from them, or from the `webhooks` of `/openapi.json`.
    """
    return EventTypeList(
        items=[
            EventTypePublic(
                type=entry.type, description=entry.description, data_schema=data_schema(entry.type)
            )
            for entry in CATALOGUE.values()
        ]
    )


@cache
def _payload_model(entry: EventType) -> type[BaseModel]:
    name = "".join(part.title() for part in entry.type.replace("_", ".").split(".")) + "Webhook"
    return create_model(
        name,
        __doc__=f"The body of a `{entry.type}` delivery.",
        type=(Literal[entry.type], ...),  # type: ignore[valid-type]
        timestamp=(dt.datetime, Field(description="When the change committed (RFC 3339 UTC).")),
        sequence=(
            int | None,
            Field(
                default=None,
                description="Increases by one per aggregate: spot gaps, reorder "
                "(absent on `webhook.test`).",
            ),
        ),
        data=(entry.data, ...),
    )


_WEBHOOK_HEADERS = """

Headers (Standard Webhooks 1.0): `webhook-id` (the event id, stable across
retries: deduplicate on it), `webhook-timestamp` (unix seconds) and
`webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` with
the endpoint secret's decoded bytes; during 24 h after a rotation, one
signature per secret, space separated). Answer 2xx to acknowledge.
"""


def document_webhooks(app: FastAPI) -> None:
    """One OpenAPI 3.1 webhook per event type, with its body and headers."""
    app.webhooks.routes.extend(_webhook_routes())


@cache
def _webhook_routes() -> tuple[APIRoute, ...]:
    """The webhook routes, built once per process: they only document (nothing
    serves them), and analysing ~50 signatures cost each app ~0.4 s."""
    webhooks = APIRouter()
    for entry in CATALOGUE.values():
        payload = _payload_model(entry)

        async def receive(
            body: Annotated[Any, Body()],
            webhook_id: Annotated[str, Header(alias="webhook-id", description="The event id.")],
            webhook_timestamp: Annotated[
                str, Header(alias="webhook-timestamp", description="Unix seconds.")
            ],
            webhook_signature: Annotated[
                str,
                Header(alias="webhook-signature", description="`v1,<base64 HMAC-SHA256>` ..."),
            ],
        ) -> None: ...

        signature = inspect.signature(receive)
        parameters = [
            parameter.replace(annotation=Annotated[payload, Body()])
            if name == "body"
            else parameter
            for name, parameter in signature.parameters.items()
        ]
        receive.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        webhooks.add_api_route(
            entry.type,
            receive,
            methods=["POST"],
            summary=entry.type,
            description=entry.description + _WEBHOOK_HEADERS,
            operation_id=f"webhook_{entry.type.replace('.', '_')}",
            status_code=200,
            responses={"200": {"description": "Any 2xx acknowledges the delivery."}},
        )
    return tuple(route for route in webhooks.routes if isinstance(route, APIRoute))


def tidy_webhooks(openapi: dict[str, Any]) -> dict[str, Any]:
    """Webhook bodies as Accords sends them, and no request-validation answer.

    FastAPI documents a webhook body as a request (validation mode), which
    leaves out what is computed on the way out (a document's `content_url`);
    the payloads are responses of ours, so their schemas are replaced by the
    serialization-mode ones. Receivers answer 2xx or not: the 422 goes.
    """
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    for entry in CATALOGUE.values():
        payload = _payload_model(entry)
        schema = payload.model_json_schema(
            mode="serialization", ref_template="#/components/schemas/{model}"
        )
        for name, definition in schema.pop("$defs", {}).items():
            if name.endswith("Data"):  # the catalogue's models, used by webhooks only
                components[name] = definition
            else:
                components.setdefault(name, definition)
        components[payload.__name__] = schema
    for path_item in openapi.get("webhooks", {}).values():
        for operation in path_item.values():
            operation.get("responses", {}).pop("422", None)
    return openapi
