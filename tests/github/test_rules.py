"""Which of a branch's rules (GitHub's `rules/branches` answer) refuse Shoal's push."""

from __future__ import annotations

from typing import Any

import pytest

from shoal.github.rules import blocking_rules


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
