"""`shoal bulk retry|close|rebase|update-template|publish|undraft|comment CAMPAIGN [filters]`
and `shoal bulk list|show|cancel`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shoal.cli.output import (
    FREE_TEXT_COLUMNS,
    Output,
    OutputOpt,
    command_line,
    console,
    fail,
    print_json,
    print_page_note,
    print_table,
)
from shoal.cli.remote.client import client

__all__ = ["bulk_app"]

bulk_app = typer.Typer(
    help="Act on many changesets of a campaign at once: retry, close, rebase, update the "
    "template, publish, undraft, comment. Each is recorded, followed and cancellable.",
    no_args_is_help=True,
)

Campaign = Annotated[str, typer.Argument(help="Campaign name or id.")]
Repos = Annotated[
    list[str] | None, typer.Option("--repos", help="Only these owner/name (repeatable).")
]
RepoGlob = Annotated[str | None, typer.Option("--repo-glob", help="Glob over owner/name.")]
Org = Annotated[str | None, typer.Option(help="Only this organization.")]
States = Annotated[
    list[str] | None, typer.Option("--state", help="Only changesets in this state (repeatable).")
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Say what the action would do (how many PRs in which orgs, what it skips) and "
        "change nothing.",
    ),
]


def _filters(
    repos: list[str] | None, repo_glob: str | None, org: str | None, states: list[str] | None
) -> dict[str, Any]:
    return {"repos": repos or [], "repo_glob": repo_glob, "org": org, "states": states or []}


def _start(
    campaign: str, kind: str, body: dict[str, Any], output: Output, dry_run: bool = False
) -> None:
    if dry_run:
        planned = client().post(f"/campaigns/{campaign}/bulk/{kind}/dry-run", body)
        if output is Output.JSON:
            print_json(planned)
            return
        console.print(f"dry run: {planned['summary']}", markup=False, highlight=False)
        return
    action = client().post(f"/campaigns/{campaign}/bulk/{kind}", body)
    if output is Output.JSON:
        print_json(action)
        return
    counts = action["counts"]
    skipped = counts.get("skipped", 0)
    console.print(
        f"bulk action [bold]{action['id']}[/] ({kind}) on {action['campaign']}: "
        f"{action['total']} item(s), {skipped} skipped at once",
        highlight=False,
    )
    if action["total"] == 0:
        console.print("nothing matched: no changeset is changed", highlight=False)
    console.print(
        f"follow it: shoal bulk show {action['id']}   cancel it: shoal bulk cancel {action['id']}",
        markup=False,
        highlight=False,
    )


@bulk_app.command()
def retry(
    campaign: Campaign,
    repos: Repos = None,
    repo_glob: RepoGlob = None,
    org: Org = None,
    what: Annotated[
        str,
        typer.Option(
            help="all, publish (failed changesets) or execution (failed executions of the "
            "latest preview)."
        ),
    ] = "all",
    dry_run: DryRun = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Retry the failed targets: changesets whose publish failed, failed executions."""
    _start(
        campaign, "retry", _filters(repos, repo_glob, org, None) | {"what": what}, output, dry_run
    )


@bulk_app.command()
def close(
    campaign: Campaign,
    repos: Repos = None,
    repo_glob: RepoGlob = None,
    org: Org = None,
    state: States = None,
    deselected: Annotated[
        bool,
        typer.Option(help="Every changeset whose repo left the latest preview's selection."),
    ] = False,
    delete_branch: Annotated[bool, typer.Option(help="Delete each PR's branch too.")] = False,
    dry_run: DryRun = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Close the PRs of the selected changesets (those with no PR yet are not opened)."""
    body = _filters(repos, repo_glob, org, state) | {
        "deselected": deselected,
        "delete_branch": delete_branch,
    }
    _start(campaign, "close", body, output, dry_run)


@bulk_app.command()
def rebase(
    campaign: Campaign,
    repos: Repos = None,
    repo_glob: RepoGlob = None,
    org: Org = None,
    dry_run: DryRun = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Bring each open PR's branch up to date with its base (GitHub's update-branch)."""
    _start(campaign, "rebase", _filters(repos, repo_glob, org, None), output, dry_run)


@bulk_app.command("update-template")
def update_template(
    campaign: Campaign,
    repos: Repos = None,
    repo_glob: RepoGlob = None,
    org: Org = None,
    dry_run: DryRun = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Give each open PR the template of the latest spec version (its latest preview)."""
    _start(campaign, "update-template", _filters(repos, repo_glob, org, None), output, dry_run)


@bulk_app.command("publish")
def publish_subset(
    campaign: Campaign,
    repos: Repos = None,
    repo_glob: RepoGlob = None,
    org: Org = None,
    draft: Annotated[
        bool | None, typer.Option("--draft/--ready", help="Open as drafts (default: the spec's).")
    ] = None,
    dry_run: DryRun = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Publish a subset of the latest preview's patches, under the per-org budgets."""
    body = _filters(repos, repo_glob, org, None)
    if draft is not None:
        body["draft"] = draft
    _start(campaign, "publish", body, output, dry_run)


@bulk_app.command()
def undraft(
    campaign: Campaign,
    repos: Repos = None,
    repo_glob: RepoGlob = None,
    org: Org = None,
    dry_run: DryRun = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Mark draft PRs ready for review."""
    _start(campaign, "undraft", _filters(repos, repo_glob, org, None), output, dry_run)


@bulk_app.command()
def comment(
    campaign: Campaign,
    body: Annotated[str | None, typer.Option(help="The comment's text (Markdown).")] = None,
    body_file: Annotated[
        Path | None, typer.Option(help="Read the comment's text from this file.")
    ] = None,
    repos: Repos = None,
    repo_glob: RepoGlob = None,
    org: Org = None,
    state: States = None,
    dry_run: DryRun = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Post one comment on each open PR of the selected changesets."""
    if (body is None) == (body_file is None):
        fail("give the comment's text with --body TEXT or --body-file FILE (one of them)")
    if body_file is not None:
        try:
            body = body_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {body_file}: {exc}")
    _start(
        campaign,
        "comment",
        _filters(repos, repo_glob, org, state) | {"body": body},
        output,
        dry_run,
    )


@bulk_app.command("list")
def list_actions(
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's.")] = None,
    state: Annotated[
        list[str] | None, typer.Option(help="running, done or cancelled (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Bulk actions, newest first."""
    found = client().get("/bulk", campaign=campaign, state=state, limit=limit)
    if output is Output.JSON:
        print_json(found)
        return
    print_table(
        None,
        ["ID", "CAMPAIGN", "KIND", "STATE", "SETTLED", "TOTAL", "FAILED", "BY", "CREATED"],
        [
            [
                a["id"],
                a["campaign"],
                a["kind"],
                a["state"],
                a["settled"],
                a["total"],
                a["counts"].get("failed", 0),
                a["created_by"],
                a["created_at"][:19],
            ]
            for a in found
        ],
    )


@bulk_app.command()
def show(
    action_id: Annotated[int, typer.Argument(help="The bulk action's id.")],
    state: Annotated[
        list[str] | None,
        typer.Option(
            help="Only items in this state (repeatable): pending, applied, done, skipped, "
            "failed, cancelled."
        ),
    ] = None,
    after: Annotated[int | None, typer.Option(help="Page: items after this id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000)] = 200,
    output: OutputOpt = Output.TABLE,
) -> None:
    """A bulk action's progress and each item's outcome."""
    api = client()
    action = api.get(f"/bulk/{action_id}")
    page = api.probe_page(f"/bulk/{action_id}/items", limit=limit, state=state, after=after)
    nxt = (
        command_line("bulk", "show", str(action_id), state=state, limit=limit, **page.next)
        if page.next
        else None
    )
    if output is Output.JSON:
        print_json({"action": action, "items": page.items})
        print_page_note(shown=len(page.items), total=None, next_command=nxt, output=output)
        return
    counts = ", ".join(f"{n} {s}" for s, n in sorted(action["counts"].items())) or "no item"
    console.print(
        f"bulk action {action['id']} ({action['kind']}) on {action['campaign']}: "
        f"{action['state']}, {action['settled']}/{action['total']} settled ({counts})",
        markup=False,
        highlight=False,
    )
    print_table(
        None,
        ["REPO", "CHANGESET", "EXECUTION", "STATE", "DETAIL"],
        [
            [i["repo"], i["changeset_id"] or "", i["execution_id"] or "", i["state"], i["detail"]]
            for i in page.items
        ],
        free_text=FREE_TEXT_COLUMNS | {"DETAIL"},
    )
    print_page_note(shown=len(page.items), total=None, next_command=nxt, output=output)


@bulk_app.command()
def cancel(
    action_id: Annotated[int, typer.Argument(help="The bulk action's id.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Cancel a running bulk action: nothing more is asked of GitHub for it; what was asked
    and not done yet is withdrawn where it can be."""
    action = client().post(f"/bulk/{action_id}/cancel", {})
    if output is Output.JSON:
        print_json(action)
        return
    console.print(
        f"bulk action {action['id']} cancelled: {action['counts'].get('cancelled', 0)} item(s) "
        f"stopped, {action['counts'].get('done', 0)} done before",
        highlight=False,
    )
