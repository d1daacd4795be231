"""IATI 2.03 code mappings: pure functions from Accords values to IATI codes.

The codes are those of the IATI codelists (version 2.03) that ship in
``shared/iati/schema/codelists/`` (ActivityStatus, ActivityDateType,
OrganisationRole, RelatedActivityType, DocumentCategory) or, for the
non-embedded OrganisationType, IndicatorMeasure and ResultType lists, the
values written out below. The choices SPEC section 14 leaves open are
written down where they are made.
"""

from __future__ import annotations

import datetime as dt

# ActivityStatus
PIPELINE = "1"
IMPLEMENTATION = "2"
FINALISATION = "3"
CLOSED = "4"
CANCELLED = "5"
SUSPENDED = "6"

_AGREEMENT_STATUS = {
    "draft": PIPELINE,
    "negotiation": PIPELINE,
    "signed": IMPLEMENTATION,
    "active": IMPLEMENTATION,
    "suspended": SUSPENDED,
    # SPEC allows 3 or 4. Finalisation (3) means "awaiting financial sign-off";
    # Accords records no money, so an agreement that is over is Closed (4).
    "completed": CLOSED,
    "expired": CLOSED,
    "terminated": CANCELLED,
    "cancelled": CANCELLED,
}

_INITIATIVE_STATUS = {
    "planned": PIPELINE,
    "in_progress": IMPLEMENTATION,
    "on_hold": SUSPENDED,
    "completed": CLOSED,
    "cancelled": CANCELLED,
}


def agreement_activity_status(status: str) -> str:
    """ActivityStatus code of an agreement status."""
    return _AGREEMENT_STATUS[status]


def initiative_activity_status(status: str) -> str:
    """ActivityStatus code of an initiative status."""
    return _INITIATIVE_STATUS[status]


# ActivityDateType
PLANNED_START = "1"
ACTUAL_START = "2"
PLANNED_END = "3"
ACTUAL_END = "4"

# OrganisationRole
FUNDING = "1"
ACCOUNTABLE = "2"
EXTENDING = "3"
IMPLEMENTING = "4"

_PARTY_ROLE = {
    "funder": FUNDING,
    "signatory": ACCOUNTABLE,
    "implementing_partner": IMPLEMENTING,
}


def participating_org_role(party_role: str) -> str:
    """OrganisationRole code of an agreement party's role (witness, observer: Extending)."""
    return _PARTY_ROLE.get(party_role, EXTENDING)


# RelatedActivityType
PARENT = "1"
CHILD = "2"

# OrganisationType (a non-embedded IATI codelist, 2.03 values).
ORGANISATION_TYPES = frozenset(
    {"10", "11", "15", "21", "22", "23", "24", "30", "40", "60", "70", "71", "72", "73", "80", "90"}
)

_ORGANIZATION_KIND = {
    "government_agency": "10",  # Government
    "research_institute": "80",  # Academic, Training and Research
    "university": "80",
    "company": "70",  # Private Sector
    "ngo": "22",  # National NGO (Accords does not tell national from international)
    "intergovernmental": "40",  # Multilateral
    "other": "90",  # Other
}


def organisation_type(kind: str) -> str:
    """OrganisationType code of an organization's kind."""
    return _ORGANIZATION_KIND.get(kind, "90")


# IndicatorMeasure (non-embedded): 1 Unit, 2 Percentage, 5 Qualitative.
_MEASURE = {"unit": "1", "percentage": "2", "qualitative": "5"}


def indicator_measure(measure: str) -> str:
    """IndicatorMeasure code of an indicator's measure."""
    return _MEASURE[measure]


# ResultType (non-embedded): 1 Output, 2 Outcome. An initiative's indicators
# measure what it delivers, so its result is an Output.
RESULT_OUTPUT = "1"

# DocumentCategory
_DOCUMENT_KIND = {
    "signed_copy": "A09",  # Memorandum of understanding (if agreed by all parties)
    "draft": "A09",
    "annex": "A04",  # Conditions
    "minutes": "A07",  # Review of project performance and evaluation
    "report": "A07",
    "other": "A02",  # Objectives / Purpose of activity
}


def document_category(kind: str, *, instrument_type: str | None = None) -> str:
    """DocumentCategory code of a document kind; a contract's signed copy is a Contract."""
    if kind == "signed_copy" and instrument_type == "contract":
        return "A11"
    return _DOCUMENT_KIND.get(kind, "A02")


def agreement_dates(
    *,
    status: str,
    effective_from: dt.date | None,
    expires_on: dt.date | None,
    signed_on: dt.date | None,
    registered_on: dt.date,
    ended_on: dt.date | None,
    today: dt.date,
) -> list[tuple[str, dt.date]]:
    """ActivityDateType codes and dates of an agreement.

    The start is ``effective_from``, actual once the agreement has taken
    effect (signed or later, and not in the future), planned before; without
    it the signing date, else the date the agreement was registered, so that a
    start date always exists (IATI rule 6.11.1). ``expires_on`` is the planned
    end; ``ended_on`` (the date it completed, expired or was terminated) the
    actual end. Actual dates never lie in the future (rules 11.1.4, 11.1.5).
    """
    started = status not in ("draft", "negotiation", "cancelled")
    start = effective_from or signed_on or registered_on
    dates: list[tuple[str, dt.date]] = []
    if started and start <= today:
        dates.append((ACTUAL_START, start))
    else:
        dates.append((PLANNED_START, start))
    if expires_on is not None and expires_on > start:
        dates.append((PLANNED_END, expires_on))
    if ended_on is not None and started and start <= ended_on <= today:
        dates.append((ACTUAL_END, ended_on))
    return dates


def initiative_dates(
    *,
    planned_start: dt.date | None,
    planned_end: dt.date | None,
    actual_start: dt.date | None,
    actual_end: dt.date | None,
    registered_on: dt.date,
    today: dt.date,
) -> list[tuple[str, dt.date]]:
    """ActivityDateType codes and dates of an initiative (its own four dates).

    Without a planned or actual start, the date it was registered stands as
    the planned start (a start date must exist). Dates that break the IATI
    order rules (end before start, actual dates in the future) are left out.
    """
    dates: list[tuple[str, dt.date]] = []
    actual_start = actual_start if actual_start and actual_start <= today else None
    start = planned_start or (None if actual_start else registered_on)
    if start is not None:
        dates.append((PLANNED_START, start))
    if actual_start is not None:
        dates.append((ACTUAL_START, actual_start))
    if planned_end is not None and (start is None or planned_end > start):
        dates.append((PLANNED_END, planned_end))
    if actual_end is not None and actual_start is not None and actual_start <= actual_end <= today:
        dates.append((ACTUAL_END, actual_end))
    return dates


_FORBIDDEN_IN_IDENTIFIERS = str.maketrans({"/": "-", "&": "-", "|": "-", "?": "-", " ": "-"})


def identifier_part(text: str) -> str:
    """A piece of an iati-identifier: the symbols IATI forbids (/ & | ? and
    spaces, rule 1.3.13) become hyphens."""
    return text.strip().translate(_FORBIDDEN_IN_IDENTIFIERS)


def activity_identifier(reporting_org_ref: str, agreement_reference: str) -> str:
    """The agreement's iati-identifier: the reporting-org ref, ``-``, its reference."""
    return f"{reporting_org_ref}-{identifier_part(agreement_reference)}"


def initiative_identifier(agreement_identifier: str, initiative_short_id: str) -> str:
    """An initiative's iati-identifier: its agreement's, ``-``, a stable short id."""
    return f"{agreement_identifier}-{initiative_short_id}"


def short_id(uuid_hex: str) -> str:
    """A stable short id for an initiative: the last 12 hex digits of its UUID
    (UUIDv7: the random part, unique within an agreement in practice)."""
    return uuid_hex.replace("-", "")[-12:].upper()


def country_shares(countries: list[str]) -> list[tuple[str, str | None]]:
    """Recipient countries with percentages adding up to exactly 100 when
    there are several (IATI rule on recipient-country percentages); one
    country needs none."""
    if len(countries) <= 1:
        return [(country, None) for country in countries]
    share = round(100 / len(countries), 2)
    shares = [share] * len(countries)
    shares[-1] = round(100 - share * (len(countries) - 1), 2)
    return [(country, f"{value:.2f}") for country, value in zip(countries, shares, strict=True)]
