"""Mutations sent through an `InstallationClient`, each remembered as a domain `Mutation` so
the caller can write one audit row per GitHub mutation, refused ones included.

A mutation is recorded once GitHub may have seen it: it answered (any status), or the
connection failed mid-way (status None: the outcome is unknown); the error's `answer` says
which. An answer the call path sends again by itself (a rate limit, an expired token) is one
more record. Refusals that never left the process (the governor's own "not now", no Redis,
no token) have no answer: they are not GitHub mutations and are not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shoal.domain.errors import ShoalError
from shoal.domain.mutations import Answer, Mutation
from shoal.github.calls import GRAPHQL_ROUTE, Reply
from shoal.github.errors import classify_graphql_errors
from shoal.github.installation import InstallationClient

__all__ = ["MutationLog"]


class MutationLog:
    """Sends mutations for one installation and keeps their records in order."""

    def __init__(self, client: InstallationClient) -> None:
        self._client = client
        self._records: list[Mutation] = []

    @property
    def records(self) -> tuple[Mutation, ...]:
        return tuple(self._records)

    def take(self) -> tuple[Mutation, ...]:
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
            self._fail(record, refused, refused.answer)
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
            self._fail(record, error, error.answer)
            raise
        payload = reply.data.get(field)
        if reply.errors or not isinstance(payload, dict):
            refused = classify_graphql_errors(reply.errors, {}, now=self._client.clock.now())
            # GraphQL refuses with HTTP 200 and the request id of that response.
            refused.answer = Answer(GRAPHQL_ROUTE, 200, reply.request_id)
            refused.details.setdefault("request_id", reply.request_id)
            self._fail(record, refused, refused.answer)
            raise refused
        self._records.append(record.done(200, reply.request_id, ok=True))
        return payload

    def _refused(self, record: _Pending) -> Callable[[ShoalError], None]:
        """Records an attempt GitHub refused and the call path sent again (a rate limit)."""
        return lambda error: self._fail(record, error, error.answer)

    def _fail(self, record: _Pending, error: ShoalError, answer: Answer | None) -> None:
        if answer is None:  # it never left the process
            return
        self._records.append(
            record.done(answer.status, answer.request_id, ok=False, error_code=error.code)
        )


@dataclass(frozen=True, slots=True)
class _Pending:
    operation: str
    method: str
    endpoint: str
    repo: str

    def done(
        self,
        status: int | None,
        request_id: str | None,
        *,
        ok: bool,
        error_code: str | None = None,
    ) -> Mutation:
        return Mutation(
            operation=self.operation,
            method=self.method,
            endpoint=self.endpoint,
            repo=self.repo,
            status=status,
            request_id=request_id,
            ok=ok,
            error_code=error_code,
        )
