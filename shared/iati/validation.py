"""Validate an IATI activities document: the official 2.03 XSD, then the
IATI ruleset checks the schema cannot make.

The schema (``shared/iati/schema/``, copied unchanged from IATI-Schemas)
checks structure and element order only. The ruleset checks made here, with
their IATI Rulesets ids:

- ``1.1.21`` / ``1.1.3`` identifiers: each ``iati-identifier`` starts with
  the reporting-org ref followed by ``-``, and differs from that ref;
- ``6.11.1`` a start date: a planned (1) or actual (2) ``activity-date``;
- ``4.1.1`` languages: every ``narrative`` has ``xml:lang``, itself or from
  its activity or document;
- codes: activity status, date types, organisation roles and types,
  related-activity types, document categories and recipient countries come
  from their code lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pycountry
from lxml import etree

from shared.iati import codes

SCHEMA_DIR = Path(__file__).parent / "schema"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class Issue:
    rule: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}[{self.rule}] {self.message}"


@cache
def schema() -> etree.XMLSchema:
    """The IATI 2.03 activities schema (it imports its two neighbours by relative path)."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "iati-activities-schema.xsd")))


@cache
def codelist(name: str) -> frozenset[str]:
    """The codes of one of the embedded codelists in ``schema/codelists/``."""
    tree = etree.parse(str(SCHEMA_DIR / "codelists" / f"{name}.xml"))
    return frozenset(code.strip() for code in tree.xpath("//codelist-item/code/text()"))


def _parser() -> etree.XMLParser:
    # No DTDs, entities or network: the document may come from anywhere.
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def parse(source: bytes | str | Path) -> etree._ElementTree:
    """Parse bytes or a file; raises ``etree.XMLSyntaxError`` when not well-formed."""
    if isinstance(source, bytes):
        return etree.ElementTree(etree.fromstring(source, _parser()))
    return etree.parse(str(source), _parser())


def validate(source: bytes | str | Path) -> list[Issue]:
    """Every problem of the document: not well-formed, schema, then ruleset."""
    try:
        tree = parse(source)
    except etree.XMLSyntaxError as error:
        return [Issue("xml", str(error), getattr(error, "lineno", None))]
    issues = schema_issues(tree)
    return issues + ruleset_issues(tree)


def schema_issues(tree: etree._ElementTree) -> list[Issue]:
    validator = schema()
    if validator.validate(tree):
        return []
    return [Issue("schema", entry.message, entry.line) for entry in validator.error_log]


def ruleset_issues(tree: etree._ElementTree) -> list[Issue]:
    root = tree.getroot()
    issues: list[Issue] = []
    for activity in root.iter("iati-activity"):
        issues += identifier_issues(activity)
        issues += start_date_issues(activity)
        issues += code_issues(activity)
    issues += language_issues(root)
    return issues


def _identifier(activity: etree._Element) -> str:
    return (activity.findtext("iati-identifier") or "").strip()


def identifier_issues(activity: etree._Element) -> list[Issue]:
    identifier = _identifier(activity)
    reporting = activity.find("reporting-org")
    ref = (reporting.get("ref") or "").strip() if reporting is not None else ""
    if not ref:
        return []  # the schema reports a missing reporting-org or ref
    if identifier == ref:
        return [
            Issue(
                "1.1.3",
                f"The activity identifier {identifier!r} must differ from the reporting "
                "organisation's identifier.",
                activity.sourceline,
            )
        ]
    if not identifier.startswith(ref + "-"):
        return [
            Issue(
                "1.1.21",
                f"The activity identifier {identifier!r} must start with the reporting "
                f"organisation's identifier {ref!r} followed by '-'.",
                activity.sourceline,
            )
        ]
    return []


def start_date_issues(activity: etree._Element) -> list[Issue]:
    types = {date.get("type") for date in activity.findall("activity-date")}
    if types & {codes.PLANNED_START, codes.ACTUAL_START}:
        return []
    return [
        Issue(
            "6.11.1",
            f"Activity {_identifier(activity)!r} has no planned (1) or actual (2) start date.",
            activity.sourceline,
        )
    ]


def language_issues(root: etree._Element) -> list[Issue]:
    issues = []
    for narrative in root.iter("narrative"):
        if not any(element.get(XML_LANG) for element in (narrative, *narrative.iterancestors())):
            issues.append(
                Issue(
                    "4.1.1",
                    f"A narrative of <{narrative.getparent().tag}> has no language "
                    "(xml:lang on it, its activity or the document).",
                    narrative.sourceline,
                )
            )
    return issues


# (xpath within an activity, attribute, codelist name or a set of codes)
def _code_checks() -> list[tuple[str, str, frozenset[str]]]:
    return [
        ("activity-status", "code", codelist("ActivityStatus")),
        ("activity-date", "type", codelist("ActivityDateType")),
        ("participating-org", "role", codelist("OrganisationRole")),
        ("participating-org", "type", codes.ORGANISATION_TYPES),
        ("reporting-org", "type", codes.ORGANISATION_TYPES),
        ("related-activity", "type", codelist("RelatedActivityType")),
        ("document-link/category", "code", codelist("DocumentCategory")),
    ]


def code_issues(activity: etree._Element) -> list[Issue]:
    issues = []
    for path, attribute, allowed in _code_checks():
        for element in activity.findall(path):
            value = element.get(attribute)
            if value is not None and value not in allowed:
                issues.append(
                    Issue(
                        "codelist",
                        f"<{element.tag} {attribute}={value!r}> is not a code of its IATI "
                        "code list.",
                        element.sourceline,
                    )
                )
    for country in activity.findall("recipient-country"):
        code = country.get("code") or ""
        if len(code) != 2 or pycountry.countries.get(alpha_2=code.upper()) is None:
            issues.append(
                Issue(
                    "codelist",
                    f"<recipient-country code={code!r}> is not an ISO 3166-1 alpha-2 code.",
                    country.sourceline,
                )
            )
    return issues
