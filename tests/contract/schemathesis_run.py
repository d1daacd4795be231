"""Property-based contract test: schemathesis, with all its checks and all its
phases (examples, coverage, fuzzing and the stateful phase that chains the
OpenAPI links: create -> get / patch / delete ...), against a real
`accords serve` on PostgreSQL; what `st run --checks all` does.

The run is split in three modules, so that parallel test workers share it:
the operations in two halves (examples, coverage and fuzzing phases:
``test_schemathesis_one``, ``test_schemathesis_two``) and the stateful phase
over all of them, after their examples (``test_schemathesis_stateful``), each
against its own server and database. Each module runs its part once
(schemathesis' own engine, in this process); then each operation is its own
test, failing with the failures schemathesis found for it, and so is the
stateful phase.

Checks: every one schemathesis has (`not_a_server_error`,
`status_code_conformance`, `content_type_conformance`,
`response_headers_conformance`, `response_schema_conformance`,
`negative_data_rejection`, `positive_data_acceptance`,
`missing_required_header`, `unsupported_method`, `allow_header_conformance`,
`use_after_free`, `ensure_resource_availability`, `ignored_auth`,
`object_level_authorization`), but `max_response_time` (no latency budget
here). One is configured: a missing `If-Match` answers 428 Precondition
Required (RFC 6585, SPEC section 2), a status `missing_required_header` does
not expect unless told.

What remains excluded, precisely (:func:`_unstatable`), are requests that
match the schema and are still refused, rightly, by a rule no schema can
state. `positive_data_acceptance` is the only check they trip, and only an
answer naming one of these rules (by problem type, or by the message of each
of its validation errors) is let through.

Rules on what the server holds, not on the request's shape:

- 412 `precondition-failed`: the `If-Match` is well formed but names another
  version than the current one.
- 422 `invalid-reference`: a referenced id (party, owner, contact...) must
  exist (an unknown id in the path answers 404, which the checks accept).
- 422 `idempotency-key-reused`: the key was used before with another request.
- 400 `invalid-cursor`: a cursor is an opaque token only the server issues.
- 422 `webhook-target-refused`: the target's host must resolve to a public
  address (DNS at the time of the request) and use https unless private
  targets are allowed by the deployment's settings.
- 415 `unsupported-media-type` on an upload: a file's type is judged from its
  bytes, which a schema only calls `binary`.

Cross-field and cross-item rules (422 `validation-error`), which JSON Schema
cannot express exactly:

- dates in order (`ends_on` not before `starts_on`, `expires_on` after
  `effective_from`...): JSON Schema compares no two values;
- uniqueness by a key inside a list (an organization listed twice whatever its
  role, repeated objective refs, a contact twice in one role, a language
  twice ignoring case): `uniqueItems` compares whole items, as written;
- `completed_on` only with status `done`; `agreement_id` or `organization_id`,
  not both; exactly one `lead` among participants; a reading's value a number
  or text as the indicator's `measure` says: each ties one field's value to
  another's.

And three single-value rules beyond JSON Schema: an act dated no later than
today (a bound that moves every day), an ORCID iD's check digit (a checksum),
and an email domain that is not special-use (`example.test`, RFC 6761: format
`email` admits it, email-validator does not).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from services.api.app import create_app
from shared.settings import Settings

PROBLEMS = "https://accords.dev/problems/"
STATE_RULES = {
    (412, "precondition-failed"),
    (422, "invalid-reference"),
    (422, "idempotency-key-reused"),
    (400, "invalid-cursor"),
    (422, "webhook-target-refused"),
}
UPLOAD = "POST /v1/documents"
# The messages of the cross-field rules and of the three single-value rules
# (pydantic prefixes them "Value error, ").
CROSS_FIELD_RULES = (
    " must not be before ",
    "expires_on must be after effective_from",
    " is listed twice",
    "objective refs must be unique",
    "the same contact is named twice in the same role",
    "completed_on can be given only with status done",
    "Give agreement_id or organization_id, not both.",
    "exactly one participant must have role lead",
    " must be text for a qualitative indicator",
    " must be a number for a unit indicator",
    " must be a number for a percentage indicator",
    # The three single-value rules.
    "an act cannot be dated in the future",
    "is not a valid ORCID iD (its check digit does not match)",
    "The part after the @-sign is a special-use or reserved name",
)

SCHEMA_DOCUMENT = create_app(Settings(log_level="error")).openapi()
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, item in SCHEMA_DOCUMENT["paths"].items()
    for method in item
    if method in ("get", "put", "post", "patch", "delete")
]
STATEFUL = "Stateful tests"


def _unstatable(operation: str, response: Any) -> bool:
    """Whether a refusal of schema-valid data is one of the rules listed above."""
    try:
        problem = json.loads(response.content)
    except ValueError:
        return False
    if not isinstance(problem, dict):
        return False
    kind = str(problem.get("type", "")).removeprefix(PROBLEMS)
    if (response.status_code, kind) in STATE_RULES:
        return True
    if (operation, response.status_code, kind) == (UPLOAD, 415, "unsupported-media-type"):
        return True
    errors = problem.get("errors") or []
    return (
        response.status_code == 422
        and kind == "validation-error"
        and bool(errors)
        and all(
            any(rule in str(error.get("msg", "")) for rule in CROSS_FIELD_RULES) for error in errors
        )
    )


@dataclass
class ContractRun:
    failures: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    tested: set[str] = field(default_factory=set)
    stateful_steps: int = 0
    # Stateful calls whose input a link filled from an earlier answer.
    linked_steps: int = 0
    errors: list[str] = field(default_factory=list)


def _describe(recorder: Any, case_id: str, name: str, failure: Any, sample: str) -> str:
    interaction = recorder.interactions.get(case_id)
    response = interaction.response if interaction else None
    answer = ""
    if response is not None:
        answer = f"[{response.status_code}] {response.content[:600].decode(errors='replace')}"
    return f"{name}: {failure.title}\n{failure.message}\n{answer}\n{sample}"


def run_contract(live_api: Any, *, operations: list[str] | None) -> ContractRun:
    """Schemathesis against ``live_api``: the examples, coverage and fuzzing
    phases on ``operations``; or (``None``) the stateful phase on all of them,
    after the examples phase (whose answers fill the database the scenarios'
    links read ids from: on an empty one, creates that refer to other
    resources fail, lists are empty, and the links carry nothing)."""
    stateful = operations is None
    phases: dict[str, Any] = {
        "examples": {"enabled": True},
        "coverage": {"enabled": not stateful},
        "fuzzing": {"enabled": not stateful},
        # Bounded: 40 scenarios of at most 6 calls.
        "stateful": {"enabled": stateful, "max-steps": 6, "generation": {"max-examples": 40}},
    }
    config = SchemathesisConfig.from_dict(
        {
            # CI replays the same run every time; anywhere else each run explores anew.
            **({"seed": 20261201} if os.environ.get("CI") == "true" else {}),
            "base-url": live_api.base_url,
            "headers": {"Authorization": f"Bearer {live_api.admin_key}"},
            "workers": 1,
            "continue-on-failure": True,
            "suppress-health-check": ["all"],
            "generation": {"max-examples": 5, "database": "none"},
            "checks": {
                "missing_required_header": {
                    "expected-statuses": [400, 401, 403, 406, 415, 422, 428]
                },
            },
            "phases": phases,
        }
    )
    schema = schemathesis.openapi.from_dict(SCHEMA_DOCUMENT, config=config)
    if operations is not None:
        schema = schema.include(name=operations)

    @schema.hook
    def filter_failure(context, failure, case, response) -> bool:  # type: ignore[no-untyped-def]
        return not (
            type(failure).__name__ == "RejectedPositiveData"
            and _unstatable(case.operation.label, response)
        )

    run = ContractRun()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            run.tested.add(recorder.label)
            if recorder.label == STATEFUL:
                run.stateful_steps += len(recorder.cases)
                run.linked_steps += sum(
                    node.is_transition_applied for node in recorder.cases.values()
                )
            for case_id, nodes in recorder.checks.items():
                for node in nodes:
                    if node.failure_info is not None:
                        info = node.failure_info
                        run.failures[recorder.label].append(
                            _describe(recorder, case_id, node.name, info.failure, info.code_sample)
                        )
        elif isinstance(event, events.NonFatalError):
            run.errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return run


def operation_tests(operations: list[str]) -> tuple[Any, Any, Any]:
    """The fixture and the tests of a module that runs the examples, coverage and
    fuzzing phases on ``operations``: its run, that the run raised no error, and
    one test per operation failing with what schemathesis found for it."""

    @pytest.fixture(scope="module", name="contract_run")
    def run(live_api) -> ContractRun:  # type: ignore[no-untyped-def]
        return run_contract(live_api, operations=operations)

    def test_the_run_raised_no_error(contract_run: ContractRun) -> None:
        assert contract_run.errors == []

    @pytest.mark.parametrize("operation", operations)
    def test_operation_honours_its_contract(operation: str, contract_run: ContractRun) -> None:
        assert operation in contract_run.tested
        failures = contract_run.failures.get(operation, [])
        assert not failures, "\n\n".join(failures)

    return run, test_the_run_raised_no_error, test_operation_honours_its_contract
