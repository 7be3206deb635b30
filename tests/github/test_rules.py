"""Which of a branch's rules (GitHub's `rules/branches` answer) refuse Shoal's push."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from shoal.github import InstallationClient
from shoal.github.push import BranchProtectedError
from shoal.github.rules import RULES_ROUTE, BranchRules, blocking_rules
from tests.github.conftest import AppUnderTest
from tests.sim.conftest import RunningSim


def _rule(kind: str, **parameters: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"type": kind, "ruleset_source": "acme", "ruleset_id": 7}
    if parameters:
        rule["parameters"] = parameters
    return rule


@pytest.mark.parametrize(
    ("rules", "creating", "signed", "reasons"),
    [
        ([], True, False, ()),
        # what only constrains how the branch changes is left to the push
        ([_rule("non_fast_forward"), _rule("deletion"), _rule("required_linear_history")],
         False, False, ()),
        ([_rule("pull_request", required_approving_review_count=1)], True, False,
         ("pull request required",)),
        ([_rule("required_status_checks", do_not_enforce_on_create=False)], True, False,
         ("required status checks",)),
        # checks not enforced when the branch is created: only its updates need them
        ([_rule("required_status_checks", do_not_enforce_on_create=True)], True, False, ()),
        ([_rule("required_status_checks", do_not_enforce_on_create=True)], False, False,
         ("required status checks",)),
        ([_rule("creation")], True, False, ("branch creation restricted",)),
        ([_rule("creation")], False, False, ()),
        ([_rule("update")], False, False, ("branch updates restricted",)),
        ([_rule("update")], True, False, ()),
        ([_rule("required_signatures")], True, False, ("signed commits required",)),
        ([_rule("required_signatures")], True, True, ()),
        ([_rule("merge_queue"), _rule("required_deployments")], True, False,
         ("merge queue required", "required deployments")),
        # two rulesets asking for the same thing: said once
        ([_rule("pull_request"), _rule("pull_request"), _rule("creation")], True, False,
         ("pull request required", "branch creation restricted")),
        ([{"type": "some_future_rule"}], True, False, ()),
    ],
)  # fmt: skip
def test_blocking_rules(
    rules: list[dict[str, Any]], creating: bool, signed: bool, reasons: tuple[str, ...]
) -> None:
    assert blocking_rules(rules, creating=creating, signed=signed) == reasons


# -- BranchRules: once per org and branch, against the simulator and Redis -------------------


@pytest.fixture
def rules_env(
    gh_sim: RunningSim, make_app: Callable[..., AppUnderTest], redis_client: redis.Redis[Any]
) -> tuple[AppUnderTest, InstallationClient, redis.Redis[Any]]:
    under = make_app(gh_sim)
    return under, under.app.installation(under.installation_id()), redis_client


ALICE = "ghp_alice0000000000000000000000000000000"  # an admin of acme (tests.github.conftest)


def _reads(under: AppUnderTest) -> float:
    return under.count(RULES_ROUTE, "GET", "200")


def test_the_orgs_rules_are_read_once_and_trusted_for_a_while(
    rules_env: tuple[AppUnderTest, InstallationClient, redis.Redis[Any]],
) -> None:
    under, client, redis_client = rules_env
    rules = BranchRules(redis_client, max_age_s=1.0, prefix="test:rules")
    for repo in ("widgets", "gadgets", "svc-001"):
        rules.check(client, "acme", repo, "shoal/x", creating=True, signed=False)
    assert _reads(under) == 1
    # Another branch, or another installation's org, is asked for on its own.
    rules.check(client, "acme", "widgets", "shoal/y", creating=True, signed=False)
    assert _reads(under) == 2
    # A repository's own ruleset is not in the org's answer: its push will meet it.
    with under.sim.http(ALICE) as alice:
        made = alice.post(
            "/repos/acme/svc-002/rulesets",
            json={
                "name": "through PRs",
                "enforcement": "active",
                "conditions": {"ref_name": {"include": ["refs/heads/shoal/x"], "exclude": []}},
                "rules": [{"type": "pull_request"}],
            },
        )
    assert made.status_code == 201, made.text
    rules.check(client, "acme", "svc-002", "shoal/x", creating=True, signed=False)
    assert _reads(under) == 2
    # ... and once GitHub refused such a push, every repository is asked again.
    rules.refused(client.installation_id, "acme", "shoal/x")
    with pytest.raises(BranchProtectedError, match="pull request required"):
        rules.check(client, "acme", "svc-002", "shoal/x", creating=True, signed=False)
    # Classic branch protection is never among a branch's rules (GitHub lists rulesets
    # only): the push meets it, and `shoal.github.push` classifies GitHub's refusal.
    under.sim.admin.protect_branch("acme", "svc-003", "shoal/x", required_approving_review_count=1)
    rules.check(client, "acme", "svc-003", "shoal/x", creating=True, signed=False)
    assert _reads(under) == 4
    # What is learnt holds for max_age_s only (real time: Redis expires it).
    time.sleep(1.2)
    rules.check(client, "acme", "svc-004", "shoal/x", creating=True, signed=False)
    rules.check(client, "acme", "svc-005", "shoal/x", creating=True, signed=False)
    assert _reads(under) == 5


def test_an_org_rule_that_refuses_the_write_is_checked_for_each_repository(
    rules_env: tuple[AppUnderTest, InstallationClient, redis.Redis[Any]],
) -> None:
    under, client, redis_client = rules_env
    under.sim.admin.create_org_ruleset(
        "acme", "no new branches", include=["refs/heads/shoal/*"], repositories=["svc-*"],
        rules=[{"type": "creation"}, {"type": "non_fast_forward"}],
    )  # fmt: skip
    rules = BranchRules(redis_client, max_age_s=600, prefix="test:rules")
    with pytest.raises(BranchProtectedError, match="branch creation restricted") as refused:
        rules.check(client, "acme", "svc-001", "shoal/x", creating=True, signed=False)
    assert refused.value.details["ruleset_sources"] == ["acme"]
    # The org's rule would refuse a creation: each repository is asked (the ruleset leaves
    # some repositories out), and an update, which it allows, is not asked again.
    rules.check(client, "acme", "widgets", "shoal/x", creating=True, signed=False)
    with pytest.raises(BranchProtectedError):
        rules.check(client, "acme", "svc-002", "shoal/x", creating=True, signed=False)
    rules.check(client, "acme", "svc-003", "shoal/x", creating=False, signed=False)
    assert _reads(under) == 3


def test_without_redis_every_repository_is_asked(
    rules_env: tuple[AppUnderTest, InstallationClient, redis.Redis[Any]],
) -> None:
    under, client, _ = rules_env
    gone = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    rules = BranchRules(gone, max_age_s=600)
    for repo in ("widgets", "gadgets"):
        rules.check(client, "acme", repo, "shoal/x", creating=True, signed=False)
    assert _reads(under) == 2
