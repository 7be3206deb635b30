"""`shoal tasks list|retry`: the queue, and dead letters."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shoal.cli.output import Output, OutputOpt, console, print_json, print_table
from shoal.cli.remote.client import client

__all__ = ["tasks_app"]

tasks_app = typer.Typer(help="The task queue and its dead letters.", no_args_is_help=True)


@tasks_app.command("list")
def list_tasks(
    state: Annotated[
        list[str] | None, typer.Option(help="queued, running, done or dead (repeatable).")
    ] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Task kind (repeatable).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    output: OutputOpt = Output.TABLE,
) -> None:
    """List tasks, oldest first."""
    found: list[dict[str, Any]] = client().get("/tasks", state=state, kind=kind, limit=limit)
    if output is Output.JSON:
        print_json(found)
        return
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
            for t in found
        ],
    )


@tasks_app.command("retry")
def retry(task_id: Annotated[int, typer.Argument(help="A dead task's id.")]) -> None:
    """Queue a dead task again with a fresh attempt budget."""
    result = client().post(f"/tasks/{task_id}/retry", {})
    console.print(f"task {task_id} queued again (live task {result['task_id']})")
