"""Per-org daily PR budgets as operators drive them: list each org's cap and today's use,
override an org's cap, and drop the override, every change audited.

A cap change takes effect at the org's next budget claim: the reconciler reads the cap in
the transaction that claims. A cap lowered below what the org used today leaves nothing
for the rest of the day; claims already made stand.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import structlog
from sqlalchemy.engine import Connection

from shoal.config import Settings
from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal
from shoal.domain.budgets import budget_day, next_window
from shoal.domain.errors import InvalidInputError
from shoal.services.context import AppContext
from shoal.services.publishing import enqueue_reconciles
from shoal.spec.names import is_login
from shoal.store import audit as audit_store
from shoal.store import budgets as budget_store
from shoal.store import changesets as changeset_store
from shoal.store import org_budgets as override_store

__all__ = [
    "MAX_CAP",
    "BudgetChange",
    "BudgetOverview",
    "CapSource",
    "OrgDailyBudget",
    "clear_org_budget",
    "list_budgets",
    "org_login",
    "set_org_budget",
]

log = structlog.get_logger("shoal.budgets")

# Far above what GitHub lets one installation create in a day; the bound keeps typos out.
MAX_CAP = 100_000

CapSource = Literal["default", "override"]


@dataclass(frozen=True, slots=True)
class OrgDailyBudget:
    """An org's cap, where it comes from, and what is used and left of it on `day`."""

    org: str
    cap: int
    source: CapSource
    updated_by: str | None
    updated_at: datetime | None
    day: date
    used: int

    @property
    def left(self) -> int:
        return max(self.cap - self.used, 0)


@dataclass(frozen=True, slots=True)
class BudgetOverview:
    default_cap: int
    day: date
    refills_at: datetime
    orgs: list[OrgDailyBudget]


@dataclass(frozen=True, slots=True)
class BudgetChange:
    """The outcome of a set or clear: `changed` is False when the org already had that cap
    from that source (nothing written, nothing audited)."""

    changed: bool
    old_cap: int
    old_source: CapSource
    budget: OrgDailyBudget


def org_login(org: str) -> str:
    """`org` as changesets and budgets record it (lower case), once it is a GitHub login."""
    if not is_login(org):
        raise InvalidInputError(
            f"{org!r} is not a GitHub organization login: letters, digits and single hyphens "
            "between them, at most 39 characters (the owner part of owner/name)",
            details={"org": org},
        )
    return org.lower()


def _budgets(
    conn: Connection, settings: Settings, orgs: Collection[str], day: date
) -> list[OrgDailyBudget]:
    overrides = override_store.list_org_overrides(conn, orgs)
    usage = budget_store.budget_usage(conn, orgs, day)
    default = settings.max_prs_per_day_per_org
    budgets = []
    for org in sorted(set(orgs)):
        override = overrides.get(org)
        budgets.append(
            OrgDailyBudget(
                org=org,
                cap=default if override is None else override.max_prs_per_day,
                source="default" if override is None else "override",
                updated_by=None if override is None else override.updated_by,
                updated_at=None if override is None else override.updated_at,
                day=day,
                used=usage[org],
            )
        )
    return budgets


def _today(settings: Settings, now: datetime) -> tuple[date, datetime]:
    """The budget day `now` falls on, and when the next one starts."""
    tz, starts_at = settings.budget_timezone, settings.budget_day_starts_at
    return budget_day(now, tz, starts_at=starts_at), next_window(now, tz, starts_at=starts_at)


def list_budgets(ctx: AppContext, orgs: Collection[str] | None = None) -> BudgetOverview:
    """Every org with an override or a changeset (or just `orgs`, known or not): its cap and
    today's use, on the budget day of now."""
    wanted = None if orgs is None else {org_login(org) for org in orgs}
    day, refills_at = _today(ctx.settings, ctx.clock.now())
    with ctx.db.transaction() as conn:
        if wanted is None:
            known = set(override_store.list_org_overrides(conn))
            wanted = known | set(override_store.list_publishing_orgs(conn))
        budgets = _budgets(conn, ctx.settings, wanted, day)
    return BudgetOverview(ctx.settings.max_prs_per_day_per_org, day, refills_at, budgets)


def set_org_budget(ctx: AppContext, principal: Principal, org: str, cap: int) -> BudgetChange:
    """Override the default cap of `org` with `cap` new PRs a day."""
    login = org_login(org)
    if not 1 <= cap <= MAX_CAP:
        raise InvalidInputError(
            f"an org's PR budget must be between 1 and {MAX_CAP} a day, not {cap} "
            "(to stop an org's PRs, pause its campaigns or use the kill switch)",
            details={"org": login, "max_prs_per_day": cap},
        )
    return _change(ctx, principal, login, cap)


def clear_org_budget(ctx: AppContext, principal: Principal, org: str) -> BudgetChange:
    """Drop the override of `org`: it goes back to the default cap."""
    return _change(ctx, principal, org_login(org), None)


def _change(ctx: AppContext, principal: Principal, org: str, cap: int | None) -> BudgetChange:
    now = ctx.clock.now()
    day, _ = _today(ctx.settings, now)
    default = ctx.settings.max_prs_per_day_per_org
    with ctx.db.transaction() as conn:
        override_store.lock_org_override(conn, org)
        [before] = _budgets(conn, ctx.settings, [org], day)
        new_source: CapSource = "default" if cap is None else "override"
        new_cap = default if cap is None else cap
        if (before.source, before.cap) == (new_source, new_cap):
            return BudgetChange(False, before.cap, before.source, before)
        if cap is None:
            budget_store.clear_org_cap(conn, org)
        else:
            budget_store.set_org_cap(conn, org, cap, principal.name, now=now)
        action = "budget.clear" if cap is None else "budget.set"
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action=action,
                target=f"org:{org}",
                request_id=principal.request_id,
                details={
                    "org": org,
                    "old_cap": before.cap,
                    "old_source": before.source,
                    "new_cap": new_cap,
                    "new_source": new_source,
                    "default_cap": default,
                },
            ),
            now=now,
        )
        [after] = _budgets(conn, ctx.settings, [org], day)
        # Changesets waiting for the budget look again now rather than at their ETA: a raised
        # cap lets some go today, a lowered one moves their ETAs.
        woken = changeset_store.waiting_for_budget(conn, org)
        enqueue_reconciles(conn, woken, now=now, max_attempts=ctx.settings.task_max_attempts)
    log.info(
        action.replace(".", "_"),
        org=org,
        old_cap=before.cap,
        new_cap=new_cap,
        actor=principal.name,
        woken=len(woken),
    )
    return BudgetChange(True, before.cap, before.source, after)
