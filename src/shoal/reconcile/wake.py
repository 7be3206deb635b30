"""Whether a new reading of a pull request asks for a reconcile pass, and how soon.

Pure: webhooks and the periodic sync call it with the changeset's desired state and its
observed state before and after the reading. A base branch that moves wakes only the
changesets whose campaign names a policy for `base_moved`, and under `overwrite` not before
the steps may run again (`Observed.reexecute_after`): a busy base branch pushed every minute
does not make 2,000 PRs' reconcilers look at it every minute.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from shoal.domain.changesets import Desired, Observed
from shoal.reconcile.observe import needs_reconcile
from shoal.reconcile.plan import DriftPolicy, base_moved

__all__ = ["reconcile_delay", "reexecute_due_in"]


def reexecute_due_in(observed: Observed, now: datetime) -> float:
    """Seconds until the steps may run again on a moved base (0: now)."""
    if observed.reexecute_after is None:
        return 0.0
    return max((datetime.fromisoformat(observed.reexecute_after) - now).total_seconds(), 0.0)


def reconcile_delay(
    desired: Desired | None, before: Observed, after: Observed, *, now: datetime
) -> float | None:
    """None when the reading changed nothing the reconciler acts on; else how many seconds
    from `now` its pass should run."""
    # Everything but the base, as `needs_reconcile` has it: at once.
    if needs_reconcile(before, dataclasses.replace(after, base_sha=before.base_sha)):
        return 0.0
    if desired is None or before.base_sha == after.base_sha or not base_moved(desired, after):
        return None
    policy = DriftPolicy.from_desired(desired).for_kind("base_moved")
    if policy is None:
        return None  # the campaign leaves a moved base alone
    if policy == "overwrite":
        return reexecute_due_in(after, now)
    return 0.0
