"""The IATI mapping as pure functions: results, document links, dates, codes."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from shared.iati import codes
from shared.iati.validation import validate
from shared.iati.writer import render_document
from tests.exports.iati_facts import CONTEXT, TODAY, agreement, indicator, initiative

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


async def rendered(**overrides: object) -> etree._Element:
    return etree.fromstring(await render_document([agreement(**overrides)], CONTEXT))


async def test_a_full_agreement_with_results_and_documents_validates() -> None:
    document_bytes = await render_document([agreement()], CONTEXT)
    assert validate(document_bytes) == []


async def test_indicators_become_a_result_with_baseline_target_and_actual() -> None:
    root = await rendered()
    result = root[1].find("result")
    assert result.findtext("title/narrative") == "Capacity building of policymakers."
    measured = result.find("indicator")
    assert measured.get("measure") == "1" and measured.get("ascending") == "true"
    assert measured.find("baseline").attrib == {
        "year": "2023",
        "iso-date": "2023-10-01",
        "value": "0",
    }
    period = measured.find("period")
    assert period.find("period-start").get("iso-date") == "2023-10-01"
    assert period.find("period-end").get("iso-date") == "2025-12-31"
    assert period.find("target").get("value") == "120"
    assert period.find("actual").get("value") == "35"


async def test_a_qualitative_indicator_puts_its_values_in_comments() -> None:
    qualitative = indicator(
        measure="qualitative",
        baseline={"value": "no plan", "on": "2023-10-01"},
        target={"value": "plan adopted", "on": "2025-12-31"},
        latest_value="draft plan",
    )
    document_bytes = await render_document(
        [agreement(initiatives=[initiative(indicators=[qualitative])])], CONTEXT
    )
    measured = etree.fromstring(document_bytes)[1].find("result/indicator")
    assert measured.get("measure") == "5"
    assert measured.find("baseline").get("value") is None
    assert measured.findtext("period/target/comment/narrative") == "plan adopted"
    assert validate(document_bytes) == []


async def test_a_document_links_to_its_content_with_category_and_language() -> None:
    root = await rendered()
    link = root[0].find("document-link")
    assert link.get("url").startswith("https://accords.example.org/v1/documents/")
    assert link.get("url").endswith("/content")
    assert link.get("format") == "application/pdf"
    assert link.find("category").get("code") == "A09"
    assert link.find("language").get("code") == "zh"


async def test_the_agreement_activity_lists_the_other_parties_countries() -> None:
    root = await rendered()
    assert [country.get("code") for country in root[0].findall("recipient-country")] == ["CN"]


async def test_an_initiative_lead_is_the_implementing_organisation() -> None:
    root = await rendered()
    orgs = root[1].findall("participating-org")
    assert (orgs[0].get("role"), orgs[0].findtext("narrative")) == (
        "4",
        "Great Wall Enterprise Institute",
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("draft", "1"),
        ("negotiation", "1"),
        ("signed", "2"),
        ("active", "2"),
        ("suspended", "6"),
        ("completed", "4"),
        ("expired", "4"),
        ("terminated", "5"),
        ("cancelled", "5"),
    ],
)
def test_agreement_status_maps_to_the_activity_status_codelist(status: str, code: str) -> None:
    assert codes.agreement_activity_status(status) == code


@pytest.mark.parametrize(
    ("role", "code"),
    [
        ("funder", "1"),
        ("signatory", "2"),
        ("implementing_partner", "4"),
        ("witness", "3"),
        ("observer", "3"),
    ],
)
def test_party_roles_map_to_organisation_roles(role: str, code: str) -> None:
    assert codes.participating_org_role(role) == code


def test_a_draft_agreement_without_dates_starts_on_its_registration_date() -> None:
    dates = codes.agreement_dates(
        status="draft",
        effective_from=None,
        expires_on=None,
        signed_on=None,
        registered_on=dt.date(2026, 1, 5),
        ended_on=None,
        today=TODAY,
    )
    assert dates == [(codes.PLANNED_START, dt.date(2026, 1, 5))]


def test_a_future_actual_start_is_reported_as_planned() -> None:
    dates = codes.agreement_dates(
        status="signed",
        effective_from=dt.date(2027, 1, 1),
        expires_on=None,
        signed_on=dt.date(2026, 11, 1),
        registered_on=dt.date(2026, 10, 1),
        ended_on=None,
        today=TODAY,
    )
    assert dates == [(codes.PLANNED_START, dt.date(2027, 1, 1))]


def test_a_terminated_agreement_has_an_actual_end() -> None:
    dates = codes.agreement_dates(
        status="terminated",
        effective_from=dt.date(2024, 1, 1),
        expires_on=dt.date(2029, 1, 1),
        signed_on=None,
        registered_on=dt.date(2023, 12, 1),
        ended_on=dt.date(2026, 6, 1),
        today=TODAY,
    )
    assert (codes.ACTUAL_END, dt.date(2026, 6, 1)) in dates


def test_identifiers_replace_the_symbols_iati_forbids() -> None:
    assert codes.activity_identifier("XM-DAC-1", "MOU/2023 & co?") == "XM-DAC-1-MOU-2023---co-"


def test_several_recipient_countries_share_exactly_100_percent() -> None:
    shares = codes.country_shares(["CN", "GB", "KE"])
    assert sum(float(percentage) for _code, percentage in shares) == 100
