"""Prometheus metrics of the GitHub adapter. Labels stay low-cardinality: `endpoint` is the
route template (`/repos/{owner}/{repo}`, `graphql`, `archive`), never a concrete path; `class`
is the code of Shoal's error tree (a fixed list); `installation` is an installation id (one per
GitHub org or user the App is installed on, or `app` for the App's own calls)."""

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
        self.rate_limit_limit = Gauge(
            "shoal_github_rate_limit_limit",
            "Size of the current rate-limit window (requests or GraphQL points), as GitHub last "
            "reported; headroom is remaining / limit.",
            ["installation", "resource"],
            registry=registry,
        )
        self.errors = Counter(
            "shoal_github_errors",
            "GitHub calls (API and git over HTTP) that failed, by error class "
            "(github_unavailable, github_rate_limited, github_secondary_rate_limited, "
            "github_not_found, github_forbidden, "
            "github_permission_missing, github_validation_failed, github_bad_credentials, "
            "github_conflict, github_bad_request, github_graphql_failed, ...).",
            ["class"],
            registry=registry,
        )
        self.secondary_pauses = Counter(
            "shoal_github_secondary_limit_pauses",
            "Times an installation's calls were paused after GitHub answered with a secondary "
            "rate limit.",
            ["installation"],
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

    def observe_rate_limit(
        self, *, installation: str, resource: str, remaining: int, limit: int | None = None
    ) -> None:
        self.rate_limit_remaining.labels(installation, resource).set(remaining)
        if limit is not None:
            self.rate_limit_limit.labels(installation, resource).set(limit)

    def observe_error(self, error_class: str) -> None:
        self.errors.labels(error_class).inc()

    def observe_secondary_pause(self, *, installation: str) -> None:
        self.secondary_pauses.labels(installation).inc()
