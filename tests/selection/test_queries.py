"""How replies are read: per-alias NOT_FOUND is data, anything else is a typed error."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from shoal.domain.clock import FrozenClock
from shoal.domain.errors import ShoalError
from shoal.selection import (
    GitHubQueryError,
    GitHubQueryUnavailableError,
    GraphQLReply,
    fetch_source,
)
from shoal.selection.queries import Meter, run_query
from shoal.spec.selection import OrgSource, ReposSource
from tests.selection.conftest import GENERATED, SimReader


class CannedReader:
    """Answers every GraphQL request with one canned reply and records the documents."""

    def __init__(self, reply: GraphQLReply) -> None:
        self.reply = reply
        self.queries: list[str] = []

    def installations(self) -> Mapping[str, int]:
        return {"acme": 1}

    def graphql(
        self, installation_id: int, query: str, variables: Mapping[str, Any]
    ) -> GraphQLReply:
        self.queries.append(query)
        return self.reply

    def installation_repositories(self, installation_id: int) -> Iterator[dict[str, Any]]:
        return iter(())


def test_not_found_of_one_alias_is_data() -> None:
    reply = GraphQLReply(
        data={"rateLimit": {"cost": 3}, "r0": None, "r1": {"name": "x"}},
        errors=[{"type": "NOT_FOUND", "path": ["r0"], "message": "Could not resolve"}],
    )
    meter = Meter()
    answer = run_query(CannedReader(reply), 1, meter, "query { x }", {})
    assert answer.missing("r0") == reply.errors[0]
    assert answer.missing("r1") is None
    assert (meter.requests, meter.graphql_points) == (1, 3)


@pytest.mark.parametrize(
    ("errors", "kind", "retryable"),
    [
        (
            [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}],
            GitHubQueryUnavailableError,
            True,
        ),
        ([{"message": "Field 'x' doesn't exist on type 'Query'"}], GitHubQueryError, False),
        # NOT_FOUND where data is not null is not about a missing item.
        ([{"type": "NOT_FOUND", "path": ["r1"], "message": "?"}], GitHubQueryError, False),
    ],
    ids=["rate-limited-retryable", "invalid-document", "not-found-on-present-data"],
)
def test_other_errors_raise_typed(
    errors: list[dict[str, Any]], kind: type[ShoalError], retryable: bool
) -> None:
    reader = CannedReader(GraphQLReply(data={"r1": {"name": "x"}}, errors=errors))
    with pytest.raises(kind) as raised:
        run_query(reader, 1, Meter(), "query { x }", {})
    assert raised.value.retryable is retryable


def test_forbidden_alias_is_not_accessible() -> None:
    reply = GraphQLReply(
        data={"rateLimit": {"cost": 1}, "r0": None},
        errors=[{"type": "FORBIDDEN", "path": ["r0"], "message": "SAML enforcement"}],
    )
    reader = CannedReader(reply)
    result = fetch_source(
        0,
        ReposSource(repos=["acme/api"]),
        reader,
        reader.installations(),
        clock=FrozenClock(datetime(2026, 1, 1, tzinfo=UTC)),
    )
    [report] = result.unreachable
    assert report.reason == "not accessible: SAML enforcement"


class UserAccountReader:
    """The real simulator, except that `organization(login:)` answers as GitHub does for a
    user account: null plus NOT_FOUND (the simulator cannot seed App installations on users)."""

    def __init__(self, inner: SimReader) -> None:
        self.inner = inner

    def installations(self) -> Mapping[str, int]:
        return self.inner.installations()

    def graphql(
        self, installation_id: int, query: str, variables: Mapping[str, Any]
    ) -> GraphQLReply:
        if "organization(login:" in query:
            return GraphQLReply(
                data={"rateLimit": {"cost": 1}, "org": None},
                errors=[{"type": "NOT_FOUND", "path": ["org"], "message": "not an organization"}],
            )
        return self.inner.graphql(installation_id, query, variables)

    def installation_repositories(self, installation_id: int) -> Iterator[dict[str, Any]]:
        return self.inner.installation_repositories(installation_id)


def test_org_source_on_a_user_account_lists_its_installation(
    reader: SimReader, clock: FrozenClock
) -> None:
    user = UserAccountReader(reader)
    source = OrgSource(org="acme", topics=["core"], include_archived=True)
    result = fetch_source(0, source, user, user.installations(), clock=clock)
    assert [m.full_name for m in result.candidates] == ["acme/gateway", "acme/widgets"]
    assert len(result.rejected) == GENERATED + 5
    # 1 refused organization query, 13 REST pages, 4 nodes(ids:) requests.
    assert result.usage.requests == 1 + 13 + 4
