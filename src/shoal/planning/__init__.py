"""Pure decisions: what the reconciler should do to GitHub, computed from desired and observed
state. No I/O; table-tested; preview and dry-run are 'plan without execute'."""

from shoal.planning.plan import Operation, plan

__all__ = ["Operation", "plan"]
