"""`shoal sync CAMPAIGN`: read the campaign's published PRs off GitHub now."""

from __future__ import annotations

from typing import Annotated

import typer

from shoal.cli.output import Output, OutputOpt, console, print_json
from shoal.cli.remote.client import client

__all__ = ["sync"]


def sync(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Sync the campaign's published PRs with GitHub now (workers read them in batches of 100;
    `shoal changesets` then shows what GitHub shows, and changed PRs are reconciled)."""
    queued = client().request("POST", f"/campaigns/{campaign}/sync")
    if output is Output.JSON:
        print_json(queued)
        return
    if not queued["changesets"]:
        console.print(f"campaign {queued['campaign']} has no published PR to sync")
        return
    console.print(
        f"syncing {queued['changesets']} PRs of {queued['campaign']} "
        f"({queued['tasks']} GraphQL reads queued)"
    )
