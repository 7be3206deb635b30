"""What Shoal does as one installation of its App: REST and GraphQL calls, the repository
list, tarballs, and the token for git over HTTP. Everything goes through one `Caller`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import SecretStr

from shoal.domain.clock import Clock
from shoal.domain.errors import ShoalError
from shoal.github import archives
from shoal.github.auth import TokenCache
from shoal.github.calls import GRAPHQL_ROUTE, Call, Caller, Reply
from shoal.github.errors import GitHubGraphQLError, classify_graphql_errors
from shoal.governor import CallKind

__all__ = ["GraphQLCharger", "GraphQLReply", "InstallationClient"]

PER_PAGE = 100


class GraphQLCharger(Protocol):
    def charge(self, installation_id: int, *, kind: CallKind, cost: int) -> None: ...


@dataclass(frozen=True, slots=True)
class GraphQLReply:
    """`data` with the `errors` GitHub returned next to it (e.g. NOT_FOUND for one alias).
    `cost` is `rateLimit.cost` when the query asked for it; `request_id` is GitHub's
    `x-github-request-id` (audit rows of mutations quote it)."""

    data: dict[str, Any]
    errors: tuple[dict[str, Any], ...]
    cost: int | None
    request_id: str | None = None


class InstallationClient:
    def __init__(
        self,
        installation_id: int,
        *,
        caller: Caller,
        tokens: TokenCache,
        graphql_url: str,
        governor: GraphQLCharger,
        clock: Clock,
    ) -> None:
        self.installation_id = installation_id
        self._caller = caller
        self._tokens = tokens
        self._graphql_url = graphql_url
        self._governor = governor
        self._clock = clock

    @property
    def clock(self) -> Clock:
        """The clock errors are timed by (a GraphQL rate limit's `retry_at`)."""
        return self._clock

    def token(self) -> SecretStr:
        """The installation token, for git over HTTP (`http.extraHeader`). Never log it."""
        return self._tokens.get(self.installation_id).token

    def git_failed(self, exc: ShoalError) -> None:
        """Hear of a failed git fetch or push with `token()`: counted in the GitHub error
        metrics, and a rate limit pauses this installation's calls."""
        self._caller.git_failed(exc)

    # -- REST ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        route: str,
        *,
        path: Mapping[str, str | int] | None = None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        kind: CallKind | None = None,
        on_retried: Callable[[ShoalError], None] | None = None,
    ) -> Reply:
        """Any REST call, e.g. `request("POST", "/repos/{owner}/{repo}/pulls", path=...,
        json=...)`. Error statuses raise typed errors; GETs are conditional (ETag).
        `on_retried` hears of each error answer the call path sent again by itself."""
        return self._caller.call(
            Call(
                method,
                route,
                path=path or {},
                params=params,
                json=json,
                kind=kind,
                on_retried=on_retried,
            )
        )

    def paginate(
        self,
        route: str,
        *,
        path: Mapping[str, str | int] | None = None,
        params: Mapping[str, str | int] | None = None,
        items: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a paginated GET (100 per page, following `Link: rel="next"`);
        `items` names the list in an object body (`repositories`)."""
        call = Call("GET", route, path=path or {}, params={"per_page": PER_PAGE, **(params or {})})
        while True:
            reply = self._caller.call(call)
            body = reply.json()
            yield from body[items] if items else body
            next_url = reply.next_url()
            if not next_url:
                return
            call = Call("GET", route, url=next_url)

    def installation_repositories(self) -> Iterator[dict[str, Any]]:
        return self.paginate("/installation/repositories", items="repositories")

    def get_repo(self, owner: str, name: str) -> dict[str, Any]:
        body = self.request("GET", "/repos/{owner}/{repo}", path={"owner": owner, "repo": name})
        return dict(body.json())

    def download_tarball(
        self, owner: str, name: str, ref: str, dest: Path, *, max_bytes: int
    ) -> int:
        return archives.download_tarball(self._caller, owner, name, ref, dest, max_bytes=max_bytes)

    # -- GraphQL ------------------------------------------------------------------------

    def graphql_with_errors(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        kind: CallKind = "graphql",
        on_retried: Callable[[ShoalError], None] | None = None,
    ) -> GraphQLReply:
        """Run a query; errors that come with data (a missing repository behind one alias)
        are returned, not raised. A response without data raises its typed error.

        Mutations pass `kind="write"`: the governor then paces them with the other writes
        (GitHub's content-creation limits count GraphQL mutations too)."""
        reply = self._caller.call(
            Call(
                "POST",
                GRAPHQL_ROUTE,
                url=self._graphql_url,
                json={"query": query, "variables": dict(variables or {})},
                kind=kind,
                revalidate=False,
                on_retried=on_retried,
            )
        )
        body = reply.json()
        body = body if isinstance(body, dict) else {}
        errors = tuple(e for e in body.get("errors") or () if isinstance(e, dict))
        data = body.get("data")
        if not isinstance(data, dict):
            if errors:
                raise classify_graphql_errors(errors, reply.headers, now=self._clock.now())
            raise GitHubGraphQLError("graphql: a response without data or errors", errors=())
        cost = _cost(data)
        if cost is not None and cost > 1 and "x-ratelimit-remaining" not in reply.headers:
            # The governor charged one point up front; without headers to correct it, the
            # query's own report is the truth.
            self._governor.charge(self.installation_id, kind="graphql", cost=cost - 1)
        return GraphQLReply(data, errors, cost, reply.request_id)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run a query; any error in the response raises its typed error."""
        reply = self.graphql_with_errors(query, variables)
        if reply.errors:
            raise classify_graphql_errors(reply.errors, {}, now=self._clock.now())
        return reply.data


def _cost(data: Mapping[str, Any]) -> int | None:
    rate = data.get("rateLimit")
    cost = rate.get("cost") if isinstance(rate, dict) else None
    return cost if isinstance(cost, int) else None
