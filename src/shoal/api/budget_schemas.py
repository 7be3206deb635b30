"""Bodies of the budgets API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shoal.services.budgets import BudgetChange, BudgetOverview, OrgDailyBudget

__all__ = ["BudgetChangeOut", "BudgetIn", "BudgetsOut", "OrgDailyBudgetOut"]


class BudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_prs_per_day: int = Field(
        description="New PRs the org may get a day, across all campaigns (at least 1)."
    )


class OrgDailyBudgetOut(BaseModel):
    org: str
    cap: int = Field(description="New PRs a day: the override, else the default.")
    source: Literal["default", "override"]
    updated_by: str | None = Field(description="Who set the override (null for the default).")
    updated_at: datetime | None
    day: date = Field(description="The budget day `used` and `left` count.")
    used: int
    left: int

    @classmethod
    def of(cls, b: OrgDailyBudget) -> OrgDailyBudgetOut:
        return cls(
            org=b.org,
            cap=b.cap,
            source=b.source,
            updated_by=b.updated_by,
            updated_at=b.updated_at,
            day=b.day,
            used=b.used,
            left=b.left,
        )


class BudgetsOut(BaseModel):
    default_cap: int = Field(description="`max_prs_per_day_per_org`, for orgs without override.")
    day: date = Field(description="Today's budget day.")
    refills_at: datetime = Field(description="When the next budget day starts.")
    orgs: list[OrgDailyBudgetOut]

    @classmethod
    def of(cls, o: BudgetOverview) -> BudgetsOut:
        return cls(
            default_cap=o.default_cap,
            day=o.day,
            refills_at=o.refills_at,
            orgs=[OrgDailyBudgetOut.of(b) for b in o.orgs],
        )


class BudgetChangeOut(BaseModel):
    changed: bool = Field(description="False when the org already had this cap (not audited).")
    old_cap: int
    old_source: Literal["default", "override"]
    budget: OrgDailyBudgetOut

    @classmethod
    def of(cls, c: BudgetChange) -> BudgetChangeOut:
        return cls(
            changed=c.changed,
            old_cap=c.old_cap,
            old_source=c.old_source,
            budget=OrgDailyBudgetOut.of(c.budget),
        )
