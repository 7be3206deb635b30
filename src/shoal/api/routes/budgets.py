"""Per-org daily PR budgets: each org's cap and today's use; overriding an org's cap."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shoal.api.budget_schemas import BudgetChangeOut, BudgetIn, BudgetsOut
from shoal.api.deps import Admin, Ctx, Viewer
from shoal.api.paths import API_PREFIX
from shoal.services import budgets

__all__ = ["router"]

router = APIRouter(prefix=API_PREFIX, tags=["budgets"])


@router.get(
    "/budgets",
    response_model=BudgetsOut,
    summary="Each org's daily PR cap (default or override) and its budget used and left today",
)
def list_budgets(
    ctx: Ctx,
    _: Viewer,
    org: Annotated[list[str] | None, Query(description="Only these orgs (repeatable).")] = None,
) -> BudgetsOut:
    return BudgetsOut.of(budgets.list_budgets(ctx, org), ctx.settings)


# Admin, like the kill switch: an org's cap binds every campaign publishing to that org.
@router.put(
    "/budgets/{org}",
    response_model=BudgetChangeOut,
    summary="Override an org's daily PR cap (takes effect at its next budget claim; audited)",
)
def set_budget(ctx: Ctx, principal: Admin, org: str, body: BudgetIn) -> BudgetChangeOut:
    return BudgetChangeOut.of(budgets.set_org_budget(ctx, principal, org, body.max_prs_per_day))


@router.delete(
    "/budgets/{org}",
    response_model=BudgetChangeOut,
    summary="Drop an org's cap override: back to the default (audited)",
)
def clear_budget(ctx: Ctx, principal: Admin, org: str) -> BudgetChangeOut:
    return BudgetChangeOut.of(budgets.clear_org_budget(ctx, principal, org))
