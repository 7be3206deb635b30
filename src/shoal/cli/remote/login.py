"""`shoal login`."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer

from shoal.cli.output import console, fail
from shoal.cli.remote.profile import Profile, save_profile

__all__ = ["login"]


def login(
    url: Annotated[
        str, typer.Option(help="Base URL of the Shoal server, e.g. http://127.0.0.1:8420")
    ],
    token: Annotated[
        str,
        typer.Option(
            help="An API token (from `shoal admin create-token`). Leave it out to be asked "
            "for it without echo, or set SHOAL_TOKEN: a token in the command line shows in the "
            "process list and the shell's history.",
            envvar="SHOAL_TOKEN",
            prompt="API token",
            hide_input=True,
        ),
    ],
) -> None:
    """Check the URL and token against the server and store them (file mode 0600)."""
    profile = Profile(url=url.rstrip("/"), token=token)
    try:
        response = httpx.get(
            f"{profile.url}/api/v1/campaigns",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {profile.token}"},
            timeout=15,
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach {profile.url}: {type(exc).__name__}", hint="is `shoal up` running?")
    if response.status_code == 401:
        fail("the server rejected this token", hint="create one with `shoal admin create-token`")
    if response.status_code >= 400:
        fail(f"the server answered {response.status_code}")
    path = save_profile(profile)
    console.print(f"Logged in to {profile.url}; settings saved to {path}")
