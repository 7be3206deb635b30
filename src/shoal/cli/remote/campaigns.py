"""`shoal validate`, `shoal apply`, `shoal campaigns list|show`."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from shoal.cli.output import (
    Output,
    OutputOpt,
    command_line,
    console,
    fail,
    print_json,
    print_page_note,
    print_table,
)
from shoal.cli.remote.client import ApiClient, client

__all__ = ["apply", "apply_file", "campaigns_app", "validate"]

campaigns_app = typer.Typer(help="Read campaigns.", no_args_is_help=True)

SpecFile = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, readable=True, help="A campaign spec (YAML)."),
]


class ExecutorChoice(enum.StrEnum):
    LOCAL = "local"
    PODMAN = "podman"
    KUBERNETES = "kubernetes"


def validate(
    file: SpecFile,
    output: OutputOpt = Output.TABLE,
    executor: Annotated[
        ExecutorChoice | None,
        typer.Option(
            "--executor",
            help="Also check that this executor can run the steps' images (local refuses "
            "any image, kubernetes a tag without a digest). The server checks its own.",
        ),
    ] = None,
) -> None:
    """Validate a spec locally (no server needed) and print its spec_hash."""
    from shoal.spec import SpecInvalidError, image_issues, parse_spec

    try:
        parsed = parse_spec(file.read_bytes(), source=str(file))
        if executor is not None:
            issues = image_issues(parsed.spec, parsed.yaml_text, executor.value)
            if issues:
                raise SpecInvalidError(issues, source=str(file))
    except SpecInvalidError as exc:
        if output is Output.JSON:
            print_json(
                {"valid": False, "spec_hash": None, "errors": [i.to_dict() for i in exc.issues]}
            )
            raise typer.Exit(1) from None
        lines = "\n".join(f"  - {issue.render()}" for issue in exc.issues)
        fail(f"{file}: {len(exc.issues)} problem(s)\n{lines}")
    if output is Output.JSON:
        print_json({"valid": True, "spec_hash": parsed.spec_hash, "errors": []})
        return
    console.print(f"[green]valid[/] {file} (campaign {parsed.spec.name})")
    console.print(f"spec_hash: {parsed.spec_hash}")


# How many changesets `shoal apply` lists one by one before the counts alone speak.
PLAN_SHOWN = 20


def _interactive() -> bool:
    """Whether a human can answer a question (a script or a pipe cannot)."""
    return sys.stdin is not None and sys.stdin.isatty()


def _print_plan(plan: dict[str, Any]) -> None:
    console.print(
        f"applying this spec to [bold]{plan['campaign']}[/] (now at spec version "
        f"{plan['latest_version']}) changes {sum(c['changes'] for c in plan['changesets'])} of "
        f"its {len(plan['changesets'])} published changeset(s) at the next publish:",
        highlight=False,
    )
    kinds = [c["change"] for c in plan["changesets"]]
    pushed, in_place = kinds.count("push"), kinds.count("update_in_place")
    console.print(
        f"{pushed} PR(s) get a new commit (push), {in_place} are updated in place "
        "(their commit stays)",
        highlight=False,
    )
    counts = plan["counts"]
    print_table(None, ["OPERATION", "CHANGESETS"], [[op, n] for op, n in counts.items()])
    shown = [c for c in plan["changesets"] if c["changes"]][:PLAN_SHOWN]
    print_table(
        None,
        ["REPO", "PR", "VERSION", "CHANGE", "OPERATIONS", "REMOVES"],
        [
            [
                c["repo"],
                c["pr_number"] or "",
                c["spec_version"],
                c["change"].replace("_", " "),
                ", ".join(c["operations"]),
                "; ".join(f"{k}: {', '.join(v)}" for k, v in c["removals"].items()),
            ]
            for c in shown
        ],
    )
    hidden = sum(c["changes"] for c in plan["changesets"]) - len(shown)
    if hidden > 0:
        console.print(f"... and {hidden} more (`shoal changesets {plan['campaign']}`)")
    for note in plan["notes"]:
        console.print(f"note: {note}", highlight=False)


def _confirm(plan: dict[str, Any], *, yes: bool, output: Output) -> None:
    """Show what the new version changes on published PRs and ask before applying."""
    if not plan["changes_published"]:
        return
    if output is Output.TABLE:
        _print_plan(plan)
    if yes:
        return
    if not _interactive():
        fail(
            f"applying this spec changes {sum(c['changes'] for c in plan['changesets'])} "
            "published changeset(s) and there is no terminal to ask on",
            code=2,
            hint="review it with `shoal apply` in a terminal, or pass --yes to apply anyway",
        )
    # On stderr: with `-o json`, stdout carries only the answer.
    if not typer.confirm("apply this version?", default=False, err=True):
        fail("not applied: nothing changed", code=1)


def apply_file(
    api: ApiClient, file: Path, *, yes: bool, output: Output
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply a spec file as `shoal apply` does: the plan shown and asked for first when the
    new version changes published PRs (`_confirm`). Returns the answer and the plan."""
    spec = {"spec": file.read_text(errors="replace")}
    plan = api.post("/campaigns/plan", spec)
    _confirm(plan, yes=yes, output=output)
    return api.post("/campaigns/apply", spec), plan


def apply(
    file: SpecFile,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Apply without asking, even when published PRs would change."
        ),
    ] = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Apply a spec: creates the campaign or a new spec version (a no-op when unchanged).

    When the new version changes PRs already published, prints the plan per changeset
    and asks first (`--yes` skips the question)."""
    result, _plan = apply_file(client(), file, yes=yes, output=output)
    if output is Output.JSON:
        print_json(result)
        return
    campaign, version = result["campaign"], result["spec_version"]
    if result["created_version"]:
        verb = "created" if result["created_campaign"] else "updated"
        console.print(
            f"campaign [bold]{campaign['name']}[/] {verb}: spec version {version['version']} "
            f"({version['spec_hash'][:12]})"
        )
    else:
        console.print(
            f"campaign [bold]{campaign['name']}[/] unchanged: spec version {version['version']} "
            f"already has hash {version['spec_hash'][:12]}"
        )


@campaigns_app.command("list")
def list_campaigns(
    prefix: Annotated[str | None, typer.Option(help="Only names starting with this.")] = None,
    after: Annotated[
        int | None, typer.Option(help="Page: campaigns after this campaign id.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=499, help="At most this many.")] = 100,
    output: OutputOpt = Output.TABLE,
) -> None:
    """List campaigns (names in full, however narrow the terminal)."""
    page = client().probe_page("/campaigns", prefix=prefix, after=after, limit=limit)
    if output is Output.JSON:
        print_json(page.items)
    else:
        print_table(
            None,
            ["ID", "NAME", "VERSION", "SPEC HASH", "UPDATED", "DESCRIPTION"],
            [
                [
                    c["id"],
                    c["name"],
                    c["latest_version"],
                    (c["latest_spec_hash"] or "")[:12],
                    c["updated_at"][:19],
                    c["description"],
                ]
                for c in page.items
            ],
        )
    nxt = None
    if page.next:
        nxt = command_line("campaigns", "list", prefix=prefix, limit=limit, **page.next)
    print_page_note(shown=len(page.items), total=None, next_command=nxt, output=output)


@campaigns_app.command("show")
def show_campaign(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Show one campaign and its latest spec."""
    api = client()
    found = api.get(f"/campaigns/{campaign}")
    latest = None
    if found["latest_version"] is not None:
        latest = api.get(f"/campaigns/{campaign}/specs/latest")
    if output is Output.JSON:
        print_json({"campaign": found, "latest_spec": latest})
        return
    console.print(f"[bold]{found['name']}[/]  {found['description']}")
    console.print(f"created {found['created_at'][:19]} by {found['created_by']}")
    if latest is None:
        console.print("no spec applied yet")
        return
    console.print(
        f"spec version {latest['version']} ({latest['spec_hash']}) "
        f"applied {latest['created_at'][:19]} by {latest['created_by']}"
    )
    console.rule("spec")
    console.print(latest["yaml"], markup=False, highlight=False)
