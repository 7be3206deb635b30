"""`shoal specs history|show` (server) and `shoal spec schema` (local)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from shoal.cli.output import Output, OutputOpt, console, print_json, print_table
from shoal.cli.remote.client import client

__all__ = ["spec_app", "specs_app"]

specs_app = typer.Typer(help="Read a campaign's spec versions.", no_args_is_help=True)
spec_app = typer.Typer(help="The campaign spec format.", no_args_is_help=True)


@specs_app.command("history")
def history(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    output: OutputOpt = Output.TABLE,
) -> None:
    """Every spec version of a campaign, oldest first."""
    versions: list[dict[str, Any]] = client().get(f"/campaigns/{campaign}/specs")
    if output is Output.JSON:
        print_json(versions)
        return
    print_table(
        f"spec versions of {campaign}",
        ["VERSION", "SPEC HASH", "APPLIED", "BY"],
        [[v["version"], v["spec_hash"], v["created_at"][:19], v["created_by"]] for v in versions],
    )


@specs_app.command("show")
def show(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    version: Annotated[str, typer.Argument(help="Version number or 'latest'.")] = "latest",
    normalized: Annotated[
        bool, typer.Option("--normalized", help="Print the normalized JSON instead of YAML.")
    ] = False,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Print one spec version: the YAML as applied, or the normalized JSON."""
    found = client().get(f"/campaigns/{campaign}/specs/{version}")
    if output is Output.JSON:
        print_json(found)
    elif normalized:
        print_json(found["spec"])
    else:
        console.print(found["yaml"], markup=False, highlight=False, end="")


@spec_app.command("schema")
def schema() -> None:
    """Print the campaign spec's JSON Schema (for editors such as yaml-language-server)."""
    from shoal.spec import spec_json_schema

    typer.echo(json.dumps(spec_json_schema(), indent=2, sort_keys=True))
