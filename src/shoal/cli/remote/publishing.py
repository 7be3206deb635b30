"""`shoal publish`, `status`, `changesets`, `kill`, `unkill`, `pause` and `resume`."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shoal.cli.output import Output, OutputOpt, console, print_json, print_table
from shoal.cli.remote.client import ApiClient, client

__all__ = ["changesets", "kill", "pause", "publish", "resume", "status", "unkill"]


def publish(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    repos: Annotated[
        list[str] | None, typer.Option("--repos", help="Only these owner/name (repeatable).")
    ] = None,
    repo_glob: Annotated[
        str | None, typer.Option("--repo-glob", help="Glob over owner/name.")
    ] = None,
    org: Annotated[str | None, typer.Option(help="Only this organization.")] = None,
    path: Annotated[
        str | None, typer.Option(help="Only patches touching this path glob, e.g. '.github/**'.")
    ] = None,
    draft: Annotated[
        bool | None, typer.Option("--draft/--ready", help="Open as drafts (default: the spec's).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Follow until every PR is open or failed.")] = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Open PRs for the latest preview's patches, under the per-org budgets."""
    api = client()
    body: dict[str, Any] = {"repos": repos or [], "repo_glob": repo_glob, "org": org, "path": path}
    if draft is not None:
        body["draft"] = draft
    result = api.post(f"/campaigns/{campaign}/publish", body)
    if output is Output.JSON and not wait:
        print_json(result)
        return
    console.print(
        f"campaign [bold]{result['campaign']}[/]: {result['changesets']} changeset(s) queued for "
        f"publishing from run {result['run_id']} (spec version {result['spec_version']})"
    )
    if wait:
        _follow(api, campaign, result["changesets"])
        status(campaign, output=output)


def _settled(changeset: dict[str, Any]) -> bool:
    """Nothing left to do now: done, failed, or waiting for a later budget day."""
    state = changeset["reconciler_state"]
    return state in {"completed", "failed", "idle"} or (
        state == "waiting" and changeset["failure_reason"] == "budget"
    )


def _follow(api: ApiClient, campaign: str, total: int) -> None:
    columns = (
        TextColumn("[bold]publishing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "open {task.fields[open]}  failed {task.fields[failed]}  next {task.fields[eta]}"
        ),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("publish", total=total, open=0, failed=0, eta="-")
        while True:
            found: list[dict[str, Any]] = api.get(f"/campaigns/{campaign}/changesets")
            active = [c for c in found if c["reconciler_state"] != "idle"]
            etas = sorted(c["budget_eta"] for c in active if c["budget_eta"])
            bar.update(
                task,
                completed=sum(_settled(c) for c in active),
                open=sum(c["state"] in {"open", "draft"} for c in active),
                failed=sum(c["state"] == "failed" for c in active),
                eta=etas[0][:19] if etas else "-",
            )
            if all(_settled(c) for c in active):
                return
            time.sleep(1.0)


def status(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Changesets by state, each org's budget used and left today, and the next ETA."""
    s = client().get(f"/campaigns/{campaign}/status")
    if output is Output.JSON:
        print_json(s)
        return
    flags = " ".join(
        f for f, on in (("[red]KILLED[/]", s["killed"]), ("[yellow]PAUSED[/]", s["paused"])) if on
    )
    console.print(f"campaign [bold]{s['campaign']}[/] {flags}")
    counts = s["counts"]
    print_table(None, [k.upper() for k in sorted(counts)], [[counts[k] for k in sorted(counts)]])
    print_table(
        "budgets today",
        ["ORG", "DAY", "USED", "CAP", "LEFT", "WAITING", "NEXT ETA"],
        [
            [
                o["org"],
                o["day"],
                o["used"],
                o["cap"],
                o["left"],
                o["waiting"],
                (o["next_eta"] or "")[:19],
            ]
            for o in s["orgs"]
        ],
    )
    if s["next_eta"]:
        console.print(f"next PR goes out at {s['next_eta'][:19]} UTC")


def changesets(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    state: Annotated[list[str] | None, typer.Option(help="Only this state (repeatable).")] = None,
    repo: Annotated[str | None, typer.Option(help="Glob over owner/name.")] = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """The campaign's changesets: state, PR, failure reason, ETA."""
    found: list[dict[str, Any]] = client().get(
        f"/campaigns/{campaign}/changesets", state=state, repo=repo
    )
    if output is Output.JSON:
        print_json(found)
        return
    print_table(
        None,
        ["REPO", "STATE", "PR", "ETA", "REASON", "MESSAGE"],
        [
            [
                c["repo"],
                c["state"],
                c["pr_number"] or "",
                (c["budget_eta"] or "")[:19],
                c["failure_reason"] or "",
                c["failure_message"] or "",
            ]
            for c in found
        ],
    )


Reason = Annotated[str, typer.Option(help="Why (kept in the audit log).")]
CampaignOpt = Annotated[str | None, typer.Option(help="Only this campaign (default: all).")]


def kill(campaign: CampaignOpt = None, reason: Reason = "") -> None:
    """Kill switch: stop every new GitHub mutation within seconds (all campaigns, or one)."""
    out = client().request(
        "PUT", "/controls/kill", json={"on": True, "campaign": campaign, "reason": reason}
    )
    console.print(f"[red]kill switch engaged[/] ({out['scope']})")


def unkill(campaign: CampaignOpt = None, reason: Reason = "") -> None:
    """Release the kill switch."""
    out = client().request(
        "PUT", "/controls/kill", json={"on": False, "campaign": campaign, "reason": reason}
    )
    console.print(f"kill switch released ({out['scope']})")


def pause(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")], reason: Reason = ""
) -> None:
    """Pause a campaign's publishing (PRs in flight finish their current step)."""
    client().request("PUT", f"/campaigns/{campaign}/pause", json={"on": True, "reason": reason})
    console.print(f"campaign {campaign} paused")


def resume(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")], reason: Reason = ""
) -> None:
    """Resume a paused campaign."""
    client().request("PUT", f"/campaigns/{campaign}/pause", json={"on": False, "reason": reason})
    console.print(f"campaign {campaign} resumed")
