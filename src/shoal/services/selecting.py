"""The `run.select` task: read every `on` source from GitHub, decide, materialize Targets.

Resumable: each source's result is saved as soon as it is fetched, so a selection that
crashes half-way (or is retried after a GitHub error) continues with the sources it has not
finished. Finishing is one transaction: targets, executions and their tasks appear together,
exactly once (guarded by the run's row lock and `selection_done_at`).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog

from shoal.config import Settings
from shoal.domain.clock import Clock
from shoal.domain.errors import ShoalError
from shoal.domain.runs import Run, RunId
from shoal.domain.tasks import Outcome, Task
from shoal.observability.tracing import annotate
from shoal.selection import (
    GitHubReader,
    SourceResult,
    TargetCause,
    TargetDecision,
    decide,
    decode_source_result,
    encode_meta,
    encode_source_result,
    fetch_source,
)
from shoal.selection.heads import BaseRef, current_heads
from shoal.services.runs import execution_task
from shoal.services.spec_cache import spec_of
from shoal.spec import CampaignSpec
from shoal.store import Database
from shoal.store import campaigns as campaign_store
from shoal.store import executions as execution_store
from shoal.store import runs as run_store
from shoal.store import targets as target_store
from shoal.store import tasks as task_store

__all__ = ["SelectionDeps", "run_select_task", "source_key"]

log = structlog.get_logger("shoal.selection")


@dataclass(frozen=True)
class SelectionDeps:
    db: Database
    clock: Clock
    settings: Settings
    # Built on use: a worker without a configured GitHub App still runs, and the run says why
    # it cannot select.
    reader: Callable[[], GitHubReader]


def source_key(index: int, source_json: str, api_url: str) -> str:
    """Identifies 'the same source' across runs, for reuse of a fresh result."""
    text = f"{api_url}\n{index}\n{source_json}"
    return hashlib.sha256(text.encode()).hexdigest()


def run_select_task(deps: SelectionDeps, task: Task) -> Outcome:
    run_id = RunId(int(task.payload["run_id"]))
    with deps.db.transaction() as conn:
        run = run_store.get_run(conn, run_id)
        if run.selection_done_at is not None or run.cancelled_at is not None:
            return Outcome.done()
        version = campaign_store.get_spec_version(conn, run.campaign_id, run.spec_version)
        saved = {s.source_index: s for s in run_store.list_run_sources(conn, run_id)}
    spec = spec_of(version)
    last_attempt = task.attempts + 1 >= task.max_attempts
    with structlog.contextvars.bound_contextvars(run_id=run.id, campaign_id=run.campaign_id):
        annotate(run_id=run.id, campaign_id=run.campaign_id)
        try:
            results, reused = _fetch_all(deps, run, spec, saved)
            decisions = decide(results, spec.exclude)
            if reused:
                decisions = _with_current_bases(deps, run, decisions)
        except ShoalError as exc:
            if exc.retryable and not last_attempt:
                raise
            with deps.db.transaction() as conn:
                run_store.set_selection_error(conn, run.id, f"selection failed: {exc.message}")
            log.warning("selection_failed", error=exc.message)
            return Outcome.done()
        _finish(deps, run, results, decisions)
    return Outcome.done()


def _fetch_all(
    deps: SelectionDeps, run: Run, spec: CampaignSpec, saved: dict[int, run_store.SourceRecord]
) -> tuple[list[SourceResult], bool]:
    """Every source's result, and whether any was fetched before this run started (reused
    from an earlier run, or saved by an earlier attempt of this one)."""
    results: list[SourceResult] = []
    stale = False
    reader: GitHubReader | None = None
    installations: dict[str, int] | None = None
    max_age = deps.settings.selection_max_age_s
    for index, source in enumerate(spec.on):
        if index in saved:
            results.append(decode_source_result(saved[index].result))
            stale = True
            continue
        key = source_key(index, source.model_dump_json(by_alias=True), deps.settings.github_api_url)
        now = deps.clock.now()
        reused = None
        if max_age > 0:
            with deps.db.transaction() as conn:
                reused = run_store.find_fresh_source(
                    conn, key, since=now - timedelta(seconds=max_age)
                )
        if reused is not None:
            result = decode_source_result(reused.result)
            record = run_store.SourceRecord(index, key, reused.fetched_at, reused.result, 0, 0)
            stale = True
            log.info("selection_source_reused", source=index, fetched_at=str(reused.fetched_at))
        else:
            if reader is None:
                reader = deps.reader()
                installations = dict(reader.installations())
            assert installations is not None
            result = fetch_source(index, source, reader, installations, clock=deps.clock)
            record = run_store.SourceRecord(
                index,
                key,
                now,
                encode_source_result(result),
                result.usage.requests,
                result.usage.graphql_points,
            )
            log.info(
                "selection_source_fetched",
                source=index,
                candidates=len(result.candidates),
                requests=result.usage.requests,
                graphql_points=result.usage.graphql_points,
            )
        with deps.db.transaction() as conn:
            run_store.save_run_source(conn, run.id, record)
            run_store.add_selection_usage(
                conn, run.id, requests=record.github_requests, points=record.graphql_points
            )
        results.append(result)
    return results, stale


def _with_current_bases(
    deps: SelectionDeps, run: Run, decisions: Sequence[TargetDecision]
) -> list[TargetDecision]:
    """The decisions with each included repository's base sha read from GitHub now.

    Reused metadata (archived, topics, language...) may be minutes old and that is fine for
    deciding; a base commit is not: a patch built on an old tip undoes what landed since.
    A repository whose base branch is gone now is excluded, saying so.
    """
    refs = [
        BaseRef(d.meta.installation_id, d.meta.owner, d.meta.name, d.base_branch)
        for d in decisions
        if d.included
        and d.meta is not None
        and d.meta.installation_id is not None
        and d.base_branch is not None
    ]
    if not refs:
        return list(decisions)
    heads, usage = current_heads(deps.reader(), refs)
    with deps.db.transaction() as conn:
        run_store.add_selection_usage(
            conn, run.id, requests=usage.requests, points=usage.graphql_points
        )
    log.info("selection_bases_refreshed", repos=len(refs), requests=usage.requests)
    fresh: list[TargetDecision] = []
    for decision in decisions:
        key = decision.full_name.lower()
        if not decision.included or key not in heads:
            fresh.append(decision)
            continue
        sha = heads[key]
        if sha is None:
            reason = f"branch '{decision.base_branch}' not found (read again for this run)"
            fresh.append(
                dataclasses.replace(
                    decision, included=False, cause=TargetCause.BRANCH_NOT_FOUND, reason=reason
                )
            )
            continue
        meta = decision.meta
        if meta is not None:
            meta = dataclasses.replace(meta, head_sha=sha)
        fresh.append(dataclasses.replace(decision, base_sha=sha, meta=meta))
    return fresh


def _new_target(decision: TargetDecision) -> target_store.NewTarget:
    meta = decision.meta
    return target_store.NewTarget(
        repo=meta.full_name if meta is not None else decision.full_name,
        repo_github_id=meta.github_id if meta is not None else None,
        installation_id=meta.installation_id if meta is not None else None,
        included=decision.included,
        reason=decision.reason,
        base_branch=decision.base_branch,
        base_sha=decision.base_sha,
        meta={"cause": decision.cause.value, **(encode_meta(meta) if meta is not None else {})},
    )


def _finish(
    deps: SelectionDeps,
    run: Run,
    results: list[SourceResult],
    decisions: Sequence[TargetDecision],
) -> None:
    problems = [p for r in results for p in r.problems]
    included = [d for d in decisions if d.included]
    if not included:
        problems.append(
            f"the spec selected no repository ({len(decisions)} considered, all excluded)"
            if decisions
            else "the spec selected no repository: its sources found nothing"
        )
    now = deps.clock.now()
    with deps.db.transaction() as conn:
        locked = run_store.lock_run(conn, run.id)
        if locked.selection_done_at is not None or locked.cancelled_at is not None:
            return
        ids = target_store.insert_targets(conn, run.id, [_new_target(d) for d in decisions])
        pairs = [(ids[t.repo], t.repo) for t in map(_new_target, included)]
        execution_store.insert_executions(conn, run.id, pairs)
        for execution_id in execution_store.list_execution_ids(conn, run.id):
            task_store.enqueue(
                conn,
                execution_task(execution_id),
                now=now,
                max_attempts=deps.settings.task_max_attempts,
            )
        if problems:
            run_store.set_selection_error(conn, run.id, "; ".join(problems))
        run_store.mark_selection_done(conn, run.id, now=now)
    log.info(
        "selection_done",
        targets=len(decisions),
        included=len(included),
        problems=len(problems),
    )
