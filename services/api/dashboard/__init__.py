"""The dashboard (SPEC section 13): server-rendered pages under /app."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from .actions import router as actions_router
from .auth import router as auth_router
from .errors import install_error_pages
from .pages import router as pages_router
from .record_actions import UPLOAD_PATH
from .record_actions import router as record_actions_router
from .render import HERE

__all__ = ["UPLOAD_PATH", "install_dashboard"]


def install_dashboard(app: FastAPI) -> None:
    """Mount the pages, their assets and their HTML error pages on ``app``."""
    app.mount("/app/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
    app.include_router(auth_router)
    app.include_router(pages_router)
    app.include_router(actions_router)
    app.include_router(record_actions_router)
    install_error_pages(app)
