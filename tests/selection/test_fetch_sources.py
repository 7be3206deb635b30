"""The org, repos and installation sources against the simulator over real HTTP."""

from __future__ import annotations

import math

from shoal.domain.clock import FrozenClock
from shoal.selection import (
    SelectionStats,
    TargetCause,
    decide,
    fetch_source,
)
from shoal.spec.models import CampaignSpec
from shoal.spec.selection import InstallationSource, OrgSource, ReposSource
from tests.selection.conftest import GENERATED, SelectionWorld, SimReader

ACME_REPOS = GENERATED + 7


def test_org_source_applies_its_filters(reader: SimReader, clock: FrozenClock) -> None:
    source = OrgSource(org="acme", language="python", topics=["core"])
    result = fetch_source(1, source, reader, reader.installations(), clock=clock)
    assert [m.full_name for m in result.candidates] == ["acme/widgets"]
    reasons = {r.meta.name: r.reason for r in result.rejected}
    assert len(reasons) == ACME_REPOS - 1
    assert reasons["gateway"] == "on[1] (org acme): language is Go, not python"
    assert reasons["legacy-api"] == "on[1] (org acme): missing topic core"
    assert reasons["old"] == "on[1] (org acme): archived (include_archived is false)"
    assert reasons["copy"] == "on[1] (org acme): fork (include_forks is false)"
    assert reasons["handbook"] == "on[1] (org acme): language is Markdown, not python"
    assert result.usage.requests == math.ceil(ACME_REPOS / 100) == reader.graphql_requests


def test_org_source_name_globs(reader: SimReader, clock: FrozenClock) -> None:
    source = OrgSource(org="acme", names=["SVC-000*", "gate*"])
    result = fetch_source(0, source, reader, reader.installations(), clock=clock)
    assert [m.name for m in result.candidates] == ["gateway"] + [
        f"svc-{i:04d}" for i in range(1, 10)
    ]


def test_org_without_installation_is_reported(reader: SimReader, clock: FrozenClock) -> None:
    result = fetch_source(0, OrgSource(org="initech"), reader, reader.installations(), clock=clock)
    assert (result.candidates, result.rejected, result.unreachable) == ((), (), ())
    assert result.problems == (
        "on[0] (org initech): not accessible: Shoal's App is not installed on 'initech'",
    )
    assert reader.graphql_requests == 0


def test_repos_source_reports_what_it_cannot_use(reader: SimReader, clock: FrozenClock) -> None:
    source = ReposSource(
        repos=[
            "acme/widgets",
            "acme/gateway@trunk",
            "acme/widgets@nope",
            "acme/missing",
            "globex/alpha",
            "globex/beta",  # private and not in the globex installation's selection
            "initech/tps",
        ]
    )
    result = fetch_source(2, source, reader, reader.installations(), clock=clock)
    found = {(m.full_name, m.base_branch) for m in result.candidates}
    assert found == {("acme/widgets", None), ("acme/gateway", "trunk"), ("globex/alpha", None)}
    gateway = next(m for m in result.candidates if m.name == "gateway")
    assert gateway.head_sha is not None and gateway.branch == "trunk"
    reports = {(u.full_name, u.cause, u.reason) for u in result.unreachable}
    assert reports == {
        ("acme/widgets", TargetCause.BRANCH_NOT_FOUND, "branch 'nope' not found"),
        ("acme/missing", TargetCause.NOT_FOUND, "not found"),
        ("globex/beta", TargetCause.NOT_FOUND, "not found"),
        (
            "initech/tps",
            TargetCause.NOT_ACCESSIBLE,
            "not accessible: Shoal's App is not installed on 'initech'",
        ),
    }
    # One request per installation involved (acme, globex); initech needs none.
    assert result.usage.requests == 2 == reader.graphql_requests


def test_repos_source_batches_fifty_per_request(reader: SimReader, clock: FrozenClock) -> None:
    source = ReposSource(repos=[f"acme/svc-{i:04d}" for i in range(1, 121)])
    result = fetch_source(0, source, reader, reader.installations(), clock=clock)
    assert len(result.candidates) == 120
    assert result.usage.requests == 3


def test_installation_source_lists_every_installation(
    reader: SimReader, clock: FrozenClock
) -> None:
    result = fetch_source(
        0, InstallationSource(installation=True), reader, reader.installations(), clock=clock
    )
    names = {m.full_name for m in result.candidates}
    assert len(names) == ACME_REPOS + 1
    assert "globex/alpha" in names and "globex/beta" not in names
    assert all(m.head_sha for m in result.candidates if m.name != "empty")
    installs = reader.installations()
    assert {m.installation_id for m in result.candidates if m.owner == "globex"} == {
        installs["globex"]
    }
    # REST pages (13 + 1), then nodes(ids:) in batches of 100, four batches per request.
    assert reader.rest_pages == 14
    assert reader.graphql_requests == math.ceil(math.ceil(ACME_REPOS / 100) / 4) + 1
    assert result.usage.requests == reader.rest_pages + reader.graphql_requests


def test_a_whole_spec_selects_with_reasons(
    selection_world: SelectionWorld, reader: SimReader, clock: FrozenClock
) -> None:
    spec = CampaignSpec.model_validate(
        {
            "name": "demo",
            "on": [
                {"search": "org:acme topic:core"},
                {
                    "org": "acme",
                    "language": "python",
                    "names": ["legacy-*", "old", "empty", "widgets"],
                    "include_archived": True,
                },
                {"repos": ["acme/gateway@trunk", "acme/nope", "initech/tps"]},
            ],
            "exclude": [{"language": "Go"}, {"repo": "acme/legacy-*"}],
            "steps": [{"name": "s", "run": "true"}],
            "changeset": {"title": "t", "commit": {"message": "m"}},
        }
    )
    installations = reader.installations()
    results = [
        fetch_source(i, source, reader, installations, clock=clock)
        for i, source in enumerate(spec.on)
    ]
    rows = {d.full_name: (d.included, d.reason) for d in decide(results, spec.exclude)}
    assert rows["acme/widgets"] == (True, "on[0] (search)")
    assert rows["acme/gateway"] == (False, "exclude[0] (language 'Go')")
    assert rows["acme/legacy-api"] == (False, "exclude[1] (repo 'acme/legacy-*')")
    assert rows["acme/old"] == (False, "archived")
    assert rows["acme/empty"] == (False, "empty repository (no default branch)")
    assert rows["acme/nope"] == (False, "not found")
    assert rows["initech/tps"] == (
        False,
        "not accessible: Shoal's App is not installed on 'initech'",
    )
    assert rows["acme/svc-0001"] == (
        False,
        "on[1] (org acme): name 'svc-0001' matches none of 'empty', 'legacy-*', 'old', 'widgets'",
    )
    stats = SelectionStats.of(results)
    assert stats.requests == reader.graphql_requests == 1 + math.ceil(ACME_REPOS / 100) + 1
