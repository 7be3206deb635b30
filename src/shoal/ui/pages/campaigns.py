"""The campaigns list: every campaign with its changesets by state and a sparkline of merges."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shoal.services import ui_views
from shoal.ui import charts
from shoal.ui.auth import PageViewer, context_of
from shoal.ui.paths import UI_PREFIX
from shoal.ui.render import render

__all__ = ["router"]

router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)


@router.get("/", summary="Campaigns")
def campaigns_page(
    request: Request,
    _: PageViewer,
    q: Annotated[str | None, Query(max_length=200)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    page = ui_views.campaign_overview(context_of(request), name_prefix=q or None, after_id=after)
    sparklines = {
        row.campaign.id: charts.sparkline(ui_views.SPARKLINE_STATE, row.trend) for row in page.rows
    }
    return render(
        request,
        "campaigns.html",
        {
            "section": "campaigns",
            "page": page,
            "q": q or "",
            "sparklines": sparklines,
            "sparkline_days": ui_views.SPARKLINE_DAYS,
        },
    )
