"""Everything Shoal does to keep published pull requests aligned with their campaign: what
GitHub shows (observations from webhooks and sync), what the campaign wants, the plan
between the two (`plan`: the operation table and drift policies) and the port the
reconciler writes through (`gateway`)."""

from shoal.reconcile.observe import merge_pull, needs_reconcile, text_sha256
from shoal.reconcile.plan import DriftPolicy, Operation, Plan, Verdict, plan
from shoal.reconcile.wake import reconcile_delay

__all__ = [
    "DriftPolicy",
    "Operation",
    "Plan",
    "Verdict",
    "merge_pull",
    "needs_reconcile",
    "plan",
    "reconcile_delay",
    "text_sha256",
]
