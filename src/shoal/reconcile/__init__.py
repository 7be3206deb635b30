"""Everything Shoal does to keep published pull requests aligned with their campaign: what
GitHub shows (observations from webhooks and sync), what the campaign wants, and the plan
between the two."""

from shoal.reconcile.observe import merge_pull, needs_reconcile, text_sha256

__all__ = ["merge_pull", "needs_reconcile", "text_sha256"]
