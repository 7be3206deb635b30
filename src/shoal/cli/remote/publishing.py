"""`shoal publish`, `status`, `changesets`, `kill`, `unkill`, `pause` and `resume`."""

from __future__ import annotations

import time
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape

from shoal.cli.output import (
    FREE_TEXT_COLUMNS,
    Output,
    OutputOpt,
    command_line,
    console,
    err_console,
    print_json,
    print_page_note,
    print_table,
)
from shoal.cli.remote import progress
from shoal.cli.remote.client import ApiClient, client

__all__ = ["changesets", "controls", "kill", "pause", "publish", "resume", "status", "unkill"]


# Exit codes of `shoal publish --wait` besides 0 (everything settled) and 1 (an error).
EXIT_HELD = 3  # a kill switch or pause holds the changesets: waiting would never end
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT): publishing goes on on the server
# A failure's message is cut to this many characters on the line that names it while
# following a publish (`shoal changesets` shows it whole).
MESSAGE_CHARS = 200


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
    wait: Annotated[
        bool,
        typer.Option(
            help="Follow this publish's changesets until each is open, failed or waiting for "
            "a later budget day. Exits 3 when a kill switch or pause holds them, 130 on Ctrl-C."
        ),
    ] = False,
    run: Annotated[
        int | None,
        typer.Option(
            "--run",
            help="Publish only if this run is the latest preview (refused with exit 1 when a "
            "newer preview is what publishing would publish).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Say what publishing would do (PRs per org, today and later) and change nothing.",
        ),
    ] = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Open PRs for the latest preview's patches, under the per-org budgets."""
    api = client()
    body: dict[str, Any] = {"repos": repos or [], "repo_glob": repo_glob, "org": org, "path": path}
    if draft is not None:
        body["draft"] = draft
    if run is not None:
        body["run"] = run
    if dry_run:
        body["dry_run"] = True
        wait = False
    result = api.post(f"/campaigns/{campaign}/publish", body)
    if output is Output.JSON and not wait:
        print_json(result)
        return
    _print_queued(result)
    if result["held"]:
        _print_held(result["campaign"], result["held"])
    if wait:
        if result["held"]:
            _exit_held(result["campaign"])
        try:
            _follow(api, result["campaign"], result["batch"], result["changesets"])
        except KeyboardInterrupt:
            _interrupted(result["campaign"])
        status(result["campaign"], output=output)


def _print_queued(result: dict[str, Any]) -> None:
    verb = "would be queued" if result.get("dry_run") else "queued"
    console.print(
        f"campaign [bold]{result['campaign']}[/]: {result['changesets']} changeset(s) {verb} for "
        f"publishing from run {result['run_id']} (spec version {result['spec_version']})"
    )
    for o in result["orgs"]:
        parts = [f"{o['today']} open a PR today"]
        if o["later"]:
            parts.append(f"[yellow]{o['later']} wait for a later day[/]")
        if o["already_open"]:
            parts.append(f"{o['already_open']} already have a PR")
        console.print(
            f"  {o['org']}: {', '.join(parts)} "
            f"(daily cap {o['cap']}, {o['used']} used today, {o['left']} left)"
        )
    _print_newer(result)
    if result["later"]:
        starts = str(result["next_day_starts_at"])[:19].replace("T", " ")
        console.print(
            f"{result['later']} changeset(s) wait for a later budget day; "
            f"the next day starts at {starts} UTC (`shoal status {result['campaign']}` "
            "shows each org's ETA)"
        )


# Changesets named one by one in the note about newer patches; the rest are counted.
NEWER_SHOWN = 10


def _print_newer(result: dict[str, Any]) -> None:
    newer = result.get("newer_patches") or []
    if not newer:
        return
    err_console.print(
        f"[bold yellow]note:[/] {len(newer)} changeset(s) keep their patch: the campaign's "
        f"steps ran again on a newer base (drift) after run {result['run_id']} was previewed, "
        "and publishing never takes a PR back to an older patch. Run `shoal preview` and "
        "publish again to publish newer patches:",
        highlight=False,
    )
    for n in newer[:NEWER_SHOWN]:
        err_console.print(
            f"  {n['repo']}: patch of run {n['run_id']}", highlight=False, markup=False
        )
    if len(newer) > NEWER_SHOWN:
        err_console.print(f"  ... and {len(newer) - NEWER_SHOWN} more", highlight=False)


def _print_held(campaign: str, held: list[str]) -> None:
    release = []
    if any(h.startswith("kill switch (global)") for h in held):
        release.append("`shoal unkill`")
    if any(h.startswith("kill switch (campaign)") for h in held):
        release.append(f"`shoal unkill --campaign {campaign}`")
    if "campaign paused" in held:
        release.append(f"`shoal resume {campaign}`")
    err_console.print(
        f"[bold yellow]warning:[/] {' and '.join(held)}: nothing will be written to GitHub "
        f"until {' and '.join(release)}",
        highlight=False,
    )


def _exit_held(campaign: str) -> NoReturn:
    err_console.print(
        f"not waiting: the changesets of {campaign} are held and would wait forever; "
        f"release them, then follow with `shoal status {campaign}`",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(EXIT_HELD)


def _interrupted(campaign: str) -> NoReturn:
    """Ctrl-C stops following, not publishing: say so and how to reach it again."""
    err_console.print(
        f"interrupted: publishing of {campaign} goes on in the background.\n"
        f"  follow it: shoal status {campaign}\n"
        f"  stop it:   shoal pause {campaign}   (or `shoal kill` for every campaign)",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(EXIT_INTERRUPTED)


def _follow(api: ApiClient, campaign: str, batch: int, total: int) -> None:
    """Until this publish's changesets settle, from a summary of them (one grouped query a
    second, not the changesets themselves); each one that fails or needs a human is named
    above the bar as the summary first shows it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("[bold]publishing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "open {task.fields[open]}  failed {task.fields[failed]}  "
            "waiting for budget {task.fields[later]}  next {task.fields[eta]}"
        ),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("publish", total=total, open=0, failed=0, later=0, eta="-")
        named: set[int] = set()
        while True:
            s = api.get(f"/campaigns/{campaign}/changesets/summary", batch=batch)
            for c in reversed(s.get("attention") or []):  # oldest first
                if c["id"] not in named:
                    named.add(c["id"])
                    bar.console.print(_attention_line(c), markup=False, highlight=False)
            counts = s["counts"]
            bar.update(
                task,
                total=s["total"],
                completed=s["settled"],
                open=counts.get("open", 0) + counts.get("draft", 0),
                failed=counts.get("failed", 0),
                later=s["waiting_for_budget"],
                eta=(s["next_eta"] or "-")[:19],
            )
            if s["settled"] >= s["total"]:
                return
            if s["held"]:
                bar.stop()
                _print_held(campaign, s["held"])
                _exit_held(campaign)
            time.sleep(1.0)


def status(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    burndown: Annotated[
        bool, typer.Option("--burndown", help="Changesets per state at the end of each day.")
    ] = False,
    days: Annotated[
        int, typer.Option(min=1, max=366, help="With --burndown: this many days.")
    ] = 14,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Changesets by state, each org's budget used and left today, the next ETA, and the
    latest changesets that failed or need a human."""
    if burndown:
        progress.print_burndown(campaign, days=days, output=output)
        return
    s = client().get(f"/campaigns/{campaign}/status")
    if output is Output.JSON:
        print_json(s)
        return
    flags = " ".join(
        f for f, on in (("[red]KILLED[/]", s["killed"]), ("[yellow]PAUSED[/]", s["paused"])) if on
    )
    console.print(f"campaign [bold]{s['campaign']}[/] {flags}")
    counts = s["counts"]
    if not counts:
        console.print(
            f"no changesets yet: run `shoal publish {s['campaign']}` to open PRs for the "
            "patches of its latest preview",
            highlight=False,
        )
        return
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
    if line := _versions_line(s.get("spec_versions") or {}, s.get("latest_version")):
        console.print(line, highlight=False)
    _print_attention(s["campaign"], counts, s.get("attention") or [])
    if s["held"]:
        _print_held(s["campaign"], s["held"])
    if s["next_eta"]:
        console.print(f"next PR goes out at {s['next_eta'][:19]} UTC")


def changesets(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    state: Annotated[list[str] | None, typer.Option(help="Only this state (repeatable).")] = None,
    repo: Annotated[str | None, typer.Option(help="Glob over owner/name.")] = None,
    after: Annotated[int | None, typer.Option(help="Page: changesets after this id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="At most this many.")] = 200,
    stuck: Annotated[
        bool,
        typer.Option(
            "--stuck",
            help="Only open PRs that are stuck: no reviewer, failing checks, conflicts, or no "
            "activity for --inactive-days.",
        ),
    ] = False,
    inactive_days: Annotated[
        int, typer.Option(min=1, help="With --stuck: no activity for this many days.")
    ] = 7,
    reason: Annotated[
        list[str] | None,
        typer.Option(
            help="With --stuck: only this reason (repeatable): no_reviewer, failing_checks, "
            "conflicts, inactive."
        ),
    ] = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """The campaign's changesets: state, PR, failure reason, ETA; a cut list says how to get
    the next page."""
    if stuck:
        progress.print_stuck(
            campaign,
            inactive_days=inactive_days,
            reasons=reason,
            after=after,
            limit=limit,
            output=output,
        )
        return
    filters = {"state": state, "repo": repo}
    page = client().probe_page(
        f"/campaigns/{campaign}/changesets", limit=limit, **filters, after=after
    )
    found: list[dict[str, Any]] = page.items
    nxt = (
        command_line("changesets", campaign, **filters, limit=limit, **page.next)
        if page.next
        else None
    )
    if output is Output.JSON:
        print_json(found)
        print_page_note(shown=len(found), total=None, next_command=nxt, output=output)
        return
    latest = client().get(f"/campaigns/{campaign}").get("latest_version")
    print_table(
        None,
        ["REPO", "STATE", "PR", "SPEC", "ETA", "REASON", "MESSAGE", "WARNING"],
        [
            [
                c["repo"],
                c["state"],
                c["pr_number"] or "",
                _spec_version(c.get("spec_version"), latest),
                (c["budget_eta"] or "")[:19],
                (c.get("drift") or {}).get("kind") or c["failure_reason"] or "",
                _drift_message(c.get("drift")) or c["failure_message"] or "",
                _warning(c),
            ]
            for c in found
        ],
        free_text=FREE_TEXT_COLUMNS | {"WARNING"},
    )
    print_page_note(shown=len(found), total=None, next_command=nxt, output=output)


Reason = Annotated[str, typer.Option(help="Why (kept in the audit log).")]
CampaignOpt = Annotated[str | None, typer.Option(help="Only this campaign (default: all).")]


def _control(path: str, body: dict[str, Any], output: Output) -> dict[str, Any] | None:
    """Set a control; under `-o json` print the answer and return None."""
    out: dict[str, Any] = client().request("PUT", path, json=body)
    if output is Output.JSON:
        print_json(out)
        return None
    return out


def kill(
    campaign: CampaignOpt = None, reason: Reason = "", output: OutputOpt = Output.TABLE
) -> None:
    """Kill switch: stop every new GitHub mutation within seconds (all campaigns, or one)."""
    body = {"on": True, "campaign": campaign, "reason": reason}
    if out := _control("/controls/kill", body, output):
        console.print(f"[red]kill switch engaged[/] ({escape(out['scope'])})")


def unkill(
    campaign: CampaignOpt = None, reason: Reason = "", output: OutputOpt = Output.TABLE
) -> None:
    """Release the kill switch."""
    body = {"on": False, "campaign": campaign, "reason": reason}
    if out := _control("/controls/kill", body, output):
        console.print(f"kill switch released ({escape(out['scope'])})")


def pause(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    reason: Reason = "",
    output: OutputOpt = Output.TABLE,
) -> None:
    """Pause a campaign's publishing (PRs in flight finish their current step)."""
    body = {"on": True, "reason": reason}
    if _control(f"/campaigns/{campaign}/pause", body, output):
        console.print(f"campaign {escape(campaign)} paused")


def resume(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    reason: Reason = "",
    output: OutputOpt = Output.TABLE,
) -> None:
    """Resume a paused campaign."""
    body = {"on": False, "reason": reason}
    if _control(f"/campaigns/{campaign}/pause", body, output):
        console.print(f"campaign {escape(campaign)} resumed")


def controls(output: OutputOpt = Output.TABLE) -> None:
    """The global kill switch, and every campaign's kill switch and pause ever set."""
    found = client().get("/controls")
    if output is Output.JSON:
        print_json(found)
        return
    console.print(
        "global kill switch: " + ("[red]ON[/]" if found["killed"] else "off"), highlight=False
    )
    print_table(
        None,
        ["SCOPE", "CAMPAIGN", "KILLED", "PAUSED", "REASON", "BY", "AT"],
        [
            [
                c["scope"],
                c["campaign"] or "",
                "yes" if c["killed"] else "no",
                "yes" if c["paused"] else "no",
                c["reason"],
                c["updated_by"] or "",
                (c["updated_at"] or "")[:19],
            ]
            for c in found["controls"]
        ],
    )


def _attention_line(c: dict[str, Any]) -> str:
    """`failed acme/y: branch_protected: ...` for one changeset that needs looking at."""
    reason = (c.get("drift") or {}).get("kind") or c["failure_reason"] or ""
    message = _drift_message(c.get("drift")) or c["failure_message"] or ""
    if len(message) > MESSAGE_CHARS:
        message = message[: MESSAGE_CHARS - 1] + "…"
    label = "needs a human" if c["state"] == "needs_human" else c["state"]
    return f"{label} {c['repo']}: " + ": ".join(part for part in (reason, message) if part)


def _print_attention(campaign: str, counts: dict[str, int], found: list[dict[str, Any]]) -> None:
    """The latest changesets that failed or need a human, and how to list them all."""
    if not found:
        return
    print_table(
        "failed or needing a human (latest first)",
        ["REPO", "STATE", "PR", "REASON", "MESSAGE"],
        [
            [
                c["repo"],
                c["state"],
                c["pr_number"] or "",
                (c.get("drift") or {}).get("kind") or c["failure_reason"] or "",
                _drift_message(c.get("drift")) or c["failure_message"] or "",
            ]
            for c in found
        ],
    )
    total = counts.get("failed", 0) + counts.get("needs_human", 0)
    if total > len(found):
        every = command_line("changesets", campaign, state=["failed", "needs_human"])
        console.print(
            f"showing {len(found)} of {total}; all: {every}", markup=False, highlight=False
        )


def _versions_line(versions: dict[str, int], latest: int | None) -> str:
    """`12 PRs on v1 (behind v2), 30 on v2`: oldest first, the ones behind said so."""
    ordered = sorted(versions.items(), key=lambda item: int(item[0]))
    return ", ".join(
        f"{n} {'PRs on' if i == 0 else 'on'} {_spec_version(int(v), latest)}"
        for i, (v, n) in enumerate(ordered)
    )


def _spec_version(version: int | None, latest: int | None) -> str:
    """`v2`, or `v1 (behind v2)` for a PR last published with an older spec version."""
    if version is None:
        return ""
    if latest is not None and version < latest:
        return f"v{version} (behind v{latest})"
    return f"v{version}"


def _warning(c: dict[str, Any]) -> str:
    """What GitHub refused on the open PR, and a branch kept after the PR ended."""
    kept = (
        "branch kept: it holds commits Shoal did not push"
        if c.get("branch_state") == "kept"
        else None
    )
    return "; ".join(part for part in (c["warning"], kept) if part)


def _drift_message(drift: dict[str, str] | None) -> str | None:
    if not drift:
        return None
    return f"needs a human since {drift.get('since', '')[:19]}: {drift.get('detail', '')}"
