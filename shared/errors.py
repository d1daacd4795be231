"""Domain exceptions. The API renders each as an RFC 9457 problem document."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 400
    type_slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(DomainError):
    status = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class InvalidTransition(Conflict):
    type_slug = "invalid-transition"
    title = "Invalid status transition"


class TransitionConditionFailed(Conflict):
    type_slug = "transition-condition-failed"
    title = "Transition condition not met"


class InvalidReference(DomainError):
    """The body names something that does not exist or does not fit."""

    status = 422
    type_slug = "invalid-reference"
    title = "Invalid reference"


class PreconditionRequired(DomainError):
    status = 428
    type_slug = "precondition-required"
    title = "Precondition required"


class PreconditionFailed(DomainError):
    status = 412
    type_slug = "precondition-failed"
    title = "Precondition failed"


class Unauthorized(DomainError):
    status = 401
    type_slug = "unauthorized"
    title = "Unauthorized"


class Forbidden(DomainError):
    status = 403
    type_slug = "forbidden"
    title = "Forbidden"


class ContentTooLarge(DomainError):
    status = 413
    type_slug = "content-too-large"
    title = "Content too large"


class UnsupportedMediaType(DomainError):
    status = 415
    type_slug = "unsupported-media-type"
    title = "Unsupported media type"
