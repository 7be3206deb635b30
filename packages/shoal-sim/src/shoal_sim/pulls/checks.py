"""Commit statuses and check runs/suites per commit, and what GitHub derives from them:
the combined status, each required context's outcome and the checks rollup.

The store only holds records; the functions below it are pure so that the merge rules
(``mergeability``) and the REST views can share them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from shoal_sim.pulls.records import CheckRun, CheckSuite, CommitStatus

PASSING_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})


class CheckStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.statuses: dict[tuple[int, str], list[CommitStatus]] = {}  # oldest first
        self.status_by_id: dict[int, CommitStatus] = {}
        self.suites: dict[int, CheckSuite] = {}
        self.runs: dict[int, CheckRun] = {}

    def add_status(self, repo_id: int, status: CommitStatus) -> None:
        with self.lock:
            self.statuses.setdefault((repo_id, status.sha), []).append(status)
            self.status_by_id[status.id] = status

    def statuses_of(self, repo_id: int, sha: str) -> list[CommitStatus]:
        with self.lock:
            return list(self.statuses.get((repo_id, sha), ()))

    def runs_of(self, repo_id: int, sha: str) -> list[CheckRun]:
        with self.lock:
            return [r for r in self.runs.values() if r.repo_id == repo_id and r.head_sha == sha]

    def suites_of(self, repo_id: int, sha: str) -> list[CheckSuite]:
        with self.lock:
            return [s for s in self.suites.values() if s.repo_id == repo_id and s.head_sha == sha]

    def suite_for(self, repo_id: int, app_id: int, sha: str) -> CheckSuite | None:
        with self.lock:
            return next(
                (s for s in self.suites_of(repo_id, sha) if s.app_id == app_id),
                None,
            )

    def runs_of_suite(self, suite_id: int) -> list[CheckRun]:
        with self.lock:
            return [r for r in self.runs.values() if r.suite_id == suite_id]


def latest_statuses(statuses: Iterable[CommitStatus]) -> list[CommitStatus]:
    """The newest status of every context, newest first ("latest wins")."""
    latest: dict[str, CommitStatus] = {}
    for status in statuses:
        latest[status.context] = status
    return sorted(latest.values(), key=lambda s: s.id, reverse=True)


def combined_state(statuses: Iterable[CommitStatus]) -> str:
    """GitHub's rules: failure if any is error/failure, pending if none or any pending."""
    states = {s.state for s in latest_statuses(statuses)}
    if states & {"error", "failure"}:
        return "failure"
    if not states or "pending" in states:
        return "pending"
    return "success"


def latest_runs(runs: Iterable[CheckRun]) -> list[CheckRun]:
    """The newest run of every (app, name), GitHub's ``filter=latest``."""
    latest: dict[tuple[int, str], CheckRun] = {}
    for run in sorted(runs, key=lambda r: r.id):
        latest[(run.app_id, run.name)] = run
    return sorted(latest.values(), key=lambda r: r.id, reverse=True)


def run_outcome(run: CheckRun) -> str:
    if run.status != "completed":
        return "pending"
    return "success" if run.conclusion in PASSING_CONCLUSIONS else "failure"


def status_outcome(status: CommitStatus) -> str:
    return {"success": "success", "pending": "pending"}.get(status.state, "failure")


def context_outcomes(statuses: list[CommitStatus], runs: list[CheckRun]) -> dict[str, str]:
    """context or check name -> ``success`` | ``pending`` | ``failure``."""
    outcomes = {s.context: status_outcome(s) for s in latest_statuses(statuses)}
    # A check run and a status may share a name; the check run is what GitHub shows first.
    outcomes.update({r.name: run_outcome(r) for r in reversed(latest_runs(runs))})
    return outcomes


def rollup(statuses: list[CommitStatus], runs: list[CheckRun]) -> str | None:
    """GraphQL ``StatusState`` of everything reported on a commit; ``None`` if nothing."""
    latest = latest_statuses(statuses)
    outcomes = set(context_outcomes(statuses, runs).values())
    if not outcomes:
        return None
    if "failure" in outcomes:
        errored = any(s.state == "error" for s in latest)
        return "ERROR" if errored and not runs else "FAILURE"
    return "PENDING" if "pending" in outcomes else "SUCCESS"


def suite_state(runs: list[CheckRun]) -> tuple[str, str | None]:
    """A suite's ``(status, conclusion)`` from its runs."""
    if not runs:
        return "queued", None
    if any(r.status != "completed" for r in runs):
        started = any(r.status == "in_progress" for r in runs)
        return ("in_progress" if started else "queued"), None
    conclusions = [r.conclusion for r in latest_runs(runs)]
    for worst in ("action_required", "cancelled", "timed_out", "failure"):
        if worst in conclusions:
            return "completed", worst
    return "completed", "success" if "success" in conclusions else "neutral"
