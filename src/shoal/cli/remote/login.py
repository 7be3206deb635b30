"""`shoal login`."""

from __future__ import annotations

from typing import Annotated

import typer

from shoal.cli.output import console, err_console, fail
from shoal.cli.remote.client import API_PATH, LOGIN_HINT, display_url, normalize_url
from shoal.cli.remote.profile import Profile, save_profile

__all__ = ["login"]


def login(
    url: Annotated[
        str,
        typer.Option(
            help="Base URL of the Shoal server, e.g. http://127.0.0.1:8420 (http:// is added "
            "when no scheme is given; a trailing /api/v1 is dropped)."
        ),
    ],
    token: Annotated[
        str | None,
        typer.Option(
            help="An API token (from `shoal admin create-token`). Leave it out to be asked "
            "for it without echo, or set SHOAL_TOKEN: a token in the command line shows in the "
            "process list and the shell's history.",
            envvar="SHOAL_TOKEN",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    """Check the URL and token against the server and store them (file mode 0600)."""
    base, notes = normalize_url(url)
    for note in notes:
        err_console.print(f"note: {note}", highlight=False, markup=False)
    if not token:
        token = typer.prompt("API token", hide_input=True)
    shown = display_url(base)
    profile = Profile(url=base, token=token.strip())
    import httpx

    try:
        response = httpx.get(
            f"{profile.url}{API_PATH}/campaigns",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {profile.token}"},
            timeout=15,
        )
    except httpx.HTTPError as exc:
        fail(
            f"cannot reach the Shoal API at {shown}: {type(exc).__name__}",
            hint="is the server running (`shoal up`)? is the URL right?",
        )
    if response.status_code == 401:
        fail(f"{shown} rejected this token (unknown or revoked)", hint=LOGIN_HINT)
    if response.status_code == 404:
        fail(
            f"{shown} has no Shoal API at {API_PATH} (404)",
            hint="give the base URL the server prints at start, e.g. http://127.0.0.1:8420",
        )
    if response.status_code >= 400:
        fail(f"{shown} answered {response.status_code} to GET {API_PATH}/campaigns")
    path = save_profile(profile)
    console.print(f"Logged in to {shown}; settings saved to {path}")
