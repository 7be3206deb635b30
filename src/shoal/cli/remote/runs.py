"""`shoal preview`, `shoal runs list|show|targets|logs|retry|cancel`, `shoal diff`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

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
from shoal.cli.remote.campaigns import apply_file
from shoal.cli.remote.client import ApiClient, Page, client
from shoal.domain.printable import escape_text

__all__ = ["diff", "preview", "runs_app"]

runs_app = typer.Typer(help="Follow runs and read their results.", no_args_is_help=True)

_FINAL = {"done", "failed", "cancelled"}
# What a shell reports for a command stopped by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


def preview(
    what: Annotated[
        str, typer.Argument(help="A spec file (applied first) or the name of a campaign.")
    ],
    wait: Annotated[bool, typer.Option(help="Follow the run until it finishes.")] = True,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Apply the file without asking, even when published PRs would change.",
        ),
    ] = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Preview a campaign: select repositories, run the steps, show the diffs. No GitHub writes.

    A spec file is applied first as `shoal apply` applies it: when the new version changes
    PRs already published, the plan per changeset is printed and asked for first (`--yes`
    skips the question). `shoal publish` carries it out."""
    api = client()
    campaign = what
    path = Path(what)
    plan: dict[str, Any] = {}
    if path.is_file():
        applied, plan = apply_file(api, path, yes=yes, output=output)
        campaign = applied["campaign"]["name"]
        if output is Output.TABLE:
            version = applied["spec_version"]
            console.print(
                f"campaign [bold]{campaign}[/] spec version {version['version']} "
                f"({version['spec_hash'][:12]})"
            )
    run = api.post(f"/campaigns/{campaign}/runs", {"kind": "preview"})
    if output is Output.TABLE:
        console.print(f"run [bold]{run['id']}[/] started")
    if wait:
        try:
            run = _follow(api, run, quiet=output is Output.JSON)
        except KeyboardInterrupt:
            _interrupted(run)
    if output is Output.JSON:
        print_json(run)
    else:
        _print_summary(api, run)
        if plan.get("changes_published"):
            console.print(
                "nothing was written to GitHub: the plan above is carried out on the "
                f"published PRs by `shoal publish {campaign}`",
                highlight=False,
            )
    _exit_for(run)


def _interrupted(run: dict[str, Any]) -> None:
    """Ctrl-C stops following, not the run: say so and how to reach it again."""
    run_id = run["id"]
    err_console.print(
        f"interrupted: run {run_id} goes on running on the server.\n"
        f"  follow it: shoal runs show {run_id}\n"
        f"  cancel it: shoal runs cancel {run_id}",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(EXIT_INTERRUPTED)


def _exit_for(run: dict[str, Any]) -> None:
    """A failed or cancelled run fails the command; a done run does not, even when some of its
    executions failed (that is a result of the preview, listed in the summary)."""
    if run["state"] == "failed":
        fail(
            f"run {run['id']} failed: {run['selection_error'] or 'no reason recorded'}",
            hint=f"details: shoal runs show {run['id']}",
        )
    if run["state"] == "cancelled":
        fail(f"run {run['id']} was cancelled", hint=f"details: shoal runs show {run['id']}")


def _follow(api: ApiClient, run: dict[str, Any], *, quiet: bool) -> dict[str, Any]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("[bold]{task.fields[phase]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("running {task.fields[running]}  failed {task.fields[failed]}"),
        TextColumn("ETA {task.fields[eta]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False, disable=quiet) as bar:
        task = bar.add_task("run", total=None, phase="selecting", running=0, failed=0, eta="-")
        while True:
            p = run["progress"]
            eta = "-" if p["eta_s"] is None else f"{p['eta_s']:.0f}s"
            phase = run["state"]
            if run["state"] != "selecting":
                phase = f"{p['included']} selected"
            bar.update(
                task,
                total=p["included"] if run["state"] != "selecting" else None,
                completed=p["finished"],
                phase=phase,
                running=p["running"],
                failed=p["failed"],
                eta=eta,
            )
            if run["state"] in _FINAL:
                return run
            time.sleep(0.5)
            run = api.get(f"/runs/{run['id']}")


def _print_summary(api: ApiClient, run: dict[str, Any]) -> None:
    p = run["progress"]
    console.print(
        f"run {run['id']} [bold]{run['state']}[/]: {p['targets']} repositories considered, "
        f"{p['included']} included, {p['excluded']} excluded; "
        f"[green]{p['patch']} with a patch[/], {p['no_change']} unchanged, "
        f"[red]{p['failed']} failed[/]"
    )
    if run["selection_error"] and run["state"] != "failed":
        # A partial selection problem (the run failed outright says so on stderr).
        console.print(f"[yellow]selection:[/] {run['selection_error']}", markup=True)
    if run["state"] == "done" and p["failed"]:
        console.print(
            f"[yellow]{p['failed']} of {p['included']} executions failed[/]; the run itself is "
            f"done. Their logs: shoal runs logs {run['id']} OWNER/REPO",
            highlight=False,
        )
    if p["patch"]:
        patches = api.get(f"/runs/{run['id']}/executions", state="patch", limit=20)
        print_table(
            "changed (first 20)",
            ["REPO", "FILES", "+", "-"],
            [
                [e["repo"], e["files_changed"], e["lines_added"], e["lines_deleted"]]
                for e in patches
            ],
        )
    if p["failed"]:
        failed = api.get(f"/runs/{run['id']}/executions", state="failed", limit=20)
        print_table(
            "failed (first 20)",
            ["REPO", "REASON", "MESSAGE"],
            [[e["repo"], e["reason"], e["message"]] for e in failed],
        )
    console.print(
        f"details: shoal runs show {run['id']}   diffs: shoal diff {run['campaign']} OWNER/REPO"
    )


@runs_app.command("list")
def list_runs(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    before: Annotated[int | None, typer.Option(help="Page: only runs older than this id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many runs.")] = 50,
    output: OutputOpt = Output.TABLE,
) -> None:
    """List a campaign's runs, newest first."""
    page = client().page(f"/campaigns/{campaign}/runs", before=before, limit=limit)
    if output is Output.JSON:
        print_json(page.items)
    else:
        print_table(
            None,
            ["RUN", "KIND", "STATE", "SPEC", "INCLUDED", "PATCH", "NO CHANGE", "FAILED", "CREATED"],
            [
                [
                    r["id"],
                    r["kind"],
                    r["state"],
                    r["spec_version"],
                    r["progress"]["included"],
                    r["progress"]["patch"],
                    r["progress"]["no_change"],
                    r["progress"]["failed"],
                    r["created_at"][:19],
                ]
                for r in page.items
            ],
        )
    _note(page, output, ["runs", "list", campaign], limit=limit)


@runs_app.command("show")
def show_run(
    run_id: Annotated[int, typer.Argument(help="Run id.")],
    state: Annotated[
        list[str] | None, typer.Option(help="Only executions in this state (repeatable).")
    ] = None,
    reason: Annotated[list[str] | None, typer.Option(help="Only this failure reason.")] = None,
    repo: Annotated[str | None, typer.Option(help="Glob over owner/name.")] = None,
    org: Annotated[str | None, typer.Option(help="Only this organization's repos.")] = None,
    path: Annotated[
        str | None, typer.Option(help="Only patches touching this path glob, e.g. '.github/**'.")
    ] = None,
    after: Annotated[
        int | None, typer.Option(help="Page: executions after this execution id.")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, help="At most this many executions.")
    ] = 200,
    output: OutputOpt = Output.TABLE,
) -> None:
    """A run's counts by status and its executions (filtered)."""
    api = client()
    run = api.get(f"/runs/{run_id}")
    filters: dict[str, Any] = {
        "state": state,
        "reason": reason,
        "repo": repo,
        "org": org,
        "path": path,
    }
    page = api.page(f"/runs/{run_id}/executions", **filters, after=after, limit=limit)
    if output is Output.JSON:
        print_json({"run": run, "executions": page.items})
        _note(page, output, ["runs", "show", str(run_id)], **filters, limit=limit)
        return
    p = run["progress"]
    console.print(
        f"run [bold]{run['id']}[/] ({run['kind']}) of {run['campaign']} spec "
        f"v{run['spec_version']}: [bold]{run['state']}[/]"
    )
    print_table(
        None,
        ["TARGETS", "INCLUDED", "EXCLUDED", "QUEUED", "RUNNING", "PATCH", "NO CHANGE", "FAILED"],
        [
            [
                p["targets"],
                p["included"],
                p["excluded"],
                p["queued"],
                p["running"],
                p["patch"],
                p["no_change"],
                p["failed"],
            ]
        ],
    )
    console.print(
        f"GitHub requests for selection: {run['github_requests']}, "
        f"GraphQL points: {run['graphql_points']}"
    )
    if run["selection_error"]:
        label = "failed" if run["state"] == "failed" else "selection"
        console.print(f"[yellow]{label}:[/] {run['selection_error']}")
    print_table(
        None,
        ["REPO", "STATE", "REASON", "FILES", "+", "-", "MESSAGE"],
        [
            [
                e["repo"],
                e["state"],
                e["reason"],
                e["files_changed"],
                e["lines_added"],
                e["lines_deleted"],
                e["message"],
            ]
            for e in page.items
        ],
    )
    _note(page, output, ["runs", "show", str(run_id)], **filters, limit=limit)


@runs_app.command("targets")
def list_targets(
    run_id: Annotated[int, typer.Argument(help="Run id.")],
    excluded: Annotated[bool, typer.Option(help="Only the excluded repositories.")] = False,
    after: Annotated[int | None, typer.Option(help="Page: targets after this target id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 1000,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Every repository the run considered and why it was included or excluded."""
    page = client().page(
        f"/runs/{run_id}/targets",
        included=False if excluded else None,
        after=after,
        limit=limit,
    )
    if output is Output.JSON:
        print_json(page.items)
    else:
        print_table(
            None,
            ["REPO", "INCLUDED", "REASON", "BASE"],
            [
                [
                    t["repo"],
                    "yes" if t["included"] else "no",
                    t["reason"],
                    (t["base_sha"] or "")[:12],
                ]
                for t in page.items
            ],
        )
    _note(page, output, ["runs", "targets", str(run_id)], excluded=excluded, limit=limit)


@runs_app.command("cancel")
def cancel(
    run_id: Annotated[int, typer.Argument(help="Run id.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Cancel a selecting or executing run: its queued executions never run, running ones store
    nothing. Cancelling a cancelled run is a no-op; a finished run cannot be cancelled."""
    result = client().post(f"/runs/{run_id}/cancel", {})
    if output is Output.JSON:
        print_json(result)
        return
    if not result["changed"]:
        console.print(f"run {run_id} was already cancelled")
        return
    p = result["run"]["progress"]
    console.print(
        f"run {run_id} cancelled: {p['finished']} executions had finished, "
        f"{p['queued']} queued will not run, {p['running']} running will store nothing"
    )


def _note(page: Page, output: Output, words: list[str], **options: Any) -> None:
    """Under a cut list: how many were shown of how many, and the command for the next page."""
    nxt = command_line(*words, **options, **page.next) if page.next is not None else None
    print_page_note(shown=len(page.items), total=page.total, next_command=nxt, output=output)


@runs_app.command("logs")
def logs(
    run_id: Annotated[int, typer.Argument(help="Run id.")],
    repo: Annotated[str, typer.Argument(help="owner/name")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """The whole log of one execution (secrets masked)."""
    # The server sends the log with control characters escaped; the console escapes again
    # in case it did not (an older server).
    text = client().request("GET", f"/runs/{run_id}/executions/{repo}/log")
    if output is Output.JSON:
        print_json({"run_id": run_id, "repo": repo, "log": text})
        return
    console.print(text, markup=False, highlight=False, end="")


@runs_app.command("retry")
def retry(
    run_id: Annotated[int, typer.Argument(help="Run id.")],
    repo: Annotated[str, typer.Argument(help="owner/name")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Run a failed execution again."""
    found = client().post(f"/runs/{run_id}/executions/{repo}/retry", {})
    if output is Output.JSON:
        print_json(found)
        return
    console.print(f"{found['repo']}: queued again (attempt {found['attempts'] + 1})")


def diff(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    repo: Annotated[str, typer.Argument(help="owner/name")],
    run_id: Annotated[
        int | None, typer.Option("--run", help="Run id (default: the campaign's latest run).")
    ] = None,
    color: Annotated[bool, typer.Option(help="Color the diff.")] = True,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="Write the patch's exact bytes (control characters included), e.g. for "
            "`git apply`; only to a file or a pipe, never to a terminal.",
        ),
    ] = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """The patch a run produced for one repository, control characters shown escaped.

    With `-o json`: the execution as `GET /runs/{id}/executions/{repo}` returns it, with its
    `run_id` and its `patch` (null when the repository has none)."""
    api = client()
    if run_id is None:
        found: list[dict[str, Any]] = api.get(f"/campaigns/{campaign}/runs", limit=1)
        if not found:
            fail(f"campaign {campaign!r} has no runs yet", hint=f"run `shoal preview {campaign}`")
        run_id = found[0]["id"]
    execution = api.get(f"/runs/{run_id}/executions/{repo}")
    if output is Output.JSON:
        patch_text = (
            api.request("GET", f"/runs/{run_id}/executions/{repo}/patch")
            if execution["state"] == "patch"
            else None
        )
        print_json({**execution, "run_id": run_id, "patch": patch_text})
        return
    if execution["state"] != "patch":
        detail = f": {execution['message']}" if execution["message"] else ""
        console.print(f"{execution['repo']}: {execution['state']}{detail}")
        return
    if raw:
        if sys.stdout.isatty():
            fail(
                "--raw writes control characters as they are; a terminal would obey them",
                hint="redirect it: shoal diff ... --raw > change.patch",
            )
        patch = api.send("GET", f"/runs/{run_id}/executions/{repo}/patch", params={"raw": 1})
        sys.stdout.buffer.write(patch.content)
        sys.stdout.flush()
        return
    text = api.request("GET", f"/runs/{run_id}/executions/{repo}/patch")
    if color and console.is_terminal:
        # Syntax renders its code itself, not through the console's escaping. Imported here:
        # it loads pygments, which no other command needs.
        from rich.syntax import Syntax

        console.print(Syntax(escape_text(text), "diff", theme="ansi_dark", word_wrap=False))
    else:
        console.print(text, markup=False, highlight=False, end="")
