"""Form input checked by the same pydantic schemas as /v1, errors as field messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import DomainError

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class FieldError:
    """A message for the error summary; ``field`` is the id of the input it links to."""

    field: str | None
    message: str


def blank_to_none(values: dict[str, Any]) -> dict[str, Any]:
    """Empty form fields mean "not given"."""
    return {
        name: (None if isinstance(value, str) and not value.strip() else value)
        for name, value in values.items()
    }


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")


def parse_form(model: type[Model], values: dict[str, Any]) -> tuple[Model | None, list[FieldError]]:
    """The model, or the messages saying what to fix (one per field)."""
    try:
        return model.model_validate(blank_to_none(values)), []
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            location = [part for part in error.get("loc", ()) if isinstance(part, str)]
            field = location[0] if location else None
            errors.append(FieldError(field=field, message=_message(dict(error))))
        return None, errors


def refusal(error: DomainError) -> list[FieldError]:
    """A service's refusal (the rule's message), with the fields it names."""
    found = []
    for item in error.extensions.get("errors", []) or []:
        location = [part for part in item.get("loc", ()) if part != "body"]
        found.append(
            FieldError(field=str(location[0]) if location else None, message=str(item["msg"]))
        )
    return [FieldError(field=None, message=error.detail), *found]


def prefixed(errors: list[FieldError], prefix: str) -> list[FieldError]:
    """The messages with their fields named as the page's input ids (``prefix`` + name),
    so that two forms of one page can have fields of the same name."""
    return [
        FieldError(
            field=None if error.field is None else prefix + error.field, message=error.message
        )
        for error in errors
    ]
