"""Pure rules of tracking: ORCID and DOI validation, initiative and research lifecycles."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.lifecycle import (
    INITIATIVE_STATUSES,
    INITIATIVE_TRANSITIONS,
    CascadedStatus,
    allowed_initiative_targets,
    allowed_research_targets,
    initiative_cascade,
)
from shared.validation import Doi, Orcid, orcid_checksum_valid

ORCID = TypeAdapter(Orcid)
DOI = TypeAdapter(Doi)


@pytest.mark.parametrize(
    "orcid",
    ["0000-0002-1825-0097", "0000-0001-5109-3700", "0000-0002-1694-233X"],
)
def test_orcid_with_a_matching_check_digit_is_valid(orcid) -> None:
    assert orcid_checksum_valid(orcid)


@pytest.mark.parametrize(
    "orcid",
    ["0000-0002-1825-0098", "0000-0002-1694-2330", "0000-0002-1825-009", "abcd-0002-1825-0097"],
)
def test_orcid_with_a_wrong_check_digit_or_shape_is_invalid(orcid) -> None:
    assert not orcid_checksum_valid(orcid)


def test_orcid_field_accepts_the_url_form_and_stores_the_bare_id() -> None:
    assert ORCID.validate_python("https://orcid.org/0000-0002-1694-233x") == "0000-0002-1694-233X"


@pytest.mark.parametrize("orcid", ["0000-0002-1825-0098", "0000000218250097", ""])
def test_orcid_field_refuses_invalid_ids(orcid) -> None:
    with pytest.raises(ValidationError):
        ORCID.validate_python(orcid)


@pytest.mark.parametrize("doi", ["10.1000/xyz123", "10.1038/nphys1170", "10.123456789/a.b-c"])
def test_doi_pattern_accepts_registered_shapes(doi) -> None:
    assert DOI.validate_python(doi) == doi


@pytest.mark.parametrize(
    "doi", ["10.12/short-prefix", "11.1000/x", "10.1000/", "10.1000/has space", "doi:10.1000/x"]
)
def test_doi_pattern_refuses_other_shapes(doi) -> None:
    with pytest.raises(ValidationError):
        DOI.validate_python(doi)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("planned", "in_progress"),
        ("in_progress", "on_hold"),
        ("on_hold", "in_progress"),
        ("in_progress", "completed"),
        ("planned", "cancelled"),
        ("in_progress", "cancelled"),
        ("on_hold", "cancelled"),
    ],
)
def test_initiative_allowed_moves(current, target) -> None:
    assert target in allowed_initiative_targets(current)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("planned", "completed"),
        ("planned", "on_hold"),
        ("on_hold", "completed"),
        ("completed", "in_progress"),
        ("cancelled", "planned"),
        ("in_progress", "planned"),
    ],
)
def test_initiative_refused_moves(current, target) -> None:
    assert target not in allowed_initiative_targets(current)


def test_every_initiative_status_has_a_transition_entry() -> None:
    assert set(INITIATIVE_TRANSITIONS) == set(INITIATIVE_STATUSES)


@pytest.mark.parametrize("status", ["planned", "in_progress"])
def test_suspension_pauses_open_work_and_remembers_it(status) -> None:
    move = initiative_cascade(
        agreement_from="active", agreement_to="suspended", status=status, paused_from_status=None
    )

    assert move == CascadedStatus(status="on_hold", paused_from_status=status)


def test_suspension_leaves_work_already_on_hold_unremembered() -> None:
    move = initiative_cascade(
        agreement_from="active", agreement_to="suspended", status="on_hold", paused_from_status=None
    )

    assert move is None


def test_resumption_restores_what_suspension_paused() -> None:
    move = initiative_cascade(
        agreement_from="suspended",
        agreement_to="active",
        status="on_hold",
        paused_from_status="planned",
    )

    assert move == CascadedStatus(status="planned", paused_from_status=None)


def test_resumption_leaves_other_work_alone() -> None:
    move = initiative_cascade(
        agreement_from="suspended", agreement_to="active", status="on_hold", paused_from_status=None
    )

    assert move is None


@pytest.mark.parametrize("status", ["planned", "in_progress", "on_hold"])
def test_termination_cancels_open_work(status) -> None:
    move = initiative_cascade(
        agreement_from="active", agreement_to="terminated", status=status, paused_from_status=None
    )

    assert move == CascadedStatus(status="cancelled", paused_from_status=None)


def test_research_collaboration_lifecycle() -> None:
    assert allowed_research_targets("proposed") == ("active", "cancelled")
    assert allowed_research_targets("active") == ("concluded", "cancelled")
    assert allowed_research_targets("concluded") == ()
