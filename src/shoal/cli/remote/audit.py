"""`shoal audit list|export|verify`."""

from __future__ import annotations

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


@audit_app.command("list")
def list_events(
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. spec.apply.")] = None,
    after: Annotated[int | None, typer.Option(help="Page: events after this event id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many events.")] = 100,
    output: OutputOpt = Output.TABLE,
) -> None:
    """List audit events, oldest first; a cut list says how to get the next page."""
    filters = {"campaign": campaign, "actor": actor, "action": action}
    page = client().page("/audit", **filters, after=after, limit=limit)
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
    nxt = command_line("audit", "list", **filters, limit=limit, **page.next) if page.next else None
    print_page_note(shown=len(page.items), total=page.total, next_command=nxt, output=output)


@audit_app.command("export")
def export(
    campaign: Annotated[str | None, typer.Option(help="Only this campaign.")] = None,
) -> None:
    """Write every audit event as JSON lines to stdout."""
    text: str = client().request(
        "GET", "/audit/export", params={"campaign": campaign} if campaign else {}
    )
    sys.stdout.write(text)


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
