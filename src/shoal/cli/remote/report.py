"""`shoal report CAMPAIGN -o csv|json`: the campaign report (every changeset, filtered) as the
UI's export gives it."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from shoal.cli.output import fail
from shoal.cli.remote.client import client

__all__ = ["report"]


class ReportFormat(enum.StrEnum):
    CSV = "csv"
    JSON = "json"


def report(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    output: Annotated[
        ReportFormat, typer.Option("--output", "-o", help="csv or json.")
    ] = ReportFormat.CSV,
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only this derived state (repeatable).")
    ] = None,
    org: Annotated[str | None, typer.Option(help="Only this organization.")] = None,
    repo: Annotated[
        str | None,
        typer.Option(help="A substring of owner/name, or a glob when it has * ? or [."),
    ] = None,
    behind: Annotated[
        bool, typer.Option(help="Only changesets published with an older spec version.")
    ] = False,
    stuck: Annotated[
        list[str] | None,
        typer.Option(
            help="Only open PRs stuck for this reason (repeatable): no_reviewer, "
            "failing_checks, conflicts, inactive, or any."
        ),
    ] = None,
    inactive_days: Annotated[
        int, typer.Option(min=1, max=3650, help="Idle this many days counts as inactive.")
    ] = 7,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Write to this file (default: stdout).")
    ] = None,
) -> None:
    """The campaign report: each changeset with its state, checks, review decision,
    mergeability, drift, spec version (and whether it is behind), PR, failure, publish ETA and
    last activity. CSV cells that would start a formula are prefixed with an apostrophe."""
    params = {
        "format": output.value,
        "state": state,
        "org": org,
        "repo": repo,
        "behind": "true" if behind else None,
        "stuck": stuck,
        "inactive_days": inactive_days,
    }
    api = client()
    if file is None:
        api.download(f"/campaigns/{campaign}/report", sys.stdout.buffer, **params)
        sys.stdout.flush()
        return
    try:
        with file.open("wb") as out:
            api.download(f"/campaigns/{campaign}/report", out, **params)
    except OSError as exc:
        fail(f"cannot write {file}: {exc}")
