"""Each modelled rule's verdict on a ref change, as a table (``shoal_sim.rulesets``)."""

from __future__ import annotations

from typing import Any

import pytest

from shoal_sim.rulesets import RefFacts, normalized_rules, violations
from shoal_sim.state.models import Ruleset

UPDATE = RefFacts(created=False, deleted=False, forced=False)
CREATE = RefFacts(created=True, deleted=False, forced=False)
DELETE = RefFacts(created=False, deleted=True, forced=False)
FORCE = RefFacts(created=False, deleted=False, forced=True)
SYNC = RefFacts(created=False, deleted=False, forced=False, fetch_and_merge=True)
MERGES = RefFacts(created=False, deleted=False, forced=False, merge_commits=("a" * 40,))
UNSIGNED = RefFacts(created=False, deleted=False, forced=False, unsigned=("b" * 40, "c" * 40))
CHECKS = {"required_status_checks": [{"context": "ci"}, {"context": "lint"}]}


@pytest.mark.parametrize(
    ("rule", "facts", "said"),
    [
        ({"type": "creation"}, CREATE, "Cannot create ref due to creations being restricted."),
        ({"type": "creation"}, UPDATE, None),
        ({"type": "update"}, UPDATE, "Cannot update this protected ref."),
        ({"type": "update"}, CREATE, None),
        ({"type": "update"}, SYNC, "Cannot update this protected ref."),
        (
            {"type": "update", "parameters": {"update_allows_fetch_and_merge": True}},
            SYNC,
            None,
        ),
        (
            {"type": "update", "parameters": {"update_allows_fetch_and_merge": True}},
            UPDATE,
            "Cannot update this protected ref.",
        ),
        ({"type": "deletion"}, DELETE, "Cannot delete this branch"),
        ({"type": "pull_request"}, DELETE, None),
        ({"type": "non_fast_forward"}, FORCE, "Cannot force-push to this branch"),
        ({"type": "non_fast_forward"}, UPDATE, None),
        (
            {"type": "required_linear_history"},
            MERGES,
            f"This branch must not contain merge commits.\n  Found 1 violation:\n\n  {'a' * 40}",
        ),
        ({"type": "required_linear_history"}, UPDATE, None),
        (
            {"type": "required_signatures"},
            UNSIGNED,
            "Commits must have verified signatures.\n  Found 2 violations:\n\n"
            f"  {'b' * 40}\n  {'c' * 40}",
        ),
        ({"type": "required_signatures"}, UPDATE, None),
        ({"type": "pull_request"}, UPDATE, "Changes must be made through a pull request."),
        (
            {"type": "required_status_checks", "parameters": CHECKS},
            UPDATE,
            "2 of 2 required status checks are expected.",
        ),
        (
            {
                "type": "required_status_checks",
                "parameters": {**CHECKS, "do_not_enforce_on_create": True},
            },
            CREATE,
            None,
        ),
    ],
)
def test_rule_verdicts(rule: dict[str, Any], facts: RefFacts, said: str | None) -> None:
    ruleset = Ruleset(id=1, name="r", org="acme", rules=normalized_rules([rule]))
    assert violations([ruleset], facts) == ([] if said is None else [said])


def test_the_same_sentence_is_said_once() -> None:
    rulesets = [
        Ruleset(id=n, name=f"r{n}", org="acme", rules=[{"type": "deletion"}]) for n in (1, 2)
    ]
    assert violations(rulesets, DELETE) == ["Cannot delete this branch"]
