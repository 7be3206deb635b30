"""The search source against the simulator over real HTTP, past 1,000 results."""

from __future__ import annotations

import pytest

from shoal.domain.clock import FrozenClock
from shoal.selection import FetchOptions, TargetCause, fetch_source
from shoal.spec.selection import SearchSource
from tests.selection.conftest import GENERATED, SimReader


def test_search_past_a_thousand_finds_everything_once(
    reader: SimReader, clock: FrozenClock
) -> None:
    result = fetch_source(
        0,
        SearchSource(search="org:acme topic:service"),
        reader,
        reader.installations(),
        clock=clock,
    )
    names = [m.full_name for m in result.candidates]
    assert len(names) == GENERATED
    assert len({m.github_id for m in result.candidates}) == GENERATED
    assert set(names) == {f"acme/svc-{i:04d}" for i in range(1, GENERATED + 1)}
    assert result.problems == ()
    assert result.unreachable == ()
    # 1 first page, a few rounds of count probes, then 13 pages 4 at a time.
    assert result.usage.requests == reader.graphql_requests
    assert result.usage.requests <= 9
    assert result.usage.graphql_points >= result.usage.requests
    assert all(m.installation_id is not None and m.head_sha for m in result.candidates)


def test_searches_per_request_trades_requests_for_size(
    reader: SimReader, clock: FrozenClock
) -> None:
    options = FetchOptions(searches_per_request=1)
    result = fetch_source(
        0,
        SearchSource(search="org:acme topic:service"),
        reader,
        reader.installations(),
        clock=clock,
        options=options,
    )
    assert len(result.candidates) == GENERATED
    assert result.usage.requests >= 13  # one page per request: at least 1,250 / 100


def test_small_search_is_one_request(reader: SimReader, clock: FrozenClock) -> None:
    result = fetch_source(
        3, SearchSource(search="org:acme topic:core"), reader, reader.installations(), clock=clock
    )
    assert [m.full_name for m in result.candidates] == ["acme/gateway", "acme/widgets"]
    gateway = result.candidates[0]
    assert (gateway.default_branch, gateway.language, gateway.topics) == ("trunk", "Go", ("core",))
    assert result.label == "on[3] (search)"
    assert result.usage.requests == 1 == reader.graphql_requests


def test_query_without_owner_runs_per_installation(reader: SimReader, clock: FrozenClock) -> None:
    result = fetch_source(
        0, SearchSource(search="topic:service"), reader, reader.installations(), clock=clock
    )
    names = {m.full_name for m in result.candidates}
    assert len([n for n in names if n.startswith("acme/")]) == GENERATED
    # initech's public repository matches too, but no installation of Shoal's App is there.
    assert "initech/tps" not in names
    assert {m.installation_id for m in result.candidates} == set(reader.installations().values())


def test_results_of_owners_without_the_app_are_not_accessible(
    reader: SimReader, clock: FrozenClock
) -> None:
    result = fetch_source(
        0,
        SearchSource(search="repo:acme/widgets repo:initech/tps"),
        reader,
        reader.installations(),
        clock=clock,
    )
    assert [m.full_name for m in result.candidates] == ["acme/widgets"]
    [report] = result.unreachable
    assert report.full_name == "initech/tps"
    assert report.cause is TargetCause.NOT_ACCESSIBLE
    assert report.reason == "not accessible: Shoal's App is not installed on 'initech'"
    assert result.problems == ()


@pytest.mark.parametrize(
    "query",
    ["org:initech", "repo:initech/tps", "user:initech repo:acme/nope"],
    ids=["org", "repo-only", "user-and-repo"],
)
def test_owner_without_installation_is_a_source_problem(
    reader: SimReader, clock: FrozenClock, query: str
) -> None:
    result = fetch_source(
        1, SearchSource(search=query), reader, reader.installations(), clock=clock
    )
    assert result.candidates == ()
    assert result.problems == (
        "on[1] (search): not accessible: Shoal's App is not installed on 'initech'",
    )


def test_query_too_long_to_split_takes_the_first_thousand(
    reader: SimReader, clock: FrozenClock
) -> None:
    query = "org:acme" + " topic:service" * 16  # 232 characters: no room for a date range
    result = fetch_source(
        0, SearchSource(search=query), reader, reader.installations(), clock=clock
    )
    assert len(result.candidates) == 1_000
    assert result.problems == (
        f"on[0] (search): {GENERATED} repositories match but the query is too long to split by "
        "creation date; only the first 1000 are taken",
    )
