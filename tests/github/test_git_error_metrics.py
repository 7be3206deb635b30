"""Failures of git over HTTP count in the GitHub metrics like an API call's: by error class,
and a rate limit pauses the installation, against the simulator's git server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shoal.github import GitHubUnavailableError
from shoal.github.errors import SecondaryRateLimitError
from shoal.publish import GitPublisher
from shoal.publish.commits import commit_identity
from tests.github.conftest import AppUnderTest
from tests.sim.conftest import RunningSim

BASE = "1" * 40  # the fault answers before the server looks for it


def publish(under: AppUnderTest, tmp_path: Path) -> None:
    client = under.app.installation(under.installation_id(), max_wait_s=0)
    patch = tmp_path / "change.patch"
    patch.write_text("diff --git a/README.md b/README.md\n")
    GitPublisher(tmp_path / "publish", git_base_url=under.sim.url).publish(
        "acme/widgets",
        BASE,
        patch,
        "shoal/x",
        commit_identity(
            "k",
            message="m",
            author_name="Shoal",
            author_email="shoal@acme.dev",
            campaign_name="c",
            campaign_id=1,
        ),
        client.token(),
        default_branch="main",
        force=False,
        on_error=client.git_failed,
    )


def pauses(under: AppUnderTest) -> float | None:
    return under.registry.get_sample_value(
        "shoal_github_secondary_limit_pauses_total",
        {"installation": str(under.installation_id())},
    )


def test_a_rate_limited_git_request_counts_and_pauses_the_installation(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], tmp_path: Path
) -> None:
    under = make_app(gh_sim)
    gh_sim.admin.set_faults(error_rate=1.0, error_status=429, path_prefix="/acme/widgets.git")
    with pytest.raises(SecondaryRateLimitError):
        publish(under, tmp_path)
    assert under.errors("github_secondary_rate_limited") == 1
    assert pauses(under) == 1
    assert under.governor.snapshot(under.installation_id()).pause_reason == "secondary"


def test_a_failed_git_request_counts_by_its_class(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], tmp_path: Path
) -> None:
    under = make_app(gh_sim)
    gh_sim.admin.set_faults(error_rate=1.0, error_status=502, path_prefix="/acme/widgets.git")
    with pytest.raises(GitHubUnavailableError):
        publish(under, tmp_path)
    assert under.errors("github_unavailable") == 1
    assert pauses(under) is None
