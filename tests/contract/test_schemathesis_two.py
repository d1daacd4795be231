"""Schemathesis' examples, coverage and fuzzing phases on the second half of the
operations (every other one, from the second); see :mod:`.schemathesis_run`."""

from __future__ import annotations

import pytest

from tests.contract.schemathesis_run import OPERATIONS, ContractRun, run_contract

HALF = OPERATIONS[1::2]


@pytest.fixture(scope="module")
def contract_run(live_api) -> ContractRun:  # type: ignore[no-untyped-def]
    return run_contract(live_api, operations=HALF)


def test_the_run_raised_no_error(contract_run: ContractRun) -> None:
    assert contract_run.errors == []


@pytest.mark.parametrize("operation", HALF)
def test_operation_honours_its_contract(operation: str, contract_run: ContractRun) -> None:
    assert operation in contract_run.tested
    failures = contract_run.failures.get(operation, [])
    assert not failures, "\n\n".join(failures)
