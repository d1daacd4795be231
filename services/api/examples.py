"""An example on every schema of the OpenAPI document, from the reference story.

Schemas that declare their own example keep it. For the others, an example
is built from the schema itself: each property takes the reference story's
value for that name (STZA, GEI, their MoU signed on 4 September 2023 at the
China-Pakistan STI Cooperation Conference, the capacity-building
initiative...), else a value of its type, format or first enum member. A
test checks that every example validates against its schema.
"""

from __future__ import annotations

from typing import Any

STZA_ID = "01a230ee-0001-7000-8000-00000000005a"
GEI_ID = "01a230ee-0002-7000-8000-0000000000e1"
MOU_ID = "01a230ee-0003-7000-8000-000000000a01"
INITIATIVE_ID = "01a230ee-0004-7000-8000-000000000101"
MILESTONE_ID = "01a230ee-0005-7000-8000-000000000301"
ENGAGEMENT_ID = "01a230ee-0006-7000-8000-000000000e01"
RESEARCH_ID = "01a230ee-0007-7000-8000-000000000c01"
OTHER_ID = "01a230ee-0008-7000-8000-000000000001"

# The MoU, its initiative, milestone and visit, as `accords demo` loads them.
TITLES = {
    "Agreement": "Memorandum of Understanding between STZA and GEI on science, technology and "
    "innovation cooperation",
    "Initiative": "Capacity-building programme for science and technology policymakers",
    "Milestone": "Training needs assessed",
    "Engagement": "STZA delegation visit to GEI to plan implementation",
    "ResearchCollaboration": "Joint research on special technology zones",
    "Output": "Policy brief: planning the next special technology zones",
}

STORY: dict[str, Any] = {
    "name": "Special Technology Zones Authority",
    "acronym": "STZA",
    "country": "PK",
    "ror_id": "https://ror.org/05dxps055",
    "website": "https://stza.gov.pk/",
    "iati_ref": "PK-GOV-STZA",
    "reference": "STZA-GEI-MOU-2023",
    "legal_character": "non_binding",
    "actual_start": "2023-10-02",
    "actual_end": "2025-12-20",
    "completed_on": "2023-11-28",
    "instance": "/v1/agreements/01a230ee-0003-7000-8000-000000000a01",
    "summary": "Capacity building of policymakers in science and technology, innovation "
    "ecosystems, collaborative research, and strategic planning for the development of "
    "Special Technology Zones.",
    "focus_areas": ["policymaker capacity building", "innovation ecosystems"],
    "objectives": [
        {"ref": "O1", "text": "Capacity building of policymakers in science and technology."}
    ],
    "ref": "O1",
    "objective_ref": "O1",
    "text": "Capacity building of policymakers in science and technology.",
    "signed_at": "China-Pakistan Science, Technology and Innovation Cooperation Conference, "
    "on the sidelines of CIFTIS, Beijing",
    "signed_on": "2023-09-04",
    "effective_from": "2023-09-04",
    "expires_on": "2028-09-04",
    "on": "2023-09-04",
    "reason": "Signed at the conference on the sidelines of CIFTIS.",
    "description": "Two cohorts a year of science and technology policymakers trained by GEI.",
    "location": "Beijing",
    "starts_on": "2023-09-06",
    "ends_on": "2023-09-08",
    "due_on": "2023-11-30",
    "planned_start": "2023-10-01",
    "planned_end": "2025-12-31",
    "research_area": "innovation policy",
    "start_on": "2024-01-15",
    "end_on": "2026-12-31",
    "outcomes": ["Assess training needs"],
    "orcid": "0000-0002-1825-0097",
    "doi": "10.5555/12345678",
    "url": "https://partner.example.org/accords-hooks",
    "event_types": ["agreement.", "milestone.completed"],
    "scopes": ["read", "write"],
    "message": "A test event from Accords.",
    "detail": "Agreement 01a230ee-0003-7000-8000-000000000a01 does not exist.",
    "title_problem": "Not found",
    "weight": 1,
    "version": 1,
    "sequence": 1,
    "progress": 0.25,
    "planned": 0.5,
    "spi": 0.5,
    "type_problem": "https://accords.dev/problems/not-found",
}

IDS = {
    "id": MOU_ID,
    "organization_id": STZA_ID,
    "lead_organization_id": GEI_ID,
    "host_organization_id": GEI_ID,
    "agreement_id": MOU_ID,
    "initiative_id": INITIATIVE_ID,
    "milestone_id": MILESTONE_ID,
    "engagement_id": ENGAGEMENT_ID,
    "endpoint_id": OTHER_ID,
    "event_id": OTHER_ID,
    "api_key_id": OTHER_ID,
    "entity_id": MOU_ID,
}
_OWN_ID = {
    "Organization": STZA_ID,
    "Initiative": INITIATIVE_ID,
    "Milestone": MILESTONE_ID,
    "Engagement": ENGAGEMENT_ID,
    "ResearchCollaboration": RESEARCH_ID,
}
_BY_FORMAT = {
    "date": "2023-09-04",
    "date-time": "2023-09-04T10:00:00Z",
    "uuid": OTHER_ID,
    "uri": "https://stza.gov.pk/",
    "email": "focal.point@stza.gov.pk",
}


_MAP_KEYS = {
    "By Health": "on_track",
    "By Country Pair": "CN-PK",
    "By Focus Area": "innovation ecosystems",
}


def name_of_map(schema: dict[str, Any]) -> str:
    return str(schema.get("title", ""))


def _subject(schema_name: str) -> str:
    for subject in sorted(TITLES, key=len, reverse=True):
        if schema_name.startswith(subject) or schema_name.startswith("Research" + subject):
            return subject
    return "Agreement"


class _Builder:
    def __init__(self, components: dict[str, Any]) -> None:
        self.components = components

    def example(self, schema: dict[str, Any], name: str, prop: str | None, depth: int = 0) -> Any:
        if "$ref" in schema:
            ref = schema["$ref"].rsplit("/", 1)[-1]
            target = self.components.get(ref, {})
            if target.get("examples"):
                return target["examples"][0]
            return self.example(target, ref, prop, depth + 1)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            value = STORY.get(prop or "")
            return value if value in schema["enum"] else schema["enum"][0]
        for combinator in ("anyOf", "oneOf", "allOf"):
            if combinator in schema:
                options = [option for option in schema[combinator] if option.get("type") != "null"]
                if options:
                    return self.example(options[0], name, prop, depth)
                return None
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return self.object(schema, name, depth)
        if kind == "array":
            items_ref = schema.get("items", {}).get("$ref", "/Objective")
            if isinstance(STORY.get(prop), list) and items_ref.endswith("/Objective"):
                return STORY[prop]
            return [self.example(schema.get("items", {}), name, None, depth + 1)]
        return self.scalar(schema, name, prop)

    def object(self, schema: dict[str, Any], name: str, depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        if not properties:
            values = schema.get("additionalProperties")
            if not isinstance(values, dict) or not values:
                return {}
            key = _MAP_KEYS.get(name_of_map(schema), "in_progress")
            return {key: self.example(values, name, None, depth + 1)}
        required = set(schema.get("required", []))
        example: dict[str, Any] = {}
        for prop, subschema in properties.items():
            if depth > 3 and prop not in required:
                continue
            example[prop] = self.example(subschema, name, prop, depth + 1)
        return example

    def scalar(self, schema: dict[str, Any], name: str, prop: str | None) -> Any:
        kind = schema.get("type")
        subject = _subject(name)
        if prop == "id" and subject in _OWN_ID:
            return _OWN_ID[subject]
        if prop in IDS and schema.get("format") == "uuid":
            return IDS[prop]
        if prop == "title":
            return "Not found" if name == "Problem" else TITLES[subject]
        if name == "Problem" and prop in ("type", "title"):
            return STORY[f"{prop}_problem"]
        if name == "Problem" and prop == "status":
            return 404
        if prop == "name" and subject == "Agreement" and "Researcher" in name:
            return "Dr. Ayesha Khan"
        if prop in STORY and not isinstance(STORY[prop], list | dict):
            value = STORY[prop]
            if kind in ("integer", "number") and not isinstance(value, int | float):
                value = None
            if value is not None:
                return value
        if schema.get("format") in _BY_FORMAT:
            return _BY_FORMAT[schema["format"]]
        if kind == "integer":
            return max(1, schema.get("minimum", 1))
        if kind == "number":
            return 0.5
        if kind == "boolean":
            return True
        if kind == "string":
            return "STZA-GEI cooperation"
        return None


def _nullable(schema: dict[str, Any]) -> bool:
    return any(option.get("type") == "null" for option in schema.get("anyOf", []))


def _fill_nulls(example: Any, schema: dict[str, Any], components: dict[str, Any]) -> None:
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        schema = options[0]
        if "$ref" in schema:
            schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if isinstance(example, list):
        for item in example:
            _fill_nulls(item, schema.get("items", {}), components)
    if not isinstance(example, dict):
        return
    properties = schema.get("properties", {})
    for prop in schema.get("required", []):
        if prop not in example and _nullable(properties.get(prop, {})):
            example[prop] = None
    for prop, value in example.items():
        if prop in properties:
            _fill_nulls(value, properties[prop], components)


def _restore_nulls(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """FastAPI drops ``None`` values from the document, examples included: a
    required nullable field shown as null in a model's example comes back."""
    for example in schema.get("examples", []):
        _fill_nulls(example, schema, components)


def document_examples(openapi: dict[str, Any]) -> dict[str, Any]:
    """Give every component schema without an example one built from the story."""
    components = openapi.get("components", {}).get("schemas", {})
    builder = _Builder(components)
    for schema in components.values():
        _restore_nulls(schema, components)
    for name, schema in components.items():
        if "examples" in schema or "example" in schema:
            continue
        schema["examples"] = [builder.example(schema, name, None)]
    return openapi
