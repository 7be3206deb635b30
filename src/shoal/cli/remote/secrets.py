"""`shoal secrets list|set|delete|grant|revoke`: step secrets' values (write-only) and which
campaigns and orgs may use them."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from shoal.cli.output import Output, OutputOpt, console, fail, print_json, print_table
from shoal.cli.remote.client import client

__all__ = ["secrets_app"]

secrets_app = typer.Typer(
    help="Step secrets: set their values (stored sealed, never shown) and grant them to "
    "campaigns or orgs.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="The secret's name, as steps list it.")]
CampaignOpt = Annotated[
    str | None, typer.Option("--campaign", help="The campaign's name (it may not exist yet).")
]
OrgOpt = Annotated[
    str | None, typer.Option("--org", help="An org: any campaign, in that org's repositories.")
]


def _target(campaign: str | None, org: str | None) -> tuple[str, str]:
    if (campaign is None) == (org is None):
        fail("name exactly one of --campaign CAMPAIGN or --org ORG")
    return ("campaign", campaign) if campaign is not None else ("org", org or "")


def _who(change: dict[str, Any]) -> str:
    return (
        f"campaign {change['subject']}"
        if change["scope"] == "campaign"
        else (f"org {change['subject']}")
    )


@secrets_app.command("list")
def list_secrets(output: OutputOpt = Output.TABLE) -> None:
    """Every secret configured on the server or granted, with its grants (never values)."""
    found = client().get("/secrets")
    if output is Output.JSON:
        print_json(found)
        return
    rows = []
    for secret in found["secrets"]:
        configured = {True: "yes", False: "no", None: "?"}[secret["configured"]]
        stored = "yes" if secret.get("stored") else "no"
        grants = secret["grants"] or [None]
        for grant in grants:
            rows.append(
                [
                    secret["name"],
                    stored,
                    configured,
                    f"{grant['scope']}:{grant['subject']}" if grant else "(not granted)",
                    grant["granted_by"] if grant else "",
                    grant["granted_at"][:19] if grant else "",
                ]
            )
    print_table(None, ["SECRET", "STORED", "FILE", "GRANTED TO", "BY", "AT"], rows)


@secrets_app.command("grant")
def grant(
    name: NameArg,
    campaign: CampaignOpt = None,
    org: OrgOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Let a campaign (or any campaign, in an org's repositories) use a secret (admin; audited)."""
    scope, subject = _target(campaign, org)
    change = client().request("PUT", f"/secrets/{name}/grants/{scope}/{subject}")
    if output is Output.JSON:
        print_json(change)
    elif change["changed"]:
        console.print(f"secret {change['secret']} granted to {_who(change)}")
    else:
        console.print(f"secret {change['secret']} was already granted to {_who(change)}")


@secrets_app.command("revoke")
def revoke(
    name: NameArg,
    campaign: CampaignOpt = None,
    org: OrgOpt = None,
    output: OutputOpt = Output.TABLE,
) -> None:
    """Take a grant back: executions that start from now fail instead of getting the secret."""
    scope, subject = _target(campaign, org)
    change = client().request("DELETE", f"/secrets/{name}/grants/{scope}/{subject}")
    if output is Output.JSON:
        print_json(change)
    elif change["changed"]:
        console.print(f"secret {change['secret']} revoked from {_who(change)}")
    else:
        console.print(f"secret {change['secret']} was not granted to {_who(change)}")


@secrets_app.command("set")
def set_value(name: NameArg, output: OutputOpt = Output.TABLE) -> None:
    """Set a secret's value (admin; audited without it). Read from stdin when piped, else asked
    for without echo: never from the command line, where the shell's history keeps it."""
    if sys.stdin.isatty():
        value = typer.prompt(f"value of {name}", hide_input=True, confirmation_prompt=True)
    else:
        # One trailing newline is how `echo` and files end, not part of the secret.
        value = sys.stdin.read().removesuffix("\n")
    if not value:
        fail("the value is empty: pipe it in (e.g. `shoal secrets set NAME < file`) or type it")
    change = client().request("PUT", f"/secrets/{name}", json={"value": value})
    if output is Output.JSON:
        print_json(change)
    elif change["replaced"]:
        console.print(f"secret {change['secret']} replaced (stored sealed)")
    else:
        console.print(f"secret {change['secret']} set (stored sealed)")


@secrets_app.command("delete")
def delete_value(name: NameArg, output: OutputOpt = Output.TABLE) -> None:
    """Delete a secret's stored value (admin; audited); a file of that name is used again."""
    change = client().request("DELETE", f"/secrets/{name}")
    if output is Output.JSON:
        print_json(change)
    elif change["changed"]:
        console.print(f"secret {change['secret']}'s stored value deleted")
    else:
        console.print(f"secret {change['secret']} had no stored value")
