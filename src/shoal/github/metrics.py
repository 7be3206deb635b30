"""Prometheus metrics of the GitHub adapter. Labels stay low-cardinality: `endpoint` is the
route template (`/repos/{owner}/{repo}`, `graphql`, `archive`), never a concrete path."""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["GitHubMetrics"]

_defaults: dict[int, GitHubMetrics] = {}
_defaults_lock = threading.Lock()


class GitHubMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.requests = Counter(
            "shoal_github_requests_total",
            "Requests sent to GitHub, by route template, method and status (or timeout/error).",
            ["endpoint", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "shoal_github_request_duration_seconds",
            "Time until GitHub's response headers arrived, by route template and method.",
            ["endpoint", "method"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.rate_limit_remaining = Gauge(
            "shoal_github_rate_limit_remaining",
            "Requests (or GraphQL points) left in the current window, as GitHub last reported.",
            ["installation", "resource"],
            registry=registry,
        )

    @classmethod
    def shared(cls, registry: CollectorRegistry = REGISTRY) -> GitHubMetrics:
        """One instance per registry: a registry refuses the same metric name twice."""
        with _defaults_lock:
            metrics = _defaults.get(id(registry))
            if metrics is None:
                metrics = _defaults[id(registry)] = cls(registry)
            return metrics

    def observe_request(self, *, endpoint: str, method: str, status: str, seconds: float) -> None:
        self.requests.labels(endpoint, method, status).inc()
        self.latency.labels(endpoint, method).observe(seconds)

    def observe_rate_limit(self, *, installation: str, resource: str, remaining: int) -> None:
        self.rate_limit_remaining.labels(installation, resource).set(remaining)
