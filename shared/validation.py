"""Reusable field types with the validation rules of the contract."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from shared.clock import today  # noqa: F401 - the clock's, re-exported for its callers here


def _country(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code")
    return code


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


# The codes themselves, as a pattern (an enum would make generated clients
# want an enum member where a string does).
COUNTRY_PATTERN = f"^(?:{'|'.join(sorted(country.alpha_2 for country in pycountry.countries))})$"
CountryCode = Annotated[
    str,
    AfterValidator(_country),
    Field(
        min_length=2,
        max_length=2,
        description="ISO 3166-1 alpha-2 code, e.g. `PK`.",
        examples=["PK"],
        json_schema_extra={"pattern": COUNTRY_PATTERN},
    ),
]
RorId = Annotated[
    str,
    StringConstraints(pattern=r"^https://ror\.org/0[0-9a-hjkmnp-tv-z]{6}[0-9]{2}$"),
    Field(description="A ROR identifier URL, e.g. `https://ror.org/05dxps055`."),
]

IatiOrgRef = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{1,99}$"),
    Field(
        description="The organization's IATI organisation identifier "
        "(registration agency prefix and number, e.g. `PK-GOV-123` or `XM-DAC-41114`); "
        "no spaces and none of / & | ?.",
        examples=["PK-GOV-STZA"],
    ),
]


# Some character other than whitespace, and no NUL: what is left non-empty once
# stripped (str.strip also strips \x1c-\x1f and \x85, which ECMA-262's \s lacks).
TEXT_PATTERN = r"^[^\x00]*[^\s\x00\x1c-\x1f\x85][^\x00]*$"


def bounded_text(max_length: int, pattern: str = TEXT_PATTERN) -> object:
    """A stripped, non-empty string of at most ``max_length`` characters."""
    return Annotated[
        str,
        StringConstraints(min_length=1, max_length=max_length, pattern=pattern),
        BeforeValidator(_strip),
    ]


def _refuse_nul(value: Any, path: str = "") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path or 'value'} contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, path)
            _refuse_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, f"{path}[{index}]")


class RequestBody(BaseModel):
    """Base of request bodies: unknown fields are refused, and so is any text
    with a NUL character (no database stores one in a text column)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, values: Any) -> Any:
        _refuse_nul(values)
        return values


def refuse_null_in_schema(schema: JsonSchemaValue, names: tuple[str, ...]) -> None:
    """Say in a model's JSON schema that the named properties may be left out
    but never be null (the model's validator refuses null for them)."""
    properties = schema.get("properties", {})
    for name in names:
        prop = properties.get(name)
        if prop is None:
            continue
        prop.pop("default", None)
        options = prop.get("anyOf")
        if not options:
            continue
        kept = [option for option in options if option.get("type") != "null"]
        if len(kept) == 1:
            del prop["anyOf"]
            properties[name] = {**kept[0], **prop}
        else:
            prop["anyOf"] = kept


class NeverNull(RequestBody):
    """A body whose ``required_fields`` may be left out but never sent as null
    (the validator refuses it, and the JSON schema says so: optional, not nullable)."""

    required_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _no_null_for_required(cls, values: Any) -> Any:
        if isinstance(values, dict):
            nulled = [
                name for name in cls.required_fields if name in values and values[name] is None
            ]
            if nulled:
                raise ValueError(f"{', '.join(nulled)} cannot be null")
        return values

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        refuse_null_in_schema(handler.resolve_ref_schema(schema), cls.required_fields)
        return schema


class Patch(NeverNull):
    """Base of PATCH bodies: null is refused for a field the resource cannot be without."""

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, with their new values."""
        return self.model_dump(exclude_unset=True)


# Classes spelt out so that Python, ECMA-262 (JSON Schema) and the server's
# regex engine agree: `\d` is Unicode in two of them, ASCII in the third.
ORCID_PATTERN = r"^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$"
DOI_PATTERN = r"^10\.[0-9]{4,9}/[^\s\x85\x00]+$"


def orcid_checksum_valid(orcid: str) -> bool:
    """ISO 7064 MOD 11-2 check of an ORCID iD written ``0000-0002-1825-0097``."""
    digits = orcid.replace("-", "")
    if len(digits) != 16 or not digits[:15].isdigit():
        return False
    total = 0
    for digit in digits[:15]:
        total = (total + int(digit)) * 2
    check = (12 - total % 11) % 11
    return digits[15] == ("X" if check == 10 else str(check))


def _orcid(value: str) -> str:
    if not orcid_checksum_valid(value):
        raise ValueError(f"'{value}' is not a valid ORCID iD (its check digit does not match)")
    return value


def _bare_orcid(value: object) -> object:
    """Accept the URL form too, and store the bare identifier."""
    if isinstance(value, str):
        value = value.strip()
        for prefix in ("https://orcid.org/", "http://orcid.org/"):
            if value.lower().startswith(prefix):
                return value[len(prefix) :].upper()
        return value.upper()
    return value


# The constraints come before the BeforeValidator (which still runs first):
# in the other order pydantic leaves the pattern out of the JSON schema.
Orcid = Annotated[
    str,
    StringConstraints(pattern=ORCID_PATTERN),
    BeforeValidator(_bare_orcid),
    AfterValidator(_orcid),
    Field(
        description="ORCID iD (`0000-0002-1825-0097`; the `https://orcid.org/` form is "
        "accepted); the ISO 7064 MOD 11-2 check digit is verified.",
        examples=["0000-0002-1825-0097"],
    ),
]
Doi = Annotated[
    str,
    StringConstraints(pattern=DOI_PATTERN, max_length=300),
    BeforeValidator(_strip),
    Field(description="A DOI such as `10.1000/xyz123`.", examples=["10.1000/xyz123"]),
]

# The shape of an RFC 5646 (BCP 47) language tag: language, then optional
# script, region, variants, extensions and private use (`en`, `zh-Hans`,
# `ur-PK`, `de-CH-1996`); the 4-8 letter language subtags RFC 5646 reserves
# (none is registered) and grandfathered irregular tags are not accepted.
BCP47_PATTERN = (
    r"^[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-x(?:-[A-Za-z0-9]{1,8})+)?$"
)
LanguageTag = Annotated[
    str,
    StringConstraints(pattern=BCP47_PATTERN, max_length=35),
    BeforeValidator(_strip),
    Field(description="A BCP 47 language tag, e.g. `en`, `zh-Hans`, `ur`.", examples=["zh-Hans"]),
]
