"""The validator: the official XSD, then each ruleset check, failing and passing."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from shared.iati.validation import (
    SCHEMA_DIR,
    code_issues,
    identifier_issues,
    language_issues,
    schema_issues,
    start_date_issues,
    validate,
)
from shared.iati.writer import render_document
from tests.exports.iati_facts import CONTEXT, agreement
from tests.live import ACCORDS

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@pytest.fixture
async def valid() -> etree._Element:
    return etree.fromstring(await render_document([agreement()], CONTEXT))


def first_activity(root: etree._Element) -> etree._Element:
    return root[0]


def test_the_schema_ships_inside_the_package() -> None:
    names = {path.name for path in SCHEMA_DIR.iterdir()}
    assert {"iati-activities-schema.xsd", "iati-common.xsd", "xml.xsd", "SOURCE.md"} <= names


def test_a_valid_export_has_no_issue(valid: etree._Element) -> None:
    assert validate(etree.tostring(valid)) == []


def test_a_document_without_reporting_org_fails_the_schema(valid: etree._Element) -> None:
    activity = first_activity(valid)
    activity.remove(activity.find("reporting-org"))
    issues = validate(etree.tostring(valid))
    assert [issue.rule for issue in issues] == ["schema"]
    assert "reporting-org" in issues[0].message


def test_elements_out_of_schema_order_fail(valid: etree._Element) -> None:
    activity = first_activity(valid)
    status = activity.find("activity-status")
    activity.remove(status)
    activity.insert(1, status)
    assert schema_issues(etree.ElementTree(valid))


def test_not_well_formed_xml_is_reported_not_raised() -> None:
    assert [issue.rule for issue in validate(b"<iati-activities>")] == ["xml"]


def _identifier(value: str) -> Callable[[etree._Element], None]:
    def change(activity: etree._Element) -> None:
        activity.find("iati-identifier").text = value

    return change


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (_identifier("XM-OTHER-STZA-GEI-MOU"), "1.1.21"),
        (_identifier("PK-GOV-STZASTZA-GEI"), "1.1.21"),
        (_identifier("PK-GOV-STZA"), "1.1.3"),
    ],
)
def test_an_identifier_must_start_with_the_reporting_ref_and_differ_from_it(
    valid: etree._Element, change: Callable[[etree._Element], None], rule: str
) -> None:
    activity = first_activity(valid)
    assert identifier_issues(activity) == []
    change(activity)
    assert [issue.rule for issue in identifier_issues(activity)] == [rule]


def test_an_activity_without_a_start_date_fails(valid: etree._Element) -> None:
    activity = first_activity(valid)
    assert start_date_issues(activity) == []
    for date in activity.findall("activity-date"):
        if date.get("type") in ("1", "2"):
            date.set("type", "3")
    assert [issue.rule for issue in start_date_issues(activity)] == ["6.11.1"]


def test_a_narrative_without_a_language_fails(valid: etree._Element) -> None:
    assert language_issues(valid) == []
    narrative = next(valid.iter("narrative"))
    del narrative.attrib[XML_LANG]
    first_activity(valid).attrib.pop(XML_LANG)
    assert [issue.rule for issue in language_issues(valid)] == ["4.1.1"]


def test_a_narrative_may_take_its_language_from_its_activity(valid: etree._Element) -> None:
    for narrative in valid.iter("narrative"):
        del narrative.attrib[XML_LANG]
    assert language_issues(valid) == []


@pytest.mark.parametrize(
    ("path", "attribute", "value"),
    [
        ("activity-status", "code", "9"),
        ("activity-date", "type", "7"),
        ("participating-org", "role", "5"),
        ("participating-org", "type", "99"),
        ("related-activity", "type", "8"),
        ("document-link/category", "code", "Z01"),
        ("recipient-country", "code", "XX"),
    ],
)
def test_a_code_outside_its_code_list_fails(
    valid: etree._Element, path: str, attribute: str, value: str
) -> None:
    activity = first_activity(valid)
    assert code_issues(activity) == []
    activity.find(path).set(attribute, value)
    assert [issue.rule for issue in code_issues(activity)] == ["codelist"]


def test_accords_iati_validate_exits_0_on_a_valid_file(
    tmp_path: Path, valid: etree._Element
) -> None:
    path = tmp_path / "valid.xml"
    path.write_bytes(etree.tostring(valid))
    result = subprocess.run(
        [ACCORDS, "iati", "validate", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_accords_iati_validate_exits_1_listing_the_problems(
    tmp_path: Path, valid: etree._Element
) -> None:
    first_activity(valid).find("iati-identifier").text = "PK-GOV-STZA"
    path = tmp_path / "broken.xml"
    path.write_bytes(etree.tostring(valid))
    result = subprocess.run(
        [ACCORDS, "iati", "validate", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "[1.1.3]" in result.stdout
