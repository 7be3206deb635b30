"""`shoal spec`: the campaign spec format (`validate`, `schema`, local) and a campaign's spec
versions on the server (`history`, `show`, `diff`). `shoal specs` is the same group under its
older name, kept so scripts that use it go on working."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from shoal.cli.output import Output, OutputOpt, console, print_json, print_table
from shoal.cli.remote.campaigns import validate
from shoal.cli.remote.client import client

__all__ = ["spec_app", "specs_app"]

SPEC_HELP = "Campaign specs: validate one, print the schema, read a campaign's versions."
SPEC_EPILOG = (
    "Examples:\n\n"
    "  shoal spec validate campaign.yaml\n\n"
    "  shoal spec history bump-checkout-v4 -o json\n\n"
    "  shoal spec show bump-checkout-v4 2\n\n"
    "  shoal spec diff bump-checkout-v4 1 2\n\n"
    "  shoal spec schema > campaign-spec.schema.json"
)
spec_app = typer.Typer(help=SPEC_HELP, epilog=SPEC_EPILOG, no_args_is_help=True)
specs_app = typer.Typer(help=SPEC_HELP, epilog=SPEC_EPILOG, no_args_is_help=True)


@spec_app.command("history")
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


@spec_app.command("show")
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


@spec_app.command("diff")
def diff(
    campaign: Annotated[str, typer.Argument(help="Campaign name or id.")],
    old: Annotated[str, typer.Argument(help="The older version number.")],
    new: Annotated[str, typer.Argument(help="The newer version number or 'latest'.")] = "latest",
    output: OutputOpt = Output.TABLE,
) -> None:
    """What changed between two spec versions: a unified diff of their YAML as applied."""
    import difflib

    api = client()
    before = api.get(f"/campaigns/{campaign}/specs/{old}")
    after = api.get(f"/campaigns/{campaign}/specs/{new}")
    lines = difflib.unified_diff(
        before["yaml"].splitlines(keepends=True),
        after["yaml"].splitlines(keepends=True),
        fromfile=f"{campaign} v{before['version']}",
        tofile=f"{campaign} v{after['version']}",
    )
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    if output is Output.JSON:
        print_json(
            {
                "campaign": campaign,
                "from_version": before["version"],
                "to_version": after["version"],
                "from_spec_hash": before["spec_hash"],
                "to_spec_hash": after["spec_hash"],
                "diff": text,
            }
        )
        return
    console.print(text, markup=False, highlight=False, end="")


spec_app.command("validate")(validate)

# The alias holds the very same commands (typer keeps one list per app, so it is filled from
# the registered ones rather than shared).
specs_app.registered_commands = spec_app.registered_commands
