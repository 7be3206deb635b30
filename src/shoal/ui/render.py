"""Rendering pages: one Jinja2 environment (autoescaped), the context every page gets, and the
headers every UI answer carries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

import shoal
from shoal.ui.paths import UI_PREFIX

__all__ = ["SECURITY_HEADERS", "humanize_age", "render", "templates", "url_with"]

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.autoescape = True
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True

# No inline script or style anywhere, so the policy can forbid both: a value that slipped past
# escaping still could not run. htmx is configured (meta htmx-config) not to inject styles or
# evaluate attributes.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def humanize_age(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            text = f"{seconds // size}{unit}"
            break
    else:
        text = f"{seconds}s"
    return f"in {text}" if future else f"{text} ago"


def url_with(request: Request, **changes: object) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    params = {k: v for k, v in request.query_params.multi_items() if k not in changes}
    params.update({k: str(v) for k, v in changes.items() if v is not None and v != ""})
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")


def is_web_url(value: object) -> bool:
    """A link Shoal may render from stored text (a PR's URL as GitHub gave it): http(s)
    only, never `javascript:` or `data:`."""
    return isinstance(value, str) and value.startswith(("https://", "http://"))


templates.env.filters["age"] = humanize_age
templates.env.tests["web_url"] = is_web_url
templates.env.globals["UI"] = UI_PREFIX
templates.env.globals["version"] = shoal.__version__
templates.env.globals["url_with"] = url_with


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    page = dict(context or {})
    page.setdefault("me", getattr(request.state, "ui_session", None))
    page.setdefault("now", datetime.now(UTC))
    response = templates.TemplateResponse(request, template, page, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    if headers:
        response.headers.update(headers)
    return response
