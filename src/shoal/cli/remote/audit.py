"""`shoal audit list|export|verify`."""

from __future__ import annotations

import enum
import sys
from typing import Annotated

import typer

from shoal.cli.output import (
    Output,
    OutputOpt,
    command_line,
    console,
    err_console,
    fail,
    print_json,
    print_page_note,
    print_table,
)
from shoal.cli.remote.client import client

__all__ = ["audit_app"]

audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)


CampaignFilter = Annotated[str | None, typer.Option(help="Only this campaign.")]
ActorFilter = Annotated[str | None, typer.Option(help="Only this actor, e.g. token:ci.")]
ActionFilter = Annotated[str | None, typer.Option(help="Only this action, e.g. spec.apply.")]
OutcomeFilter = Annotated[str | None, typer.Option(help="Only this outcome, e.g. ok, error.")]
TargetFilter = Annotated[
    str | None, typer.Option(help="Only this target, e.g. org:acme, token:3, global.")
]
RepoFilter = Annotated[str | None, typer.Option(help="Only this repository (owner/name).")]
SinceFilter = Annotated[
    str | None,
    typer.Option(help="Events at or after this time (ISO 8601, e.g. 2026-12-01T00:00Z)."),
]
UntilFilter = Annotated[str | None, typer.Option(help="Events before this time (ISO 8601).")]


def _filters(
    campaign: str | None,
    actor: str | None,
    action: str | None,
    outcome: str | None,
    target: str | None,
    repo: str | None,
    since: str | None,
    until: str | None,
) -> dict[str, str | None]:
    """The filter options as the query of `GET /audit` and `GET /audit/export` (and as the
    options of the next page's command)."""
    return {
        "campaign": campaign,
        "actor": actor,
        "action": action,
        "outcome": outcome,
        "target": target,
        "repo": repo,
        "since": since,
        "until": until,
    }


@audit_app.command("list")
def list_events(
    campaign: CampaignFilter = None,
    actor: ActorFilter = None,
    action: ActionFilter = None,
    outcome: OutcomeFilter = None,
    target: TargetFilter = None,
    repo: RepoFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    newest_first: Annotated[
        bool, typer.Option("--newest-first", help="Newest first (pages go back by --before).")
    ] = False,
    after: Annotated[int | None, typer.Option(help="Page: events after this event id.")] = None,
    before: Annotated[
        int | None, typer.Option(help="Page with --newest-first: events before this id.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many events.")] = 100,
    output: OutputOpt = Output.TABLE,
) -> None:
    """List audit events, oldest first; a cut list says how to get the next page."""
    filters = _filters(campaign, actor, action, outcome, target, repo, since, until)
    page = client().page(
        "/audit",
        **filters,
        newest_first=newest_first or None,
        after=after,
        before=before,
        limit=limit,
    )
    if output is Output.JSON:
        print_json(page.items)
    else:
        print_table(
            None,
            ["ID", "AT", "ACTOR", "ACTION", "OUTCOME", "TARGET", "SPEC"],
            [
                [
                    e["id"],
                    e["at"][:19],
                    e["actor"],
                    e["action"],
                    e["outcome"],
                    e["target"],
                    e["spec_version"],
                ]
                for e in page.items
            ],
        )
    nxt = (
        command_line(
            "audit", "list", **filters, newest_first=newest_first, limit=limit, **page.next
        )
        if page.next
        else None
    )
    print_page_note(shown=len(page.items), total=page.total, next_command=nxt, output=output)


class ExportFormat(enum.StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


@audit_app.command("export")
def export(
    campaign: CampaignFilter = None,
    actor: ActorFilter = None,
    action: ActionFilter = None,
    outcome: OutcomeFilter = None,
    target: TargetFilter = None,
    repo: RepoFilter = None,
    since: SinceFilter = None,
    until: UntilFilter = None,
    format: Annotated[
        ExportFormat, typer.Option("--format", help="jsonl (JSON lines) or csv.")
    ] = ExportFormat.JSONL,
) -> None:
    """Write the audit events matching the filters (all by default), oldest first, to stdout
    as JSON lines or CSV (a cell a spreadsheet would run as a formula starts with ')."""
    filters = _filters(campaign, actor, action, outcome, target, repo, since, until)
    client().download("/audit/export", sys.stdout.buffer, **filters, format=format.value)
    sys.stdout.flush()


@audit_app.command("verify")
def verify(output: OutputOpt = Output.TABLE) -> None:
    """Check the audit log: every event's keyed hash and link, and its end against the latest
    anchor. Exits 1 and says what happened (edited, rechained, deleted, truncated, ...) and
    where."""
    result = client().get("/audit/verify")
    if output is Output.JSON:
        print_json(result)
    for problem in result.get("role_problems") or []:
        err_console.print(f"warning: {problem}", highlight=False)
    if not result["ok"]:
        fail(
            f"audit log {result['problem']} at event {result['first_bad_id']}: {result['message']}"
        )
    if output is Output.TABLE:
        anchor = result.get("anchor")
        against = (
            f", up to the anchor of {anchor['at'][:19]} (event {anchor['head_id']})"
            if anchor
            else ", no anchor yet"
        )
        console.print(f"audit chain intact ({result['checked']} events{against})")


@audit_app.command("anchor")
def anchor(output: OutputOpt = Output.TABLE) -> None:
    """Anchor the audit chain's head in object storage now (the worker leader also does it
    periodically)."""
    result = client().post("/audit/anchor", {})
    if output is Output.JSON:
        print_json(result)
        return
    made = result["anchor"]
    console.print(f"anchored event {made['head_id']} ({made['count']} events) at {made['at'][:19]}")
