"""The dashboard and the alerting rules in deploy/monitoring against what Shoal exports: every
expression parses (promql-parser, the Prometheus grammar), names only metrics and labels
Shoal's registries declare, and every alert fires on sample series that breach it and stays
quiet on series that do not."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser as pq
import pytest
import yaml
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

import shoal.api.middleware
import shoal.services.executing
import shoal.services.reconciling
import shoal.services.syncing
import shoal.services.webhooks
import shoal.worker.metrics  # noqa: F401  (the imports register the process's metrics)
from shoal.api.metrics import app_registry
from shoal.github import GitHubMetrics
from tests.servers import RunningApi

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/monitoring/shoal-rules.yaml"
DASHBOARD = ROOT / "deploy/monitoring/shoal-dashboard.json"
OPERATIONS = ROOT / "docs/operations.md"

Labels = frozenset[tuple[str, str]]


def _exported(api: RunningApi) -> dict[str, set[str]]:
    """Series name -> label names, from the declared metrics (observed or not)."""
    series: dict[str, set[str]] = {}

    def add(name: str, kind: str, labels: tuple[str, ...]) -> None:
        if kind == "counter":
            series[f"{name}_total"] = set(labels)
        elif kind == "histogram":
            series[f"{name}_bucket"] = {*labels, "le"}
            series[f"{name}_sum"] = series[f"{name}_count"] = set(labels)
        else:
            series[name] = set(labels)

    github = CollectorRegistry()
    GitHubMetrics(github)
    for registry in (REGISTRY, github):
        for collector in list(registry._collector_to_names):
            if isinstance(collector, MetricWrapperBase):
                add(collector._name, collector._type, collector._labelnames)
    for family in app_registry(api.ctx).collect():
        add(family.name, family.type, tuple(family._labelnames))  # type: ignore[attr-defined]
    return {name: labels for name, labels in series.items() if name.startswith("shoal_")}


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for attr in ("expr", "lhs", "rhs", "vector_selector"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, str):
            yield from _walk(child)
    for arg in getattr(node, "args", None) or []:
        yield from _walk(arg)


def _check(expr: str, exported: dict[str, set[str]], templated: set[str]) -> None:
    tree = pq.parse(expr)
    available: set[str] = set()
    for node in _walk(tree):
        if isinstance(node, pq.VectorSelector):
            assert node.name in exported, f"{expr}: {node.name} is not exported"
            labels = exported[node.name]
            for matcher in node.matchers.matchers:
                assert matcher.name in labels, f"{expr}: {node.name} has no label {matcher.name}"
            available |= labels
    for node in _walk(tree):
        if isinstance(node, pq.AggregateExpr) and node.modifier is not None:
            assert set(node.modifier.labels) <= available, f"{expr}: grouping {node.modifier}"
        if isinstance(node, pq.BinaryExpr) and node.modifier and node.modifier.matching:
            assert set(node.modifier.matching.labels) <= available, f"{expr}: matching"
    assert templated <= available, f"{expr}: templates name {templated - available}"


def _templated(text: str) -> set[str]:
    return set(re.findall(r"\{\{\s*(?:\$labels\.)?([a-z_]+)\s*\}\}", text))


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _anchors() -> set[str]:
    headings = re.findall(r"^#+ (.+)$", OPERATIONS.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}


def test_every_panel_and_alert_names_exported_metrics_and_labels(api: RunningApi) -> None:
    exported = _exported(api)
    assert "shoal_pull_requests_opened_total" in exported  # the collection itself works
    assert exported["shoal_publish_budget_prs"] == {"org"}

    dashboard = json.loads(DASHBOARD.read_text())
    targets = [t for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(targets) >= 16
    for target in targets:
        _check(target["expr"], exported, _templated(target.get("legendFormat", "")))

    anchors = _anchors()
    rules = _rules()
    assert {r["alert"] for r in rules} == set(SCENARIOS)
    for rule in rules:
        summary = rule["annotations"]["summary"]
        _check(rule["expr"], exported, _templated(summary) - {"value"})
        page, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert page == "docs/operations.md" and anchor in anchors, rule["alert"]


# A small evaluator for the PromQL subset the rules use (instant selectors, rate/increase,
# sum/min/max by, histogram_quantile, arithmetic, comparisons, and/unless with on()), run on
# the parser's tree: promtool is not available, and no maintained Python PromQL engine is.
# Simplifications, fine for thresholds with margin: rate is (last - first) / (t_last -
# t_first) over the window's samples with no extrapolation or counter-reset handling, and an
# instant selector takes the newest sample within 5 minutes.

LOOKBACK_S = 300.0


@dataclass
class Series:
    name: str
    labels: dict[str, str]
    points: list[tuple[float, float]]  # (seconds, value)


Vector = dict[Labels, float]


class Evaluator:
    def __init__(self, series: list[Series], at: float) -> None:
        self.series = series
        self.at = at

    def run(self, expr: str) -> Vector:
        result = self.eval(pq.parse(expr))
        assert isinstance(result, dict)
        return result

    def _select(self, node: Any) -> Iterator[tuple[Labels, list[tuple[float, float]]]]:
        for s in self.series:
            if s.name != node.name:
                continue
            if all(self._matches(m, s.labels.get(m.name, "")) for m in node.matchers.matchers):
                yield frozenset(s.labels.items()), s.points

    @staticmethod
    def _matches(matcher: Any, value: str) -> bool:
        op = str(matcher.op).removeprefix("MatchOp.")
        if op == "Equal":
            return bool(value == matcher.value)
        if op == "NotEqual":
            return bool(value != matcher.value)
        found = re.fullmatch(matcher.value, value) is not None
        return found if op == "Re" else not found

    def eval(self, node: Any) -> Vector | float:
        if isinstance(node, pq.NumberLiteral):
            return float(node.val)
        if isinstance(node, pq.ParenExpr):
            return self.eval(node.expr)
        if isinstance(node, pq.VectorSelector):
            out: Vector = {}
            for labels, points in self._select(node):
                recent = [v for t, v in points if self.at - LOOKBACK_S < t <= self.at]
                if recent:
                    out[labels] = recent[-1]
            return out
        if isinstance(node, pq.Call):
            return self._call(node)
        if isinstance(node, pq.AggregateExpr):
            return self._aggregate(node)
        if isinstance(node, pq.BinaryExpr):
            return self._binary(node)
        raise AssertionError(f"not in the evaluated subset: {type(node).__name__}")

    def _call(self, node: Any) -> Vector:
        name = node.func.name
        if name in ("rate", "increase"):
            matrix = node.args[0]
            window = matrix.range.total_seconds()
            out: Vector = {}
            for labels, points in self._select(matrix.vector_selector):
                inside = [(t, v) for t, v in points if self.at - window < t <= self.at]
                if len(inside) < 2:
                    continue
                (t0, v0), (t1, v1) = inside[0], inside[-1]
                per_s = (v1 - v0) / (t1 - t0)
                out[labels] = per_s if name == "rate" else per_s * window
            return out
        if name == "histogram_quantile":
            q = self.eval(node.args[0])
            buckets = self.eval(node.args[1])
            assert isinstance(q, float) and isinstance(buckets, dict)
            return _histogram_quantile(q, buckets)
        raise AssertionError(f"function not in the evaluated subset: {name}")

    def _aggregate(self, node: Any) -> Vector:
        inner = self.eval(node.expr)
        assert isinstance(inner, dict)
        by = set(node.modifier.labels) if node.modifier else set()
        without = node.modifier is not None and str(node.modifier.type).endswith("Without")
        groups: dict[Labels, list[float]] = {}
        for labels, value in inner.items():
            key = frozenset((k, v) for k, v in labels if (k not in by) == without)
            groups.setdefault(key, []).append(value)
        op = {"sum": sum, "max": max, "min": min}[str(node.op)]
        return {key: float(op(values)) for key, values in groups.items()}

    def _binary(self, node: Any) -> Vector:
        lhs, rhs = self.eval(node.lhs), self.eval(node.rhs)
        op = str(node.op)
        matching = node.modifier.matching if node.modifier else None
        if isinstance(lhs, float) and isinstance(rhs, float):
            raise AssertionError("scalar-scalar binary expressions are not in the subset")
        if not isinstance(rhs, dict) or not isinstance(lhs, dict):
            vector, scalar = (lhs, rhs) if isinstance(lhs, dict) else (rhs, lhs)
            assert isinstance(vector, dict) and isinstance(scalar, float)
            out: Vector = {}
            for labels, value in vector.items():
                a, b = (value, scalar) if isinstance(lhs, dict) else (scalar, value)
                result = _apply(op, a, b)
                if result is not None:
                    out[labels] = value if op in _COMPARISONS else result
            return out

        def key(labels: Labels) -> Labels:
            if matching is None:
                return labels
            names = set(matching.labels)
            include = str(matching.type).endswith("Include")
            return frozenset((k, v) for k, v in labels if (k in names) == include)

        right = {key(labels): value for labels, value in rhs.items()}
        if op == "and":
            return {labels: v for labels, v in lhs.items() if key(labels) in right}
        if op == "unless":
            return {labels: v for labels, v in lhs.items() if key(labels) not in right}
        out = {}
        for labels, value in lhs.items():
            other = right.get(key(labels))
            if other is None:
                continue
            result = _apply(op, value, other)
            if result is not None:
                out[key(labels) if matching else labels] = value if op in _COMPARISONS else result
        return out


_COMPARISONS = {">", "<", ">=", "<=", "==", "!="}


def _apply(op: str, a: float, b: float) -> float | None:
    """An arithmetic result, or for a comparison the kept value (None: filtered out)."""
    if op in _COMPARISONS:
        kept = {
            ">": a > b,
            "<": a < b,
            ">=": a >= b,
            "<=": a <= b,
            "==": a == b,
            "!=": a != b,
        }[op]
        return a if kept else None
    if op == "/":
        return a / b if b else (math.nan if a == 0 else math.copysign(math.inf, a))
    return {"+": a + b, "-": a - b, "*": a * b}[op]


def _histogram_quantile(q: float, buckets: Vector) -> Vector:
    """Prometheus's linear interpolation inside the bucket the rank falls in."""
    groups: dict[Labels, list[tuple[float, float]]] = {}
    for labels, count in buckets.items():
        le = dict(labels)["le"]
        rest = frozenset((k, v) for k, v in labels if k != "le")
        groups.setdefault(rest, []).append((float(le), count))
    out: Vector = {}
    for labels, pairs in groups.items():
        pairs.sort()
        total = pairs[-1][1]
        if total <= 0:
            continue
        rank = q * total
        lower_bound, lower_count = 0.0, 0.0
        for bound, count in pairs:
            if count >= rank:
                if math.isinf(bound):
                    out[labels] = lower_bound
                else:
                    width = count - lower_count
                    fraction = (rank - lower_count) / width if width else 1.0
                    out[labels] = lower_bound + (bound - lower_bound) * fraction
                break
            lower_bound, lower_count = bound, count
    return out


# Sample series: one hour of 30-second samples ending at AT.
AT = 3600.0
STEPS = [float(t) for t in range(0, 3601, 30)]


def counter(name: str, per_s: float, **labels: str) -> Series:
    return Series(name, labels, [(t, per_s * t) for t in STEPS])


def gauge(name: str, value: float, **labels: str) -> Series:
    return Series(name, labels, [(t, value) for t in STEPS])


def histogram(name: str, per_s: float, typical_s: float, bounds: list[float]) -> list[Series]:
    """Observations at `per_s`, each taking `typical_s`: every bucket at or above it counts."""
    return [
        counter(f"{name}_bucket", per_s if bound >= typical_s else 0.0, le=str(bound))
        for bound in [*bounds, math.inf]
    ] + [counter(f"{name}_count", per_s), counter(f"{name}_sum", per_s * typical_s)]


LAG_BOUNDS = [1.0, 5.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0]


def _errors(share: float) -> list[Series]:
    return [
        counter(
            "shoal_github_requests_total", 10.0, endpoint="graphql", method="POST", status="200"
        ),
        counter("shoal_github_errors_total", 10.0 * share, **{"class": "github_unavailable"}),
        counter("shoal_github_errors_total", 5.0, **{"class": "github_not_found"}),  # expected
    ]


def _headroom(remaining: float) -> list[Series]:
    labels = {"installation": "7", "resource": "core"}
    return [
        gauge("shoal_github_rate_limit_remaining", remaining, **labels),
        gauge("shoal_github_rate_limit_limit", 5000, **labels),
        gauge("shoal_github_rate_limit_remaining", 4900, installation="8", resource="core"),
        gauge("shoal_github_rate_limit_limit", 5000, installation="8", resource="core"),
    ]


def _publish(opened_per_s: float, waiting: float) -> list[Series]:
    return [
        gauge("shoal_publish_budget_prs", 500, org="acme"),
        gauge("shoal_publish_budget_used_prs", 120, org="acme"),
        gauge("shoal_publish_budget_prs", 500, org="spent"),
        gauge("shoal_publish_budget_used_prs", 500, org="spent"),
        counter("shoal_pull_requests_opened_total", opened_per_s, org="acme"),
        gauge("shoal_changesets", waiting, campaign="bump", state="scheduled"),
        gauge("shoal_changesets", 40, campaign="bump", state="open"),
    ]


# alert -> (series that breach it, the labels it fires with, series that do not)
SCENARIOS: dict[str, tuple[list[Series], dict[str, str], list[Series]]] = {
    "ShoalGitHubApiErrors": (_errors(0.2), {}, _errors(0.01)),
    "ShoalGitHubSecondaryLimitPauses": (
        [counter("shoal_github_secondary_limit_pauses_total", 10 / 1800, installation="7")],
        {"installation": "7"},
        [counter("shoal_github_secondary_limit_pauses_total", 1 / 1800, installation="7")],
    ),
    "ShoalGitHubRateLimitLow": (
        _headroom(200),
        {"installation": "7", "resource": "core"},
        _headroom(2000),
    ),
    "ShoalQueueBacklog": (
        [gauge("shoal_tasks", 25_000, kind="execution.run", state="queued")],
        {"kind": "execution.run"},
        [
            gauge("shoal_tasks", 900, kind="execution.run", state="queued"),
            gauge("shoal_tasks", 25_000, kind="execution.run", state="dead"),
        ],
    ),
    "ShoalQueueAge": (
        [gauge("shoal_task_queue_age_seconds", 1200, kind="changeset.reconcile")],
        {"kind": "changeset.reconcile"},
        [gauge("shoal_task_queue_age_seconds", 30, kind="changeset.reconcile")],
    ),
    "ShoalDeadTasks": (
        [counter("shoal_tasks_completed_total", 0.01, kind="webhook.process", outcome="dead")],
        {"kind": "webhook.process"},
        [counter("shoal_tasks_completed_total", 5.0, kind="webhook.process", outcome="done")],
    ),
    "ShoalWebhookLagOverSLO": (
        histogram("shoal_webhook_lag_seconds", 2.0, 250.0, LAG_BOUNDS),
        {},
        histogram("shoal_webhook_lag_seconds", 2.0, 4.0, LAG_BOUNDS),
    ),
    "ShoalReconcileLagOverSLO": (
        histogram("shoal_reconcile_lag_seconds", 1.0, 1500.0, LAG_BOUNDS),
        {},
        histogram("shoal_reconcile_lag_seconds", 1.0, 100.0, LAG_BOUNDS),
    ),
    "ShoalPublishStalled": (
        _publish(0.0, waiting=300),
        {"org": "acme"},  # not "spent": its budget is used up
        _publish(0.05, waiting=300),
    ),
}


@pytest.mark.parametrize("alert", sorted(SCENARIOS))
def test_each_alert_fires_on_a_breach_and_stays_quiet_otherwise(alert: str) -> None:
    rule = next(r for r in _rules() if r["alert"] == alert)
    breach, fires_with, calm = SCENARIOS[alert]
    fired = Evaluator(breach, AT).run(rule["expr"])
    assert [dict(labels) for labels in fired] == [fires_with], fired
    assert Evaluator(calm, AT).run(rule["expr"]) == {}


def test_publish_stalled_is_quiet_when_nothing_waits() -> None:
    rule = next(r for r in _rules() if r["alert"] == "ShoalPublishStalled")
    assert Evaluator(_publish(0.0, waiting=0), AT).run(rule["expr"]) == {}
