"""How a REST route is declared and run: auth, limits, permissions, ETags, ledger, headers.

A route is a plain synchronous function ``(Ctx) -> Reply`` registered on a :class:`Router`
with its method, GitHub path template, who may call it (``auth``) and its docs URL. The
dispatcher around it does everything GitHub does to every request, so adding an endpoint
is only the function (see ``docs/simulator.md``).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import URL, QueryParams
from starlette.requests import Request

from shoal_sim.errors import (
    GitHubError,
    Moved,
    body_too_large,
    not_accessible,
    not_found,
    problems_parsing_json,
)
from shoal_sim.paging import paginate
from shoal_sim.simulator import Simulator
from shoal_sim.state.access import (
    Access,
    AppCaller,
    Caller,
    InstallationCaller,
    UserCaller,
    granted_level,
    repo_access,
)
from shoal_sim.state.models import Repo
from shoal_sim.urls import Urls


class Auth(enum.Enum):
    JWT = "jwt"  # App JWT only ("You must use a JWT")
    TOKEN = "token"  # noqa: S105 - installation token, PAT or anonymous
    INSTALLATION = "installation"  # installation token only
    USER = "user"  # personal access token only
    ANY = "any"  # everyone, App JWTs and anonymous callers included (GET /rate_limit)
    OPEN = "open"  # anyone, anonymous included: paths GitHub does not route (404)


@dataclass
class Reply:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # non-JSON bodies (tarballs)


@dataclass
class Ctx:
    sim: Simulator
    caller: Caller
    params: dict[str, str]
    query: QueryParams
    body: Any
    urls: Urls
    url: URL
    origin: str
    request_id: str
    client_host: str = ""
    repo_name: str | None = None
    accept: str = ""  # the request's Accept header (custom media types)
    method: str = "GET"

    @property
    def now(self) -> float:
        return self.sim.clock.time()

    def json_object(self) -> dict[str, Any]:
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise problems_parsing_json()
        return self.body

    def repo(self, permission: str = "metadata", level: str = "read") -> Repo:
        """The repository named by the path, if the caller may use ``permission`` on it."""
        world = self.sim.world
        repo = world.find_repo(self.params["owner"], self.params["repo"])
        if repo is None:
            renamed = world.find_renamed(self.params["owner"], self.params["repo"])
            if (
                renamed is not None
                and repo_access(world, self.caller, renamed, "metadata", "read")
                is not Access.HIDDEN
            ):
                raise self._moved(renamed)
            raise not_found()
        self.repo_name = repo.full_name
        outcome = repo_access(world, self.caller, repo, permission, level)
        if outcome is Access.HIDDEN:
            raise not_found()
        if outcome is Access.DENIED:
            by = "personal access token" if isinstance(self.caller, UserCaller) else "integration"
            raise not_accessible(f"{permission}={granted_level(level)}", by=by)
        if level != "read" and repo.archived:
            raise GitHubError(403, "Repository was archived so is read-only.")
        return repo

    def _moved(self, repo: Repo) -> Moved:
        old = f"/repos/{self.params['owner']}/{self.params['repo']}"
        path = self.url.path
        start = path.find(old)
        rest = path[start + len(old) :] if start >= 0 else ""
        query = f"?{self.url.query}" if self.url.query else ""
        location = self.urls.api_url(f"/repositories/{repo.id}{rest}{query}")
        return Moved(location, permanent=self.method in ("GET", "HEAD"))

    def page(self, items: Sequence[Any], status: int = 200) -> Reply:
        chunk, link = paginate(items, self.query, self.url, self.origin)
        return Reply(list(chunk), status, {"link": link} if link else {})


Handler = Callable[[Ctx], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # GitHub's template, e.g. "/repos/{owner}/{repo}/git/ref/{ref}"
    handler: Handler
    auth: Auth
    docs: str  # path under https://docs.github.com/rest/
    creates_content: bool = False
    starlette_path: str = ""
    # Credential exchanges (minting or revoking an installation token) change no repository,
    # org or App state a client could be audited for, so the mutation ledger leaves them out.
    ledgered: bool = True
    resource: str = "core"  # the primary rate-limit budget it spends (core, search)

    @property
    def operation(self) -> str:
        return f"{self.method} {self.path}"


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        auth: Auth = Auth.TOKEN,
        docs: str,
        creates_content: bool = False,
        converters: dict[str, str] | None = None,
        ledgered: bool = True,
        resource: str = "core",
    ) -> Callable[[Handler], Handler]:
        starlette_path = path
        for name, conv in (converters or {}).items():
            starlette_path = starlette_path.replace(f"{{{name}}}", f"{{{name}:{conv}}}")

        def register(handler: Handler) -> Handler:
            self.routes.append(
                Route(
                    method,
                    path,
                    handler,
                    auth,
                    docs,
                    creates_content,
                    starlette_path,
                    ledgered,
                    resource,
                )
            )
            return handler

        return register


def check_auth_kind(route: Route, caller: Caller) -> None:
    """Refuse callers the endpoint does not accept, with GitHub's answers."""
    match route.auth:
        case Auth.JWT:
            if not isinstance(caller, AppCaller):
                # An installation token is not a JWT; GitHub fails to decode it as one.
                raise GitHubError(
                    401,
                    "A JSON web token could not be decoded",
                    docs="https://docs.github.com/rest",
                )
        case Auth.INSTALLATION:
            if not isinstance(caller, InstallationCaller):
                raise GitHubError(
                    403,
                    "You must authenticate with an installation access "
                    "token in order to list repositories for an installation.",
                )
        case Auth.USER:
            if isinstance(caller, InstallationCaller | AppCaller):
                raise GitHubError(403, "Resource not accessible by integration")
        case Auth.TOKEN:
            if isinstance(caller, AppCaller):
                raise GitHubError(403, "Resource not accessible by integration")
        case Auth.ANY | Auth.OPEN:
            pass


# The largest request body taken: the contents API writes files of up to 100 MB, which
# travel base64-encoded in a JSON body (about 134 MB). Bigger bodies are refused before
# more is read.
MAX_BODY_BYTES = 140 * 1024 * 1024


async def read_body(request: Request, *, limit: int | None = None) -> bytes:
    """The request's body, refused with 413 past `limit` bytes (:data:`MAX_BODY_BYTES`
    unless given; as declared by ``content-length``, or as received when the body is
    chunked)."""
    if limit is None:
        limit = MAX_BODY_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise body_too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise body_too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def parse_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise problems_parsing_json() from exc
