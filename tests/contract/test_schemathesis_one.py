"""Schemathesis' examples, coverage and fuzzing phases on the first half of the
operations (every other one, from the first); see :mod:`.schemathesis_run`."""

from __future__ import annotations

from tests.contract.schemathesis_run import OPERATIONS, operation_tests

HALF = OPERATIONS[0::2]

contract_run, test_the_run_raised_no_error, test_operation_honours_its_contract = operation_tests(
    HALF
)
