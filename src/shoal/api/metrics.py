"""Metrics read from the database at scrape time (queue depth and age, changesets by state,
stuck PRs by reason, PRs with warnings by operation, each org's daily PR budget and its use),
per application."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shoal.services import budgets, progress, tasks
from shoal.services.context import AppContext

__all__ = ["app_registry"]


class QueueCollector(Collector):
    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx

    def collect(self) -> Iterable[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "shoal_tasks",
            "Tasks that are queued, running or dead, by kind",
            labels=["kind", "state"],
        )
        age = GaugeMetricFamily(
            "shoal_task_queue_age_seconds",
            "How long the oldest due queued task of each kind has waited",
            labels=["kind"],
        )
        stats = tasks.queue_depth(self._ctx)
        for (kind, state), count in sorted(stats.counts.items()):
            depth.add_metric([kind, state.value], count)
        for kind, seconds in sorted(stats.oldest_due_age_s.items()):
            age.add_metric([kind], seconds)
        yield depth
        yield age


class ChangesetCollector(Collector):
    """Changesets per campaign and state, and open PRs stuck per campaign and reason: the
    labels are campaign names and fixed lists, never repositories (low cardinality)."""

    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx

    def collect(self) -> Iterable[GaugeMetricFamily]:
        states = GaugeMetricFamily(
            "shoal_changesets",
            "Changesets by campaign and derived state",
            labels=["campaign", "state"],
        )
        stuck = GaugeMetricFamily(
            "shoal_changesets_stuck",
            "Open PRs stuck by campaign and reason (no_reviewer, failing_checks, conflicts, "
            f"inactive: no activity for {progress.DEFAULT_INACTIVE_DAYS} days)",
            labels=["campaign", "reason"],
        )
        warnings = GaugeMetricFamily(
            "shoal_changesets_warnings",
            "Open PRs with a warning by campaign and operation: what GitHub refused to add to "
            "them (reviewers, assignees, labels, auto-merge)",
            labels=["campaign", "operation"],
        )
        counts = progress.metric_counts(self._ctx)
        for (campaign, state), count in sorted(counts.states.items()):
            states.add_metric([campaign, state], count)
        for (campaign, reason), count in sorted(counts.stuck.items()):
            stuck.add_metric([campaign, reason], count)
        for (campaign, operation), count in sorted(counts.warnings.items()):
            warnings.add_metric([campaign, operation], count)
        yield states
        yield stuck
        yield warnings


class BudgetCollector(Collector):
    """Each org's daily PR cap and what today's budget day used of it. `org` is bounded by the
    orgs the App is installed on and has published to (or has an override), never a repo."""

    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx

    def collect(self) -> Iterable[GaugeMetricFamily]:
        cap = GaugeMetricFamily(
            "shoal_publish_budget_prs",
            "PRs an org may have opened per budget day (its cap)",
            labels=["org"],
        )
        used = GaugeMetricFamily(
            "shoal_publish_budget_used_prs",
            "PRs claimed from the org's budget on the current budget day",
            labels=["org"],
        )
        for org in budgets.list_budgets(self._ctx).orgs:
            cap.add_metric([org.org], org.cap)
            used.add_metric([org.org], org.used)
        yield cap
        yield used


def app_registry(ctx: AppContext) -> CollectorRegistry:
    """A registry for this application's database-backed metrics (one per app, so several
    apps in one process, as in tests, do not collide in the global registry)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(ctx))
    registry.register(ChangesetCollector(ctx))
    registry.register(BudgetCollector(ctx))
    return registry
