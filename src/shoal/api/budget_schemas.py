"""Bodies of the budgets API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shoal.config import Settings
from shoal.services.budgets import BudgetChange, BudgetOverview, OrgDailyBudget

__all__ = ["BudgetChangeOut", "BudgetIn", "BudgetsOut", "OrgDailyBudgetOut", "WritePacingOut"]


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


class WritePacingOut(BaseModel):
    """How the rate governor paces one installation's writes (0: no such limit)."""

    writes_per_minute: int = Field(description="`github_writes_per_minute`.")
    writes_per_hour: int = Field(description="`github_writes_per_hour`.")
    min_write_interval_s: float = Field(description="`github_min_write_interval_s`.")

    @classmethod
    def of(cls, s: Settings) -> WritePacingOut:
        return cls(
            writes_per_minute=s.github_writes_per_minute,
            writes_per_hour=s.github_writes_per_hour,
            min_write_interval_s=s.github_min_write_interval_s,
        )


class BudgetsOut(BaseModel):
    default_cap: int = Field(description="`max_prs_per_day_per_org`, for orgs without override.")
    day: date = Field(description="Today's budget day.")
    refills_at: datetime = Field(description="When the next budget day starts.")
    orgs: list[OrgDailyBudgetOut]
    github_profile: Literal["dotcom", "ghes"] = Field(
        description="The GitHub profile the server's defaults come from (`auto` resolved)."
    )
    profile_overrides: dict[str, float] = Field(
        description="Settings whose value is not their profile's default (set explicitly)."
    )
    write_pacing: WritePacingOut

    @classmethod
    def of(cls, o: BudgetOverview, settings: Settings) -> BudgetsOut:
        return cls(
            default_cap=o.default_cap,
            day=o.day,
            refills_at=o.refills_at,
            orgs=[OrgDailyBudgetOut.of(b) for b in o.orgs],
            github_profile=settings.github_profile_in_effect,
            profile_overrides=settings.github_profile_overrides,
            write_pacing=WritePacingOut.of(settings),
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
