"""Schemathesis' stateful phase over every operation: scenarios that chain the
OpenAPI links (create -> get / patch / delete ...); see :mod:`.schemathesis_run`."""

from __future__ import annotations

import pytest

from tests.contract.schemathesis_run import OPERATIONS, STATEFUL, ContractRun, run_contract


@pytest.fixture(scope="module")
def contract_run(live_api) -> ContractRun:  # type: ignore[no-untyped-def]
    return run_contract(live_api, operations=None)


def test_the_run_raised_no_error(contract_run: ContractRun) -> None:
    assert contract_run.errors == []


def test_the_halves_cover_every_operation_once() -> None:
    from tests.contract import test_schemathesis_one, test_schemathesis_two

    halves = test_schemathesis_one.HALF + test_schemathesis_two.HALF
    assert sorted(halves) == sorted(OPERATIONS)
    assert len(set(halves)) == len(halves) > 0


def test_the_stateful_phase_chains_links_and_finds_nothing(contract_run: ContractRun) -> None:
    # Scenarios ran, links carried data from one answer into the next call (a
    # new id, its ETag as If-Match; ids read from lists), and none failed.
    assert STATEFUL in contract_run.tested
    assert contract_run.stateful_steps > 0
    assert contract_run.linked_steps > 0, "no link carried data into a call"
    failures = contract_run.failures.get(STATEFUL, [])
    assert not failures, "\n\n".join(failures)
