"""Mutations sent through an `InstallationClient`, each remembered as a `MutationRecord` so
the caller can write one audit row per GitHub mutation, refused ones included.

A mutation is recorded once GitHub may have seen it: it answered (any status), or the
connection failed mid-way (status None: the outcome is unknown). An answer the call path
sends again by itself (a rate limit, an expired token) is one more record. Refusals that never left
the process (the governor's own "not now", no Redis, no token) are not GitHub mutations and
are not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shoal.domain.errors import ShoalError
from shoal.github.calls import GRAPHQL_ROUTE, Reply
from shoal.github.errors import GitHubUnavailableError, classify_graphql_errors
from shoal.github.installation import InstallationClient

__all__ = ["MutationLog", "MutationRecord"]


@dataclass(frozen=True, slots=True)
class MutationRecord:
    """One GitHub mutation and its answer.

    `operation` names it the way GitHub's docs (and the simulator's ledger) do: the REST
    method and route template (`POST /repos/{owner}/{repo}/pulls`) or `mutation <field>`.
    `endpoint` is the route template (`graphql` for GraphQL). `status` is None when no
    answer came back; `ok` is True only when GitHub accepted the mutation. `error_code` is the
    Shoal error code of a refusal.
    """

    operation: str
    method: str
    endpoint: str
    repo: str
    status: int | None
    github_request_id: str | None
    ok: bool
    error_code: str | None = None


def _reached_github(error: ShoalError) -> bool:
    # Every error classified from a response carries its status; a transport failure is a
    # GitHubUnavailableError without one (the request may have been applied).
    return "status" in error.details or isinstance(error, GitHubUnavailableError)


class MutationLog:
    """Sends mutations for one installation and keeps their records in order."""

    def __init__(self, client: InstallationClient) -> None:
        self._client = client
        self._records: list[MutationRecord] = []

    @property
    def records(self) -> tuple[MutationRecord, ...]:
        return tuple(self._records)

    def take(self) -> tuple[MutationRecord, ...]:
        """The records so far, forgetting them (for a caller that audits in batches)."""
        taken, self._records = tuple(self._records), []
        return taken

    def rest(
        self,
        method: str,
        route: str,
        *,
        owner: str,
        name: str,
        path: Mapping[str, str | int] | None = None,
        json: Any = None,
        refusal: Callable[[ShoalError], ShoalError] | None = None,
    ) -> Reply:
        """A REST mutation on `owner/name` (`route` is filled with owner, repo and `path`).
        `refusal` turns GitHub's refusal into a more precise error before it is recorded
        and raised."""
        values: dict[str, str | int] = {"owner": owner, "repo": name, **(path or {})}
        record = _Pending(f"{method} {route}", method, route, f"{owner}/{name}")
        try:
            reply = self._client.request(
                method,
                route,
                path=values,
                json=json,
                kind="write",
                on_retried=self._refused(record),
            )
        except ShoalError as error:
            refused = refusal(error) if refusal is not None else error
            self._fail(record, refused, status=refused.details.get("status"))
            if refused is error:
                raise
            raise refused from error
        self._records.append(record.done(reply.status, reply.request_id, ok=True))
        return reply

    def graphql(
        self,
        field: str,
        document: str,
        variables: Mapping[str, Any],
        *,
        owner: str,
        name: str,
    ) -> dict[str, Any]:
        """A GraphQL mutation on `owner/name`; returns `data[field]`, raises its typed error."""
        record = _Pending(f"mutation {field}", "POST", GRAPHQL_ROUTE, f"{owner}/{name}")
        try:
            reply = self._client.graphql_with_errors(
                document, variables, kind="write", on_retried=self._refused(record)
            )
        except ShoalError as error:
            self._fail(record, error, status=error.details.get("status"))
            raise
        payload = reply.data.get(field)
        if reply.errors or not isinstance(payload, dict):
            refused = classify_graphql_errors(reply.errors, {}, now=self._client.clock.now())
            # GraphQL refuses with HTTP 200 and the request id of that response.
            refused.details.setdefault("request_id", reply.request_id)
            self._fail(record, refused, status=200)
            raise refused
        self._records.append(record.done(200, reply.request_id, ok=True))
        return payload

    def _refused(self, record: _Pending) -> Callable[[ShoalError], None]:
        """Records an attempt GitHub refused and the call path sent again (a rate limit)."""
        return lambda error: self._fail(record, error, status=error.details.get("status"))

    def _fail(self, record: _Pending, error: ShoalError, *, status: Any) -> None:
        if status is None and not _reached_github(error):
            return
        self._records.append(
            record.done(
                status if isinstance(status, int) else None,
                error.details.get("request_id"),
                ok=False,
                error_code=error.code,
            )
        )


@dataclass(frozen=True, slots=True)
class _Pending:
    operation: str
    method: str
    endpoint: str
    repo: str

    def done(
        self, status: int | None, request_id: Any, *, ok: bool, error_code: str | None = None
    ) -> MutationRecord:
        return MutationRecord(
            operation=self.operation,
            method=self.method,
            endpoint=self.endpoint,
            repo=self.repo,
            status=status,
            github_request_id=request_id if isinstance(request_id, str) else None,
            ok=ok,
            error_code=error_code,
        )
