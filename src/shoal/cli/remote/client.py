"""A small REST client for Shoal's API, with errors turned into CLI messages."""

from __future__ import annotations

from typing import Any

import httpx

from shoal.cli.output import fail
from shoal.cli.remote.profile import Profile, load_profile
from shoal.spec import SpecIssue

__all__ = ["ApiClient", "client"]


class ApiClient:
    def __init__(self, profile: Profile, *, timeout: float = 30.0) -> None:
        self._http = httpx.Client(
            base_url=f"{profile.url}/api/v1",
            headers={"Authorization": f"Bearer {profile.token}", "User-Agent": "shoal-cli"},
            timeout=timeout,
        )
        self.url = profile.url

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            fail(
                f"cannot reach the Shoal API at {self.url}: {type(exc).__name__}",
                hint="is the server running (`shoal up`)? is the URL right (`shoal login`)?",
            )
        if response.status_code >= 400:
            _raise_api_error(response)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def get(self, path: str, /, **params: Any) -> Any:
        # `path` is positional-only so a query parameter may be called `path` too.
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, json=body)


def _raise_api_error(response: httpx.Response) -> None:
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error["message"], error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        fail(f"the API answered {response.status_code}: {response.text[:200]}")
    hint = {
        "unauthenticated": "log in again with `shoal login --url URL --token TOKEN`",
        "forbidden": "ask an admin for a token with the needed role",
    }.get(code)
    lines = [message]
    for problem in details.get("errors", []):
        lines.append(f"  - {_render_problem(problem)}")
    fail("\n".join(lines), hint=hint)


def _render_problem(problem: dict[str, Any]) -> str:
    # Spec issues and request problems share the shape; one renderer serves both.
    return SpecIssue(
        path=problem.get("path") or "",
        message=problem["message"],
        line=problem.get("line"),
        column=problem.get("column"),
    ).render()


def client() -> ApiClient:
    profile = load_profile()
    if profile is None:
        fail(
            "not logged in to a Shoal server",
            hint="run `shoal login --url URL --token TOKEN` (or set SHOAL_URL and SHOAL_TOKEN)",
        )
    return ApiClient(profile)
