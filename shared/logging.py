"""Structured logging: JSON lines in production, readable lines in development.

Every line carries the request id bound by the API middleware. Secrets never
reach a log: a processor masks any field whose name says it holds one.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_SECRET_FIELDS = ("api_key", "key", "secret", "authorization", "password", "token")


def _mask_secrets(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for name in list(event):
        lowered = name.lower()
        if any(lowered == field or lowered.endswith("_" + field) for field in _SECRET_FIELDS):
            event[name] = "***"
    return event


def configure_logging(*, log_format: str = "json", level: str = "info") -> None:
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_secrets,
    ]
    renderer: Any
    if log_format == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Route the standard library's loggers (uvicorn, sqlalchemy, dramatiq) through
    # the same renderer so that every line has one shape.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Database drivers and SQLAlchemy log statements with their parameters at
    # info/debug: those carry contacts' personal data and secrets, so they
    # never log below warning, whatever the level.
    for name in ("sqlalchemy", "aiosqlite", "asyncpg"):
        logging.getLogger(name).setLevel(max(numeric_level, logging.WARNING))
    # The API middleware writes one access line per request, with its request id.
    logging.getLogger("uvicorn.access").disabled = True
