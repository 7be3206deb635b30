"""`shoal tasks list|retry`: the queue, and dead letters."""

from __future__ import annotations

from typing import Annotated

import typer

from shoal.cli.output import (
    Output,
    OutputOpt,
    command_line,
    console,
    print_json,
    print_page_note,
    print_table,
)
from shoal.cli.remote.client import client

__all__ = ["tasks_app"]

tasks_app = typer.Typer(help="The task queue and its dead letters.", no_args_is_help=True)


@tasks_app.command("list")
def list_tasks(
    state: Annotated[
        list[str] | None, typer.Option(help="queued, running, done or dead (repeatable).")
    ] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Task kind (repeatable).")] = None,
    after: Annotated[int | None, typer.Option(help="Page: tasks after this task id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=999, help="At most this many tasks.")] = 100,
    output: OutputOpt = Output.TABLE,
) -> None:
    """List tasks, oldest first."""
    page = client().probe_page("/tasks", state=state, kind=kind, after=after, limit=limit)
    if output is Output.JSON:
        print_json(page.items)
    else:
        print_table(
            None,
            ["ID", "KIND", "KEY", "STATE", "ATTEMPTS", "RUN AFTER", "LAST ERROR"],
            [
                [
                    t["id"],
                    t["kind"],
                    t["dedupe_key"],
                    t["state"],
                    f"{t['attempts']}/{t['max_attempts']}",
                    t["run_after"][:19],
                    (t["last_error"] or "")[:80],
                ]
                for t in page.items
            ],
        )
    nxt = None
    if page.next:
        nxt = command_line("tasks", "list", state=state, kind=kind, limit=limit, **page.next)
    print_page_note(shown=len(page.items), total=None, next_command=nxt, output=output)


@tasks_app.command("retry")
def retry(
    task_id: Annotated[int, typer.Argument(help="A dead task's id.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Queue a dead task again with a fresh attempt budget."""
    result = client().post(f"/tasks/{task_id}/retry", {})
    if output is Output.JSON:
        print_json(result)
        return
    console.print(f"task {task_id} queued again (live task {result['task_id']})")
