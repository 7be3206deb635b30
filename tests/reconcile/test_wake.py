"""Whether a reading asks for a reconcile pass, and when: a moved base wakes only the
changesets whose campaign names a base_moved policy, and under overwrite not before the steps
may run again."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from shoal.domain.changesets import Desired, Observed
from shoal.reconcile import reconcile_delay
from tests.reconcile.test_plan import DESIRED, WRITTEN

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
BEFORE = dataclasses.replace(WRITTEN, base_sha="a" * 40)
MOVED = dataclasses.replace(BEFORE, base_sha="8" * 40)
LATER = (NOW + timedelta(minutes=20)).isoformat()


def _desired(**drift: str) -> Desired:
    return dataclasses.replace(DESIRED, drift=drift or None)


@pytest.mark.parametrize(
    ("desired", "before", "after", "delay"),
    [
        (_desired(), BEFORE, MOVED, None),
        (_desired(default="overwrite"), BEFORE, MOVED, None),
        (_desired(base_moved="needs_human"), BEFORE, MOVED, 0.0),
        (_desired(base_moved="overwrite"), BEFORE, MOVED, 0.0),
        (
            _desired(base_moved="overwrite"),
            dataclasses.replace(BEFORE, reexecute_after=LATER),
            dataclasses.replace(MOVED, reexecute_after=LATER),
            1200.0,
        ),
        # The patch was found current on that tip already.
        (
            dataclasses.replace(_desired(base_moved="overwrite"), current_on="8" * 40),
            BEFORE,
            MOVED,
            None,
        ),
        # Something else the reconciler acts on: at once, whatever the base.
        (
            _desired(),
            BEFORE,
            dataclasses.replace(MOVED, head_sha="f" * 40, reexecute_after=LATER),
            0.0,
        ),
        # The tip read for the first time, past the base of Shoal's commit.
        (_desired(base_moved="needs_human"), WRITTEN, MOVED, 0.0),
        (
            _desired(base_moved="needs_human"),
            WRITTEN,
            dataclasses.replace(MOVED, base_sha=None),
            None,
        ),
    ],
    ids=[
        "no-policy",
        "default-does-not-cover-it",
        "needs-human-at-once",
        "overwrite-due",
        "overwrite-not-due-yet",
        "patch-current-on-that-tip",
        "other-change-at-once",
        "first-reading-moved",
        "nothing-read",
    ],
)
def test_a_moved_base_wakes_the_reconciler_as_its_policy_says(
    desired: Desired, before: Observed, after: Observed, delay: float | None
) -> None:
    assert reconcile_delay(desired, before, after, now=NOW) == delay
