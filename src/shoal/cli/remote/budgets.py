"""`shoal budgets list|set|clear`: per-org daily PR caps and today's use."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shoal.cli.output import Output, OutputOpt, console, print_json, print_table
from shoal.cli.remote.client import client

__all__ = ["budgets_app"]

budgets_app = typer.Typer(
    help="Per-org daily PR budgets: caps, overrides, used and left today.", no_args_is_help=True
)

OrgArg = Annotated[str, typer.Argument(help="GitHub organization login, e.g. acme.")]


@budgets_app.command("list")
def list_budgets(
    org: Annotated[list[str] | None, typer.Option(help="Only this org (repeatable).")] = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Each org's cap (default or override) and its budget used and left today."""
    found = client().get("/budgets", org=org)
    if output is Output.JSON:
        print_json(found)
        return
    console.print(
        f"budget day {found['day']}, refills at {found['refills_at'][:19]} UTC; "
        f"default cap {found['default_cap']} PRs per org a day"
    )
    console.print(_profile(found), highlight=False)
    print_table(
        None,
        ["ORG", "CAP", "SOURCE", "USED", "LEFT", "SET BY", "SET AT"],
        [
            [
                b["org"],
                b["cap"],
                b["source"],
                b["used"],
                b["left"],
                b["updated_by"] or "",
                (b["updated_at"] or "")[:19],
            ]
            for b in found["orgs"]
        ],
    )


def _profile(found: dict[str, Any]) -> str:
    """The GitHub profile and how it paces writes, e.g. `GitHub profile ghes: writes not
    paced` (older servers do not say)."""
    profile, pacing = found.get("github_profile"), found.get("write_pacing")
    if not profile or not pacing:
        return "GitHub profile: not reported by this server"
    limits = [
        f"{pacing['writes_per_minute']} a minute" if pacing["writes_per_minute"] else "",
        f"{pacing['writes_per_hour']} an hour" if pacing["writes_per_hour"] else "",
        f"{pacing['min_write_interval_s']:g} s apart" if pacing["min_write_interval_s"] else "",
    ]
    said = ", ".join(x for x in limits if x)
    text = f"GitHub profile {profile}: " + (
        f"writes at most {said}" if said else "writes not paced"
    )
    overrides = found.get("profile_overrides") or {}
    if overrides:
        text += " (set explicitly: " + ", ".join(f"{k}={v:g}" for k, v in overrides.items()) + ")"
    return text


def _today(budget: dict[str, Any]) -> str:
    return f"{budget['used']} used today, {budget['left']} left"


def _was(change: dict[str, Any]) -> str:
    kind = "the default" if change["old_source"] == "default" else "an override"
    return f"was {change['old_cap']}, {kind}"


@budgets_app.command("set")
def set_budget(
    org: OrgArg,
    max_prs_per_day: Annotated[int, typer.Argument(help="New PRs a day, at least 1.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Override an org's daily PR cap (from its next PR on; audited)."""
    change = client().request("PUT", f"/budgets/{org}", json={"max_prs_per_day": max_prs_per_day})
    if output is Output.JSON:
        print_json(change)
        return
    b = change["budget"]
    if change["changed"]:
        console.print(f"{b['org']}: {b['cap']} PRs a day ({_was(change)}); {_today(b)}")
    else:
        console.print(f"{b['org']} already has {b['cap']} PRs a day; {_today(b)}")


@budgets_app.command("clear")
def clear_budget(org: OrgArg, output: OutputOpt = Output.TABLE) -> None:
    """Drop an org's override: back to the default cap (audited)."""
    change = client().request("DELETE", f"/budgets/{org}")
    if output is Output.JSON:
        print_json(change)
        return
    b = change["budget"]
    if change["changed"]:
        console.print(
            f"{b['org']}: back to the default, {b['cap']} PRs a day ({_was(change)}); {_today(b)}"
        )
    else:
        console.print(f"{b['org']} has no override: the default, {b['cap']} PRs a day")
