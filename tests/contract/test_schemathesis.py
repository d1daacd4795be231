"""Property-based contract test: schemathesis drives every operation of the
OpenAPI document, with valid and with invalid input, against a real
`accords serve` on PostgreSQL.

It asserts that no input makes a server error, that every answer matches the
documented status codes, content types, headers and schemas, that invalid
input is rejected, and that `/v1` refuses requests without a key.

The operations are driven directly (not through schemathesis' pytest plugin,
which does not run on this pytest) so that each shows as its own test.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import load_all_checks

from services.api.app import create_app
from shared.settings import Settings

load_all_checks()
from schemathesis import checks  # noqa: E402

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
]

SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(log_level="error")).openapi())
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
# Its only input is a free-form secret token in the path: every string is a
# valid one (an unknown token answers 404), so no invalid input exists.
NO_INVALID_INPUT = {"GET /calendar/{token}.ics"}
# Invalid input exists only where there is input at all.
CASES = [
    pytest.param(operation, mode, id=f"{operation.label} {mode.value}")
    for operation in OPERATIONS
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE
    or (
        operation.label not in NO_INVALID_INPUT
        and any(len(part) for part in (operation.path_parameters, operation.query, operation.body))
    )
]


@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_operation_honours_its_contract(operation, mode, live_api) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {live_api.admin_key}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        # CI replays the same examples every run, so a run there is
        # reproducible; anywhere else each run explores new ones.
        derandomize=os.environ.get("CI") == "true",
    )
    def run(case) -> None:  # type: ignore[no-untyped-def]
        # An "invalid" extra query parameter whose value is an empty list or
        # object never reaches the wire (the client drops it), so the request
        # actually sent is valid: not a case of rejecting bad input.
        assume(not any(value in ([], {}) for value in (case.query or {}).values()))
        case.call_and_validate(base_url=live_api.base_url, headers=headers, checks=CHECKS)

    run()
