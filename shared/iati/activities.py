"""Build the ``iati-activity`` elements of one agreement: pure, no I/O.

One activity per agreement (hierarchy 1) and one per initiative (hierarchy
2), linked both ways by ``related-activity`` (type 2 child from the
agreement, type 1 parent from the initiative). Elements come in the order
the 2.03 schema's sequence fixes. Accords records no money, so no activity
carries ``default-currency`` and none has a budget or transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from lxml import etree

from shared.iati import codes
from shared.iati.facts import (
    AgreementFacts,
    DocumentFacts,
    ExportContext,
    IndicatorFacts,
    InitiativeFacts,
    PartyFacts,
)

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
IATI_VERSION = "2.03"


def build_activities(agreement: AgreementFacts, context: ExportContext) -> list[etree._Element]:
    """The agreement's activity followed by one activity per initiative."""
    identifier = codes.activity_identifier(context.reporting_org.ref, agreement.reference)
    children = [
        (initiative, codes.initiative_identifier(identifier, codes.short_id(initiative.id.hex)))
        for initiative in agreement.initiatives
    ]
    countries = recipient_countries(agreement.parties, context.reporting_country)
    activities = [_agreement_activity(agreement, identifier, children, countries, context)]
    by_id = {party.organization.id: party for party in agreement.parties}
    objectives = {objective["ref"]: objective["text"] for objective in agreement.objectives}
    for initiative, child_identifier in children:
        activities.append(
            _initiative_activity(
                initiative,
                child_identifier,
                parent=identifier,
                parties=agreement.parties,
                lead=by_id.get(initiative.lead_organization_id),
                countries=countries,
                objectives=objectives,
                context=context,
            )
        )
    return activities


def recipient_countries(parties: Iterable[PartyFacts], reporting_country: str | None) -> list[str]:
    """The parties' countries, in party order, without the reporting organization's."""
    countries: list[str] = []
    for party in parties:
        country = party.organization.country.upper()
        if country != reporting_country and country not in countries:
            countries.append(country)
    return countries


def _activity(
    identifier: str, hierarchy: str, updated_at: dt.datetime, context: ExportContext
) -> etree._Element:
    activity = etree.Element(
        "iati-activity",
        {
            XML_LANG: context.language,
            "hierarchy": hierarchy,
            "last-updated-datetime": updated_at.astimezone(dt.UTC)
            .replace(microsecond=0)
            .isoformat(),
        },
    )
    etree.SubElement(activity, "iati-identifier").text = identifier
    reporting = etree.SubElement(
        activity,
        "reporting-org",
        {"ref": context.reporting_org.ref, "type": context.reporting_org.type},
    )
    _narrative(reporting, context.reporting_org.name, context.language)
    return activity


def _narrative(parent: etree._Element, text: str, language: str | None) -> etree._Element:
    narrative = etree.SubElement(parent, "narrative")
    if language:
        narrative.set(XML_LANG, language)
    narrative.text = text
    return narrative


def _text_element(
    parent: etree._Element, tag: str, text: str, language: str, **attributes: str
) -> etree._Element:
    element = etree.SubElement(parent, tag, attributes)
    _narrative(element, text, language)
    return element


def _participating_org(parent: etree._Element, party: PartyFacts, role: str, language: str) -> None:
    organization = party.organization
    attributes = {"role": role, "type": codes.organisation_type(organization.kind)}
    if organization.iati_ref:
        attributes["ref"] = organization.iati_ref
    element = etree.SubElement(parent, "participating-org", attributes)
    _narrative(element, organization.name, language)


def _dates(parent: etree._Element, dates: list[tuple[str, dt.date]]) -> None:
    for date_type, on in dates:
        etree.SubElement(parent, "activity-date", {"type": date_type, "iso-date": on.isoformat()})


def _countries(parent: etree._Element, countries: list[str]) -> None:
    for country, percentage in codes.country_shares(countries):
        attributes = {"code": country}
        if percentage is not None:
            attributes["percentage"] = percentage
        etree.SubElement(parent, "recipient-country", attributes)


def _agreement_activity(
    agreement: AgreementFacts,
    identifier: str,
    children: list[tuple[InitiativeFacts, str]],
    countries: list[str],
    context: ExportContext,
) -> etree._Element:
    language = context.language
    activity = _activity(identifier, "1", agreement.updated_at, context)
    _text_element(activity, "title", agreement.title, language)
    _text_element(activity, "description", agreement.summary or agreement.title, language, type="1")
    if agreement.objectives:
        objectives = "\n".join(f"{item['ref']}: {item['text']}" for item in agreement.objectives)
        _text_element(activity, "description", objectives, language, type="2")
    for party in agreement.parties:
        _participating_org(activity, party, codes.participating_org_role(party.role), language)
    etree.SubElement(
        activity, "activity-status", {"code": codes.agreement_activity_status(agreement.status)}
    )
    _dates(
        activity,
        codes.agreement_dates(
            status=agreement.status,
            effective_from=agreement.effective_from,
            expires_on=agreement.expires_on,
            signed_on=agreement.signed_on,
            registered_on=agreement.registered_on,
            ended_on=agreement.ended_on,
            today=context.today,
        ),
    )
    _countries(activity, countries)
    for document in agreement.documents:
        _document_link(activity, document, agreement.instrument_type, context)
    for _initiative, child in children:
        etree.SubElement(activity, "related-activity", {"ref": child, "type": codes.CHILD})
    return activity


def _initiative_activity(
    initiative: InitiativeFacts,
    identifier: str,
    *,
    parent: str,
    parties: list[PartyFacts],
    lead: PartyFacts | None,
    countries: list[str],
    objectives: dict[str, str],
    context: ExportContext,
) -> etree._Element:
    language = context.language
    activity = _activity(identifier, "2", initiative.updated_at, context)
    _text_element(activity, "title", initiative.title, language)
    _text_element(
        activity, "description", initiative.description or initiative.title, language, type="1"
    )
    if lead is not None:
        _participating_org(activity, lead, codes.IMPLEMENTING, language)
    for party in parties:
        if lead is None or party.organization.id != lead.organization.id:
            _participating_org(activity, party, codes.participating_org_role(party.role), language)
    etree.SubElement(
        activity, "activity-status", {"code": codes.initiative_activity_status(initiative.status)}
    )
    _dates(
        activity,
        codes.initiative_dates(
            planned_start=initiative.planned_start,
            planned_end=initiative.planned_end,
            actual_start=initiative.actual_start,
            actual_end=initiative.actual_end,
            registered_on=initiative.registered_on,
            today=context.today,
        ),
    )
    _countries(activity, countries)
    etree.SubElement(activity, "related-activity", {"ref": parent, "type": codes.PARENT})
    _results(activity, initiative, objectives, language)
    return activity


def _document_link(
    parent: etree._Element, document: DocumentFacts, instrument_type: str, context: ExportContext
) -> None:
    url = f"{context.public_url.rstrip('/')}/v1/documents/{document.id}/content"
    link = etree.SubElement(parent, "document-link", {"url": url, "format": document.media_type})
    _text_element(link, "title", document.title or document.filename, context.language)
    etree.SubElement(
        link,
        "category",
        {"code": codes.document_category(document.kind, instrument_type=instrument_type)},
    )
    if document.language:
        # IATI's Language codelist is ISO 639-1: the primary subtag of the BCP 47 tag.
        etree.SubElement(link, "language", {"code": document.language.split("-")[0].lower()})
    etree.SubElement(link, "document-date", {"iso-date": document.created_on.isoformat()})


def _results(
    activity: etree._Element,
    initiative: InitiativeFacts,
    objectives: dict[str, str],
    language: str,
) -> None:
    """One Output result per objective the initiative's indicators serve."""
    groups: dict[str | None, list[IndicatorFacts]] = {}
    for indicator in initiative.indicators:
        ref = indicator.objective_ref or initiative.objective_ref
        groups.setdefault(ref if ref in objectives else None, []).append(indicator)
    for ref, indicators in groups.items():
        result = etree.SubElement(
            activity, "result", {"type": codes.RESULT_OUTPUT, "aggregation-status": "false"}
        )
        title = objectives[ref] if ref is not None else initiative.title
        _text_element(result, "title", title, language)
        for indicator in indicators:
            _indicator(result, indicator, initiative, language)


def _value_of(point: dict | None) -> tuple[object, dt.date | None]:
    if not point:
        return None, None
    on = point.get("on")
    if isinstance(on, str):
        on = dt.date.fromisoformat(on)
    return point.get("value"), on


def _indicator(
    result: etree._Element, indicator: IndicatorFacts, initiative: InitiativeFacts, language: str
) -> None:
    qualitative = indicator.measure == "qualitative"
    baseline_value, baseline_on = _value_of(indicator.baseline)
    target_value, target_on = _value_of(indicator.target)
    attributes = {"measure": codes.indicator_measure(indicator.measure)}
    if not qualitative and _is_number(baseline_value) and _is_number(target_value):
        attributes["ascending"] = "true" if target_value >= baseline_value else "false"  # type: ignore[operator]
    element = etree.SubElement(result, "indicator", attributes)
    _text_element(element, "title", indicator.title, language)
    if indicator.unit:
        _text_element(element, "description", f"Unit: {indicator.unit}", language)
    if baseline_value is not None:
        on = baseline_on or initiative.planned_start or initiative.registered_on
        baseline = etree.SubElement(
            element, "baseline", {"year": str(on.year), "iso-date": on.isoformat()}
        )
        _point(baseline, baseline_value, qualitative, language)
    start = baseline_on or initiative.planned_start or initiative.registered_on
    end = target_on or indicator.latest_on
    if end is not None and start < end:
        period = etree.SubElement(element, "period")
        etree.SubElement(period, "period-start", {"iso-date": start.isoformat()})
        etree.SubElement(period, "period-end", {"iso-date": end.isoformat()})
        if target_value is not None:
            _point(etree.SubElement(period, "target"), target_value, qualitative, language)
        if indicator.latest_value is not None:
            actual = etree.SubElement(period, "actual")
            _point(actual, indicator.latest_value, qualitative, language)


def _point(element: etree._Element, value: object, qualitative: bool, language: str) -> None:
    """A value: numbers in ``@value``; qualitative text in a comment (IATI
    rules 8.8.3, 8.9.3, 8.10.3 want no value on qualitative measures)."""
    if qualitative:
        _text_element(element, "comment", str(value), language)
    else:
        element.set("value", _number_text(value))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
