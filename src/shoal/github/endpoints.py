"""Where GitHub is: the REST base (GitHub.com or GHES `/api/v3`), the GraphQL URL derived from
it, and how a route template plus parameters becomes a URL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

import httpx

__all__ = ["GitHubEndpoints", "expand_route", "same_origin"]

# Parameters that may hold a slash GitHub expects unescaped (`feature/x`, `docs/a.md`).
_SLASHED_PARAMS = frozenset({"ref", "path", "branch"})


@dataclass(frozen=True, slots=True)
class GitHubEndpoints:
    api_url: str
    graphql_url: str

    @classmethod
    def from_api_url(cls, api_url: str, graphql_url: str | None = None) -> GitHubEndpoints:
        """GitHub.com: `https://api.github.com` -> `/graphql`; GHES: `https://HOST/api/v3`
        -> `https://HOST/api/graphql`. An explicit `graphql_url` wins."""
        api = api_url.rstrip("/")
        if graphql_url:
            return cls(api, graphql_url)
        url = httpx.URL(api)
        path = url.path.rstrip("/")
        if path.endswith("/api/v3"):
            path = path.removesuffix("/v3")
        return cls(api, str(url.copy_with(path=path + "/graphql")))

    @property
    def base(self) -> httpx.URL:
        return httpx.URL(self.api_url + "/")


def expand_route(
    base: httpx.URL,
    route: str,
    path: Mapping[str, str | int] | None = None,
    params: Mapping[str, str | int] | None = None,
) -> httpx.URL:
    """`/repos/{owner}/{repo}` with `{"owner": "acme", "repo": "api"}` under `base` (whose path
    ends in `/`, and is kept: a GHES base is `/api/v3/`)."""
    values = {
        name: quote(str(value), safe="/" if name in _SLASHED_PARAMS else "")
        for name, value in (path or {}).items()
    }
    relative = route.format_map(values).lstrip("/")
    url = base.copy_with(raw_path=base.raw_path + relative.encode())
    return url.copy_merge_params(dict(params)) if params else url


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)
