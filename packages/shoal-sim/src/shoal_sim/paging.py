"""GitHub's page-number pagination: ``per_page`` (default 30, max 100), ``page``, ``Link``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import urlencode

from starlette.datastructures import URL, QueryParams

T = TypeVar("T")

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def page_params(query: QueryParams) -> tuple[int, int]:
    """``(page, per_page)``; GitHub quietly clamps bad or out-of-range values."""
    per_page = min(max(_int(query.get("per_page"), DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    page = max(_int(query.get("page"), 1), 1)
    return page, per_page


def paginate(
    items: Sequence[T], query: QueryParams, url: URL, public_base: str
) -> tuple[Sequence[T], str | None]:
    """The requested slice and its ``Link`` header (``None`` when everything fits one page)."""
    page, per_page = page_params(query)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    if last == 1:
        return chunk, None

    def link(target: int, rel: str) -> str:
        params = dict(query.items())
        params.update(per_page=str(per_page), page=str(target))
        return f'<{public_base}{url.path}?{urlencode(params)}>; rel="{rel}"'

    links = []
    if page > 1:
        links.append(link(page - 1, "prev"))
    if page < last:
        links.append(link(page + 1, "next"))
        links.append(link(last, "last"))
    if page > 1:
        links.append(link(1, "first"))
    return chunk, ", ".join(links)
