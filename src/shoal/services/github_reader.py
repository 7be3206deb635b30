"""Selection's `GitHubReader` port, implemented with the GitHub adapter."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from shoal.github import GitHubApp
from shoal.selection import GraphQLReply

__all__ = ["AppReader"]


class AppReader:
    """Reads as Shoal's App: installations with the App JWT, the rest per installation."""

    def __init__(self, app: GitHubApp, *, max_wait_s: float = 30.0) -> None:
        self._app = app
        self._max_wait_s = max_wait_s

    def installations(self) -> Mapping[str, int]:
        return self._app.installations()

    def graphql(
        self, installation_id: int, query: str, variables: Mapping[str, Any]
    ) -> GraphQLReply:
        client = self._app.installation(installation_id, max_wait_s=self._max_wait_s)
        reply = client.graphql_with_errors(query, variables)
        return GraphQLReply(data=reply.data, errors=list(reply.errors))

    def installation_repositories(self, installation_id: int) -> Iterator[dict[str, Any]]:
        client = self._app.installation(installation_id, max_wait_s=self._max_wait_s)
        return client.installation_repositories()
