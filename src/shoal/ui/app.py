"""Mounting the web UI on the API's FastAPI app."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from shoal.ui import pages
from shoal.ui.errors import install_ui_error_handlers
from shoal.ui.pages.oidc import install_oidc
from shoal.ui.paths import UI_PREFIX

__all__ = ["install_ui"]

STATIC_DIR = Path(__file__).parent / "static"


def install_ui(app: FastAPI) -> None:
    install_ui_error_handlers(app)
    install_oidc(app)
    app.mount(f"{UI_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="ui-static")
    # Every module of shoal.ui.pages with a `router` is a part of the UI.
    for module in sorted(m.name for m in pkgutil.iter_modules(pages.__path__)):
        router = getattr(importlib.import_module(f"{pages.__name__}.{module}"), "router", None)
        if router is not None:
            app.include_router(router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse(f"{UI_PREFIX}/", status_code=307)

    @app.get(UI_PREFIX, include_in_schema=False)
    def ui_root() -> RedirectResponse:
        return RedirectResponse(f"{UI_PREFIX}/", status_code=307)
