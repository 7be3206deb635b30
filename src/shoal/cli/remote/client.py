"""A small REST client for Shoal's API, with errors turned into CLI messages."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from shoal.cli.output import fail, output_is_json
from shoal.cli.remote.profile import Profile, load_profile

if TYPE_CHECKING:
    import httpx

# httpx and the spec package are imported where they are used: every command module imports
# this one, and `shoal --help` needs neither.

__all__ = [
    "LOGIN_HINT",
    "ApiClient",
    "Page",
    "client",
    "display_url",
    "normalize_url",
]

API_PATH = "/api/v1"
# Where a token should come from: never the command line, where the process list and the
# shell's history keep it.
LOGIN_HINT = (
    "run `shoal login --url URL` and paste the token when asked (or set SHOAL_TOKEN); "
    "create one on the server with `shoal admin create-token`"
)


@dataclass(frozen=True)
class Page:
    """One page of a list route: its items, how many match on every page (when the route says)
    and the query parameters of the next page (None when this is the last page)."""

    items: list[dict[str, Any]]
    total: int | None
    next: dict[str, str] | None


def display_url(url: str) -> str:
    """The URL without user and password, for messages."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    if parsed.userinfo:
        return str(parsed.copy_with(username=None, password=None))
    return url


def normalize_url(raw: str) -> tuple[str, list[str]]:
    """The server's base URL as the client uses it, and what was changed to get it.

    `127.0.0.1:8420` gets `http://`; a trailing `/api/v1` (the API's path, which the client
    adds itself) is dropped. Anything that is not an http(s) URL is refused.
    """
    import httpx

    url = raw.strip().rstrip("/")
    notes: list[str] = []
    if "://" not in url:
        url = f"http://{url}"
        notes.append(f"no scheme given: using {display_url(url)}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        fail(
            f"{raw!r} is not a URL: {exc}",
            hint="give the server's base URL, e.g. http://127.0.0.1:8420",
        )
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        fail(
            f"{display_url(raw)!r} is not an http(s) URL of a Shoal server",
            hint="give the server's base URL, e.g. http://127.0.0.1:8420",
        )
    if url.endswith(API_PATH):
        url = url.removesuffix(API_PATH).rstrip("/")
        notes.append(f"the client adds {API_PATH} itself: using {display_url(url)}")
    return url, notes


class ApiClient:
    def __init__(self, profile: Profile, *, timeout: float = 30.0) -> None:
        import httpx

        self._http = httpx.Client(
            base_url=f"{profile.url}{API_PATH}",
            headers={"Authorization": f"Bearer {profile.token}", "User-Agent": "shoal-cli"},
            timeout=timeout,
        )
        # Connections close when the client is dropped, at the latest when the command ends.
        weakref.finalize(self, self._http.close)
        self.url = display_url(profile.url)

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The response of a successful request; any failure ends the command with a message
        that names the server (never its credentials)."""
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            fail(
                f"the Shoal API at {self.url} did not answer in time ({type(exc).__name__})",
                hint="is the server overloaded or behind a slow proxy? try again",
                error_code="timeout",
            )
        except httpx.HTTPError as exc:
            fail(
                f"cannot reach the Shoal API at {self.url}: {type(exc).__name__}",
                hint="is the server running (`shoal up`)? is the URL right (`shoal login`)?",
                error_code="unreachable",
            )
        if response.status_code >= 400:
            _raise_api_error(self.url, response)
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.send(method, path, **kwargs)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def get(self, path: str, /, **params: Any) -> Any:
        # `path` is positional-only so a query parameter may be called `path` too.
        return self.request("GET", path, params=_params(params))

    def page(self, path: str, /, **params: Any) -> Page:
        """A list route's page, with the paging the API sends in headers (`X-Total-Count`,
        `Link: <...>; rel="next"`)."""
        response = self.send("GET", path, params=_params(params))
        total = response.headers.get("x-total-count")
        link = response.links.get("next", {}).get("url")
        nxt = None
        if link:
            import httpx

            asked = httpx.URL(link).params
            nxt = {k: v for k, v in asked.items() if k in {"after", "before"}}
        return Page(list(response.json()), int(total) if total else None, nxt)

    def probe_page(self, path: str, /, *, limit: int, **params: Any) -> Page:
        """A page of a list route that sends no paging headers: one item more than shown is
        asked for, so a cut list is known; the next page starts after the last id shown."""
        found: list[dict[str, Any]] = self.get(path, **params, limit=limit + 1)
        if len(found) <= limit:
            return Page(found, None, None)
        return Page(found[:limit], None, {"after": str(found[limit - 1]["id"])})

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.request("POST", path, json=body)

    def download(self, path: str, out: IO[bytes], /, **params: Any) -> None:
        """Copy a GET answer's body to `out` as it arrives (an export of any size)."""
        import httpx

        try:
            with self._http.stream("GET", path, params=_params(params), timeout=None) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    _raise_api_error(self.url, answer)
                for chunk in answer.iter_bytes():
                    out.write(chunk)
        except httpx.HTTPError as exc:
            fail(
                f"the download from the Shoal API at {self.url} failed: {type(exc).__name__}",
                hint="is the server running (`shoal up`)? is the URL right (`shoal login`)?",
                error_code="unreachable",
            )

    def close(self) -> None:
        self._http.close()


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def _raise_api_error(url: str, response: httpx.Response) -> None:
    try:
        error = response.json()["error"]
        code, message, details = error["code"], error["message"], error.get("details") or {}
    except (ValueError, KeyError, TypeError):
        # Not Shoal's error shape: a proxy, another service on that port, a wrong path.
        fail(
            f"{url} answered {response.status_code} to {response.request.method} "
            f"{response.request.url.path}: {response.text[:200]}",
            hint="is this the URL of a Shoal server (`shoal login --url URL`)?",
            error_code="not_shoal",
        )
    route = f"{response.request.method} {response.request.url.path}"
    if response.status_code == 404 and message == "Not Found":
        # The server's generic answer for a path no route has: the URL is wrong, not the name
        # of a campaign or run (those 404s say what was not found).
        fail(
            f"{url} answered 404 to {route}: no such API route",
            hint="is this the base URL of a Shoal server (`shoal login --url URL`)?",
            error_code="not_shoal",
        )
    hint = {
        "unauthenticated": f"the token was revoked or is unknown to {url}: {LOGIN_HINT}",
        "forbidden": "ask an admin for a token with the needed role",
    }.get(code)
    lines = [message]
    for problem in details.get("errors", []):
        lines.append(f"  - {_render_problem(problem)}")
    if response.status_code >= 500:
        lines[0] = f"{url} answered {response.status_code}: {message}"
    if output_is_json():
        # The server's error body as it came (the problems are in its details already).
        fail(message, hint=hint, error_code=code, details=details)
    fail("\n".join(lines), hint=hint)


def _render_problem(problem: dict[str, Any]) -> str:
    # Spec issues and request problems share the shape; one renderer serves both.
    from shoal.spec import SpecIssue

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
            hint="run `shoal login --url URL` (it asks for the token) or set SHOAL_URL and "
            "SHOAL_TOKEN",
            error_code="not_logged_in",
        )
    url, _ = normalize_url(profile.url)
    return ApiClient(Profile(url=url, token=profile.token))
