"""`shoal secrets list|grant|revoke`: which campaigns and orgs may use which step secret."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shoal.cli.output import Output, OutputOpt, console, fail, print_json, print_table
from shoal.cli.remote.client import client

__all__ = ["secrets_app"]

secrets_app = typer.Typer(
    help="Step secrets: grant them to campaigns or orgs (names only; values stay in the "
    "secrets directory).",
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
        grants = secret["grants"] or [None]
        for grant in grants:
            rows.append(
                [
                    secret["name"],
                    configured,
                    f"{grant['scope']}:{grant['subject']}" if grant else "(not granted)",
                    grant["granted_by"] if grant else "",
                    grant["granted_at"][:19] if grant else "",
                ]
            )
    print_table(None, ["SECRET", "CONFIGURED", "GRANTED TO", "BY", "AT"], rows)


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
