"""`shoal status CAMPAIGN --burndown` and `shoal changesets CAMPAIGN --stuck`: a campaign's
progress over time and the open PRs that are stuck."""

from __future__ import annotations

from typing import Any

from shoal.cli.output import (
    Output,
    command_line,
    console,
    print_json,
    print_page_note,
    print_table,
)
from shoal.cli.remote.client import client

__all__ = ["BURNDOWN_COLUMNS", "print_burndown", "print_stuck"]

# The columns of a burndown, in order; states not listed are summed under OTHER.
BURNDOWN_COLUMNS = ("open", "draft", "merged", "closed", "failed", "needs_human")


def print_burndown(campaign: str, *, days: int, output: Output) -> None:
    found = client().get(f"/campaigns/{campaign}/burndown", days=days)
    if output is Output.JSON:
        print_json(found)
        return
    rows = []
    for d in found["days"]:
        counts: dict[str, int] = d["counts"]
        other = sum(n for s, n in counts.items() if s not in BURNDOWN_COLUMNS)
        rows.append([d["day"], *(counts.get(s, 0) for s in BURNDOWN_COLUMNS), other])
    print_table(
        f"{found['campaign']}: changesets per state at the end of each UTC day (today: now)",
        ["DAY", *(s.upper() for s in BURNDOWN_COLUMNS), "OTHER"],
        rows,
    )
    console.print(
        "OTHER: not published yet, waiting for their turn or being published", highlight=False
    )


def print_stuck(
    campaign: str,
    *,
    inactive_days: int,
    reasons: list[str] | None,
    after: int | None,
    limit: int,
    output: Output,
) -> None:
    """The stuck open PRs, a page at a time (one more asked for than shown, to know when the
    list is cut)."""
    found: list[dict[str, Any]] = client().get(
        f"/campaigns/{campaign}/stuck",
        inactive_days=inactive_days,
        reason=reasons,
        after=after,
        limit=limit + 1,
    )
    nxt = None
    if len(found) > limit:
        found = found[:limit]
        nxt = command_line(
            "changesets",
            campaign,
            stuck=True,
            inactive_days=inactive_days,
            reason=reasons,
            limit=limit,
            after=found[-1]["changeset"]["id"],
        )
    if output is Output.JSON:
        print_json(found)
        print_page_note(shown=len(found), total=None, next_command=nxt, output=output)
        return
    if not found:
        console.print(
            f"no stuck PR in {campaign} (no reviewer, failing checks, conflicts, or no "
            f"activity for {inactive_days} days)",
            highlight=False,
        )
        return
    print_table(
        None,
        ["REPO", "PR", "STATE", "REASONS", "CHECKS", "MERGEABLE", "REVIEW", "LAST ACTIVITY"],
        [
            [
                s["changeset"]["repo"],
                s["changeset"]["pr_number"] or "",
                s["changeset"]["state"],
                ", ".join(s["reasons"]),
                s["checks"] or "",
                s["mergeable"] or "",
                s["review_decision"] or "",
                (s["pr_updated_at"] or "")[:19],
            ]
            for s in found
        ],
    )
    print_page_note(shown=len(found), total=None, next_command=nxt, output=output)
