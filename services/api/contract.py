"""Make the HTTP surface and its OpenAPI document say the same thing.

- ``HEAD`` answers on every ``GET`` route with the GET's status and headers
  and no body (:class:`HeadMiddleware`).
- A 405 lists in ``Allow`` every method the path takes (:func:`allowed_methods`).
- In the OpenAPI document: ``If-Match`` is required on every ``PATCH`` and
  ``DELETE`` that takes it (the server answers 428 without it), the
  ``ETag`` response header is declared wherever a versioned resource is
  returned, each create's 201 answer links to the operations that take
  the new id, and a free-text string of a request (query parameter or body)
  refuses NUL characters, as the server does (:func:`document_contract`).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

IF_MATCH = "If-Match"
_ETAG_HEADER = {
    "description": "The resource's strong validator (its `version`); send it as `If-Match`.",
    "schema": {"type": "string", "example": '"3"'},
}


class HeadMiddleware:
    """Serve ``HEAD`` as the ``GET`` of the same URL, without the body.

    Routing, authentication, rate limits and the handler all see a GET, so
    the headers (``ETag``, ``Content-Length``...) are exactly the GET's.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)


_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app fully matches on this path (HEAD with GET)."""
    routes = request.app.router.routes
    methods = {
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    }
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _resolve(openapi: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        return openapi["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return schema


def _returns_versioned(openapi: dict[str, Any], response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    return bool(schema) and "version" in _resolve(openapi, schema).get("properties", {})


def _operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, path_item in openapi.get("paths", {}).items()
        for method, operation in path_item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


def document_preconditions(openapi: dict[str, Any]) -> dict[str, Any]:
    """``If-Match`` required on PATCH and DELETE; ``ETag`` on versioned answers."""
    for _path, method, operation in _operations(openapi):
        if method in ("patch", "delete"):
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter.get("name") == IF_MATCH:
                    parameter["required"] = True
                    parameter["schema"] = {"type": "string", "minLength": 1}
                    parameter["description"] = (
                        "The resource's current ETag. Without it the answer is 428; "
                        "with a stale one, 412."
                    )
        for status, response in operation["responses"].items():
            if status.startswith("2") and _returns_versioned(openapi, response):
                response.setdefault("headers", {})["ETag"] = _ETAG_HEADER
    return openapi


_PARAMETER = re.compile(r"^\{(\w+)\}$")


def _takes_if_match(operation: dict[str, Any]) -> bool:
    return any(
        parameter.get("in") == "header" and parameter.get("name") == IF_MATCH
        for parameter in operation.get("parameters", [])
    )


def document_links(openapi: dict[str, Any]) -> dict[str, Any]:
    """Each create's 201 links to every operation under ``/v1/<collection>/{id}``
    (with the new ETag as ``If-Match`` where the operation takes one).

    The collection is the last segment of the create's path
    (``/v1/agreements/{agreement_id}/initiatives`` creates under
    ``/v1/initiatives/{initiative_id}``), and the new resource's ``id`` fills
    the path parameter, so clients and stateful tests can chain calls.
    """
    paths = openapi.get("paths", {})
    for path, method, operation in _operations(openapi):
        created = operation["responses"].get("201")
        if method != "post" or created is None:
            continue
        collection = path.rstrip("/").rsplit("/", 1)[-1]
        links: dict[str, Any] = {}
        for target_path, target_item in paths.items():
            parts = target_path.split("/")
            if len(parts) < 4 or parts[1] != "v1" or parts[2] != collection:
                continue
            parameter = _PARAMETER.match(parts[3])
            if parameter is None or target_path.count("{") != 1:
                continue
            for target_method, target in target_item.items():
                if not isinstance(target, dict) or "operationId" not in target:
                    continue
                name = target["operationId"]
                parameters = {parameter.group(1): "$response.body#/id"}
                if _takes_if_match(target):
                    # The new resource's version, for its first change.
                    parameters[f"header.{IF_MATCH}"] = "$response.header.ETag"
                links[name] = {
                    "operationId": name,
                    "parameters": parameters,
                    "description": f"{target_method.upper()} {target_path} with the new id.",
                }
        if links:
            created["links"] = links
    return openapi


def _renamed_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                renames.get(value, value)
                if key == "$ref" and isinstance(value, str)
                else _renamed_refs(value, renames)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_renamed_refs(item, renames) for item in node]
    return node


def merge_split_names(openapi: dict[str, Any]) -> dict[str, Any]:
    """``Researcher-Input`` / ``Researcher-Output`` (one model whose request and
    response schemas differ) become ``ResearcherInput`` / ``Researcher``: names
    a client generator turns into two distinct classes."""
    schemas = openapi.get("components", {}).get("schemas", {})
    names: dict[str, str] = {}
    for name in list(schemas):
        for suffix, replacement in (("-Input", "Input"), ("-Output", "")):
            if name.endswith(suffix):
                names[name] = name.removesuffix(suffix) + replacement
    if not names:
        return openapi
    prefix = "#/components/schemas/"
    renamed = _renamed_refs(openapi, {prefix + old: prefix + new for old, new in names.items()})
    schemas = {}
    for name, schema in renamed["components"]["schemas"].items():
        if name in names:
            # Generators name classes after the title, which both halves share.
            schema = {**schema, "title": names[name]}
        schemas[names.get(name, name)] = schema
    renamed["components"]["schemas"] = schemas
    return renamed


# No database stores a NUL in a text column, so every request refuses one
# (`shared.validation.RequestBody`, `services.api.http.strict_query`).
NO_NUL_PATTERN = "^[^\\x00]*$"
# Values, not schemas: never rewritten.
_NOT_SCHEMAS = frozenset({"examples", "example", "default", "const", "enum"})


def _refuse_nul(node: Any, schemas: dict[str, Any], seen: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _refuse_nul(item, schemas, seen)
        return
    if not isinstance(node, dict):
        return
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[-1]
        if name not in seen and name in schemas:
            seen.add(name)
            _refuse_nul(schemas[name], schemas, seen)
    if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & node.keys():
        node["pattern"] = NO_NUL_PATTERN
    for key, value in node.items():
        if key not in _NOT_SCHEMAS:
            _refuse_nul(value, schemas, seen)


def document_text_rules(openapi: dict[str, Any]) -> dict[str, Any]:
    """A free-text string a request sends (query parameter, body field) says
    it takes no NUL character; one that has a pattern already states its shape."""
    schemas = openapi.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    for _path, _method, operation in _operations(openapi):
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query":
                _refuse_nul(parameter.get("schema"), schemas, seen)
        for media in operation.get("requestBody", {}).get("content", {}).values():
            _refuse_nul(media.get("schema"), schemas, seen)
    return openapi


def document_contract(openapi: dict[str, Any]) -> dict[str, Any]:
    return merge_split_names(document_links(document_text_rules(document_preconditions(openapi))))
