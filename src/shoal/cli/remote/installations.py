"""`shoal installations`: the GitHub App installations Shoal knows and their rate limits."""

from __future__ import annotations

from typing import Any

from shoal.cli.output import Output, OutputOpt, console, print_json, print_table
from shoal.cli.remote.client import client

__all__ = ["installations"]


def _window(limit: dict[str, Any]) -> str:
    left = f"{limit['remaining']}/{limit['limit']}"
    return f"{left} (resets {limit['reset_at'][11:19]})" if limit["reset_at"] else left


def installations(output: OutputOpt = Output.TABLE) -> None:
    """Each GitHub App installation Shoal knows (from its changesets, or called in the last
    two hours) and its rate-limit state as the governor paces calls by it: REST and GraphQL
    budgets left, a pause after a secondary limit, calls in flight, recent writes."""
    found = client().get("/installations")
    if output is Output.JSON:
        print_json(found)
        return
    per = [
        f"{found['writes_per_minute']} a minute" if found["writes_per_minute"] else "",
        f"{found['writes_per_hour']} an hour" if found["writes_per_hour"] else "",
    ]
    paced = ", ".join(p for p in per if p) or "not paced"
    console.print(f"writes per installation: {paced}", highlight=False)
    rows = []
    for i in found["installations"]:
        limits = {b["resource"]: b for b in i["rate_limits"]}
        paused = i["paused_until"]
        rows.append(
            [
                i["installation_id"],
                ", ".join(i["orgs"]),
                i["changesets"],
                _window(limits["core"]) if "core" in limits else "",
                _window(limits["graphql"]) if "graphql" in limits else "",
                f"until {paused[11:19]}: {i['pause_reason'] or ''}" if paused else "no",
                f"{i['in_flight']}/{i['max_concurrent']}",
                f"{i['writes_last_minute']}/{i['writes_last_hour']}",
            ]
        )
    print_table(
        None,
        [
            "INSTALLATION",
            "ORGS",
            "CHANGESETS",
            "CORE LEFT",
            "GRAPHQL LEFT",
            "PAUSED",
            "IN FLIGHT",
            "WRITES MIN/H",
        ],
        rows,
    )
