"""A campaign's burndown and stuck PRs, through the REST API, the CLI and the metrics."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from shoal.domain.auth import Role
from tests.bulk.conftest import START, Progress
from tests.cli.test_cli import shoal

DAY = 86_400


@pytest.fixture
def cli_env(tmp_path: Path, progress: Progress) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["COLUMNS"] = "200"
    shoal(env, "login", "--url", progress.api.url, "--token", progress.api.tokens[Role.VIEWER])
    return env


def _history(progress: Progress) -> None:
    """Mar 2: three changesets asked to publish; Mar 3: one PR opens, one fails; Mar 4: the
    PR is merged and a draft opens."""
    campaign = progress.campaign()
    ids = progress.publish(campaign, "acme/a", "acme/b", "acme/c")
    progress.clock.advance(DAY)
    progress.opened(ids["acme/a"], 1)
    progress.fail(ids["acme/b"])
    progress.clock.advance(DAY)
    progress.observe(ids["acme/a"], pr_state="merged")
    progress.opened(ids["acme/c"], 3, draft=True)


def test_the_burndown_counts_each_state_at_the_end_of_each_day(
    progress: Progress, cli_env: dict[str, str]
) -> None:
    _history(progress)
    found = progress.get("/campaigns/bump/burndown", days=4)
    table = shoal(cli_env, "status", "bump", "--burndown", "--days", "4").stdout
    as_json = json.loads(shoal(cli_env, "status", "bump", "--burndown", "-o", "json").stdout)
    with progress.client() as http:
        too_many = http.get("/campaigns/bump/burndown", params={"days": 400})
        unknown = http.get("/campaigns/nope/burndown")

    zeros = dict.fromkeys(("open", "draft", "merged", "closed", "failed", "needs_human"), 0)
    assert [(d["day"], d["counts"]) for d in found["days"]] == [
        ("2026-03-01", zeros),
        ("2026-03-02", zeros | {"scheduled": 3}),
        ("2026-03-03", zeros | {"open": 1, "failed": 1, "scheduled": 1}),
        ("2026-03-04", zeros | {"merged": 1, "failed": 1, "draft": 1}),
    ]
    # Today is counted now, not at midnight.
    assert found["days"][-1]["at"].startswith((START + timedelta(days=2)).isoformat()[:19])
    rows = [[c for c in line.split() if c not in {"│", "┃"}] for line in table.splitlines()]
    assert ["DAY", "OPEN", "DRAFT", "MERGED", "CLOSED", "FAILED", "NEEDS_HUMAN", "OTHER"] in rows, (
        table
    )
    assert ["2026-03-03", "1", "0", "0", "0", "1", "0", "1"] in rows, table
    assert len(as_json["days"]) == 14 and as_json["days"][-1]["counts"]["merged"] == 1
    assert too_many.status_code == 422
    assert unknown.status_code == 404


def test_stuck_lists_open_prs_with_why_and_the_metrics_count_them(
    progress: Progress, cli_env: dict[str, str]
) -> None:
    campaign = progress.campaign()
    repos = [f"acme/p{n}" for n in range(1, 7)]
    ids = progress.publish(campaign, *repos)
    now = START.isoformat()
    old = (START - timedelta(days=10)).isoformat()
    fine = {"reviewers": ("alice",), "checks": "success", "mergeable": "mergeable"}
    progress.opened(ids["acme/p1"], 1, **fine, pr_updated_at=now)
    progress.opened(ids["acme/p2"], 2, pr_updated_at=now)  # nobody asked to review
    progress.opened(
        ids["acme/p3"],
        3,
        reviewers=("alice",),
        checks="failure",
        mergeable="conflicting",
        pr_updated_at=now,
    )
    progress.opened(ids["acme/p4"], 4, **fine, pr_updated_at=old)
    progress.opened(ids["acme/p5"], 5, review_decision="approved", pr_updated_at=now)
    progress.opened(ids["acme/p6"], 6, checks="failure", pr_updated_at=old)
    progress.observe(ids["acme/p6"], pr_state="closed")  # closed: never stuck

    every = progress.get("/campaigns/bump/stuck")
    inactive = progress.get("/campaigns/bump/stuck", reason="inactive")
    patient = progress.get("/campaigns/bump/stuck", inactive_days=20, reason="inactive")
    table = shoal(cli_env, "changesets", "bump", "--stuck").stdout
    paged = shoal(cli_env, "changesets", "bump", "--stuck", "--limit", "2").stdout
    bad = shoal(cli_env, "changesets", "bump", "--stuck", "--reason", "sleepy", check=False)
    metrics = httpx.get(f"{progress.api.url}/metrics").text

    assert [(s["changeset"]["repo"], s["reasons"]) for s in every] == [
        ("acme/p2", ["no_reviewer"]),
        ("acme/p3", ["failing_checks", "conflicts"]),
        ("acme/p4", ["inactive"]),
    ]
    assert every[1]["checks"] == "failure" and every[1]["mergeable"] == "conflicting"
    assert [s["changeset"]["repo"] for s in inactive] == ["acme/p4"]
    assert patient == []
    assert "acme/p3" in table and "failing_checks, conflicts" in table
    assert "acme/p1" not in table and "acme/p6" not in table
    assert "acme/p4" not in paged
    assert f"--after {ids['acme/p3']}" in paged
    assert bad.returncode == 1 and "unknown stuck reason(s) sleepy" in bad.stderr
    assert 'shoal_changesets{campaign="bump",state="open"} 5.0' in metrics
    assert 'shoal_changesets{campaign="bump",state="closed"} 1.0' in metrics
    assert 'shoal_changesets_stuck{campaign="bump",reason="conflicts"} 1.0' in metrics
    assert 'shoal_changesets_stuck{campaign="bump",reason="no_reviewer"} 1.0' in metrics
