"""A campaign as the web UI sees it after weeks of work, written straight into the store in a
few bulk statements: spec versions, a finished preview run (targets, executions, per-file diff
summaries) and its changesets in every state, with PR numbers, checks, review decisions and
the state history the burndown draws.

`bench/ui.py` seeds 5,000 changesets with it; `tests/bench/test_ui_seed.py` checks a small
campaign against what the store's own readers say, so the seeding does not rot; the API's
schemathesis test seeds a few so that path parameters name resources that exist.

Deterministic for a given `seed`: the same rows on every run (times relative to `now`).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from shoal.blobs.content import ContentStore, content_key, put_content_addressed
from shoal.domain.changesets import ChangesetState, Desired, Observed, ReconcilerState
from shoal.domain.executions import ExecutionState
from shoal.domain.runs import RunKind
from shoal.spec.parse import parse_spec
from shoal.store import Database
from shoal.store import campaigns as campaign_store
from shoal.store import runs as run_store
from shoal.store.tables import changesets, diff_files, executions, runs, targets

__all__ = ["ORGS", "SeededCampaign", "seed_campaign", "spec_yaml"]

ORGS = ("acme", "globex", "initech", "umbrella", "hooli")

# The share of each state a campaign in its third week shows (sums to 1).
STATE_MIX: tuple[tuple[ChangesetState, float], ...] = (
    (ChangesetState.MERGED, 0.36),
    (ChangesetState.OPEN, 0.24),
    (ChangesetState.DRAFT, 0.04),
    (ChangesetState.CLOSED, 0.05),
    (ChangesetState.FAILED, 0.05),
    (ChangesetState.NEEDS_HUMAN, 0.04),
    (ChangesetState.SCHEDULED, 0.10),
    (ChangesetState.PUBLISHING, 0.02),
    (ChangesetState.UNPUBLISHED, 0.10),
)
CHECKS = (("success", 0.7), ("failure", 0.15), ("pending", 0.1), (None, 0.05))
REVIEWS = (("approved", 0.35), ("review_required", 0.45), ("changes_requested", 0.1), (None, 0.1))
MERGEABLE = (("mergeable", 0.8), ("conflicting", 0.1), ("unknown", 0.1))
FAILURES = (
    ("push_refused", "the App lacks the workflows permission"),
    ("pr_create_failed", "GitHub answered 422: a pull request already exists"),
    ("branch_protected", "the branch is protected"),
)
FILES = (
    ".github/workflows/ci.yml",
    ".github/workflows/release.yml",
    ".github/workflows/lint.yml",
    "Dockerfile",
    "pyproject.toml",
)


def spec_yaml(name: str, version: int) -> str:
    """The YAML of spec version `version` (each version changes the title and the step)."""
    sources = "".join(f"  - org: {org}\n" for org in ORGS)
    return f"""\
name: {name}
description: Move GitHub Actions workflows from actions/checkout@v3 to @v4 (revision {version})
on:
{sources}exclude:
  - archived: true
  - repo: "acme/legacy-*"
steps:
  - name: bump-checkout
    timeout: 2m
    run: |
      set -eu
      [ -d .github/workflows ] || exit 0
      grep -rlE 'actions/checkout@v3' .github/workflows | while IFS= read -r f; do
        sed -i -E 's#actions/checkout@v3#actions/checkout@v4#g' "$f"
      done
      echo revision {version}
changeset:
  title: "ci: bump actions/checkout to v4 (r{version})"
  body: |
    Moves the workflows of this repository to actions/checkout@v4.
    Opened by the Shoal campaign {{{{ campaign.name }}}}.
  labels: [dependencies, github-actions]
  reviewers: [carol]
  draft: false
policy:
  drift: needs_human
  publish:
    max_prs_per_day_per_org: 150
"""


@dataclass
class SeededCampaign:
    campaign_id: int
    name: str
    run_id: int
    versions: int
    repos: list[str]
    states: Counter[ChangesetState] = field(default_factory=Counter)
    executions: Counter[ExecutionState] = field(default_factory=Counter)


def _pick(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _patch(repo: str, stats: list[dict[str, Any]]) -> bytes:
    """A `git diff` of the files in `stats`, with their line counts."""
    parts = []
    for f in stats:
        path, added, deleted = f["path"], f["added"], f["deleted"]
        parts.append(
            f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
            f"@@ -1,{deleted} +1,{added} @@\n"
            + "".join(f"-      - uses: actions/checkout@v3 # {repo} {n}\n" for n in range(deleted))
            + "".join(f"+      - uses: actions/checkout@v4 # {repo} {n}\n" for n in range(added))
        )
    return "".join(parts).encode()


def seed_campaign(
    db: Database,
    *,
    name: str = "ui-bench",
    changesets_count: int = 5000,
    versions: int = 3,
    seed: int = 17,
    now: datetime | None = None,
    batch: int = 1000,
    blobs: ContentStore | None = None,
) -> SeededCampaign:
    """Seed one campaign with `changesets_count` repositories (one preview execution and one
    changeset each) over the last three weeks before `now`. With `blobs`, each patch is
    stored there too (else the rows name patch objects that do not exist)."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    start = now - timedelta(days=21)
    # Every changeset's repository got a patch; a tenth more repositories of the run did not
    # (no change, or a failed step) and have no changeset.
    total = changesets_count + changesets_count // 10
    repos = [f"{ORGS[i % len(ORGS)]}/service-{i:05d}" for i in range(total)]
    with db.transaction() as conn:
        campaign_id = campaign_store.insert_campaign(
            conn, name=name, description="", created_by="bench", now=start
        )
        if campaign_id is None:
            raise ValueError(f"campaign {name!r} already exists")
        version_ids = []
        for number in range(1, versions + 1):
            parsed = parse_spec(spec_yaml(name, number))
            made = campaign_store.add_spec_version(
                conn,
                campaign_id,
                spec_hash=parsed.spec_hash,
                yaml_text=parsed.yaml_text,
                canonical_json=parsed.canonical_json,
                created_by="bench",
                now=start + timedelta(days=number),
            )
            version_ids.append((made.id, made.version, made.spec_hash))
        campaign_store.touch_campaign(
            conn,
            campaign_id,
            now=start + timedelta(days=versions),
            description=parsed.spec.description,
        )
        latest_id = version_ids[-1][0]
        run_id = run_store.insert_run(
            conn,
            campaign_id=campaign_id,
            spec_version_id=latest_id,
            kind=RunKind.PREVIEW,
            created_by="bench",
            now=start + timedelta(days=versions),
        )
        conn.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(selection_done_at=start + timedelta(days=versions, minutes=2))
        )
        seeded = SeededCampaign(
            campaign_id=campaign_id,
            name=name,
            run_id=run_id,
            versions=versions,
            repos=repos[:changesets_count],
        )
        ran_at = start + timedelta(days=versions, minutes=3)
        for offset in range(0, len(repos), batch):
            chunk = repos[offset : offset + batch]
            execution_ids = _seed_executions(conn, rng, seeded, chunk, ran_at, blobs)
            _seed_changesets(
                conn,
                rng,
                seeded,
                [repo for repo in chunk if execution_ids[repo][1] is not None],
                execution_ids,
                version_ids,
                start=start + timedelta(days=versions),
                now=now,
            )
    return seeded


def _seed_executions(
    conn: Connection,
    rng: random.Random,
    seeded: SeededCampaign,
    repos: list[str],
    ran_at: datetime,
    blobs: ContentStore | None,
) -> dict[str, tuple[int, str | None, str | None]]:
    """The executions of `repos`: repo -> (execution id, patch key, patch sha256)."""
    target_ids = dict(
        conn.execute(
            targets.insert().returning(targets.c.repo, targets.c.id),
            [
                {
                    "run_id": seeded.run_id,
                    "repo": repo,
                    "repo_github_id": 100_000 + int(repo.rsplit("-", 1)[1]),
                    "installation_id": 1 + ORGS.index(repo.split("/")[0]),
                    "included": True,
                    "reason": "included",
                    "base_branch": "main",
                    "base_sha": _sha(repo)[:40],
                }
                for repo in repos
            ],
        ).all()
    )
    rows = []
    files: list[tuple[str, list[dict[str, Any]]]] = []
    with_changesets = set(seeded.repos)
    for repo in repos:
        state = (
            ExecutionState.PATCH
            if repo in with_changesets
            else _pick(rng, ((ExecutionState.NO_CHANGE, 0.7), (ExecutionState.FAILED, 0.3)))
        )
        seeded.executions[state] += 1
        changed = rng.sample(FILES, rng.randint(1, 3)) if state is ExecutionState.PATCH else []
        stats = [
            {
                "path": path,
                "old_path": None,
                "status": "modified",
                "added": rng.randint(1, 6),
                "deleted": rng.randint(1, 6),
                "binary": False,
                "size": rng.randint(300, 4000),
            }
            for path in changed
        ]
        files.append((repo, stats))
        patch = _patch(repo, stats)
        if patch and blobs is not None:
            put_content_addressed(blobs, "patches", patch)
        took = timedelta(seconds=rng.uniform(0.5, 40))
        rows.append(
            {
                "run_id": seeded.run_id,
                "target_id": target_ids[repo],
                "repo": repo,
                "state": state.value,
                "reason": "step_exit_code" if state is ExecutionState.FAILED else None,
                "message": "step bump-checkout exited with 2"
                if state is ExecutionState.FAILED
                else "",
                "attempts": 1,
                "patch_key": content_key("patches", _sha256(patch)) if patch else None,
                "patch_sha256": _sha256(patch) if patch else None,
                "patch_bytes": len(patch),
                "files_changed": len(stats),
                "lines_added": sum(f["added"] for f in stats),
                "lines_deleted": sum(f["deleted"] for f in stats),
                "log_tail": f"+ grep -rlE actions/checkout@v3 .github/workflows\n{repo}: done\n",
                "steps": [
                    {
                        "name": "bump-checkout",
                        "exit_code": 2 if state is ExecutionState.FAILED else 0,
                    }
                ],
                "started_at": ran_at,
                "finished_at": ran_at + took,
                "updated_at": ran_at + took,
            }
        )
    ids = dict(
        conn.execute(executions.insert().returning(executions.c.repo, executions.c.id), rows).all()
    )
    diff_rows = [
        {"execution_id": ids[repo], "ordinal": n, **stat}
        for repo, stats in files
        for n, stat in enumerate(stats)
    ]
    if diff_rows:
        conn.execute(diff_files.insert(), diff_rows)
    patches = {row["repo"]: (row["patch_key"], row["patch_sha256"]) for row in rows}
    return {repo: (int(i), *patches[repo]) for repo, i in ids.items()}


def _seed_changesets(
    conn: Connection,
    rng: random.Random,
    seeded: SeededCampaign,
    repos: list[str],
    execution_ids: dict[str, tuple[int, str | None, str | None]],
    version_ids: list[tuple[int, int, str]],
    *,
    start: datetime,
    now: datetime,
) -> None:
    """Insert each changeset as scheduled at its publish time, then move it to its final
    state at a later time: the state-history trigger records both, as the burndown reads."""
    if not repos:
        return
    span = (now - start).total_seconds()
    inserts = []
    finals = []
    for repo in repos:
        org = repo.split("/")[0]
        execution_id, patch_key, patch_sha256 = execution_ids[repo]
        state: ChangesetState = _pick(rng, STATE_MIX)
        seeded.states[state] += 1
        # Most changesets carry the latest spec; the older ones are behind.
        _vid, version, spec_hash = rng.choices(
            version_ids, weights=[1] * (len(version_ids) - 1) + [6]
        )[0]
        desired = Desired(
            publish=True,
            draft=state is ChangesetState.DRAFT,
            base_branch="main",
            base_sha=_sha(repo)[:40],
            default_branch="main",
            patch_key=patch_key or "",
            patch_sha256=patch_sha256 or "",
            title=f"ci: bump actions/checkout to v4 (r{version})",
            body="Moves the workflows of this repository to actions/checkout@v4.",
            labels=("dependencies", "github-actions"),
            reviewers=("carol",),
            team_reviewers=(),
            assignees=(),
            commit_message="ci: bump actions/checkout to v4",
            author_name="Shoal",
            author_email="shoal@example.com",
            campaign_name=seeded.name,
            spec_version=version,
            spec_hash=spec_hash,
            run_id=seeded.run_id,
            execution_id=execution_id,
            drift="needs_human",
        )
        published = start + timedelta(seconds=rng.uniform(0, span * 0.5))
        settled = published + timedelta(seconds=rng.uniform(60, (now - published).total_seconds()))
        unpublished = state is ChangesetState.UNPUBLISHED
        inserts.append(
            {
                "campaign_id": seeded.campaign_id,
                "repo": repo,
                "org": org,
                "branch": f"shoal/{seeded.name}",
                "installation_id": 1 + ORGS.index(org),
                "repo_github_id": 100_000 + int(repo.rsplit("-", 1)[1]),
                "publish": not unpublished,
                "desired": {} if unpublished else desired.to_json(),
                "observed": {},
                "reconciler_state": (
                    ReconcilerState.IDLE.value if unpublished else ReconcilerState.QUEUED.value
                ),
                "publish_requested_at": None if unpublished else published,
                "publish_batch": None,
                "created_at": published,
                "updated_at": published,
            }
        )
        finals.append((repo, state, settled))
    ids = dict(
        conn.execute(
            changesets.insert().returning(changesets.c.repo, changesets.c.id), inserts
        ).all()
    )
    updates = []
    for repo, state, settled in finals:
        values = _final_state(rng, repo, state, settled, now)
        if values is not None:
            updates.append({"b_id": ids[repo], **values})
    if not updates:
        return
    stmt = (
        changesets.update()
        .where(changesets.c.id == sa.bindparam("b_id"))
        .values(
            observed=sa.bindparam("b_observed", type_=changesets.c.observed.type),
            pr_number=sa.bindparam("b_pr_number"),
            reconciler_state=sa.bindparam("b_reconciler_state"),
            failure_reason=sa.bindparam("b_failure_reason"),
            failure_message=sa.bindparam("b_failure_message"),
            published_at=sa.bindparam("b_published_at"),
            drift=sa.bindparam("b_drift", type_=JSONB(none_as_null=True)),
            attempts=sa.bindparam("b_attempts"),
            budget_eta=sa.bindparam("b_budget_eta"),
            updated_at=sa.bindparam("b_updated_at"),
        )
    )
    conn.execute(stmt, updates)


def _final_state(
    rng: random.Random, repo: str, state: ChangesetState, settled: datetime, now: datetime
) -> dict[str, Any] | None:
    if state is ChangesetState.UNPUBLISHED:
        return None
    number = int(repo.rsplit("-", 1)[1])
    pr_number = 1 + (number * 7919) % 4000
    with_pr = state in {
        ChangesetState.OPEN,
        ChangesetState.DRAFT,
        ChangesetState.MERGED,
        ChangesetState.CLOSED,
        ChangesetState.NEEDS_HUMAN,
    }
    observed = Observed()
    if with_pr:
        org, name = repo.split("/")
        pr_state = {ChangesetState.MERGED: "merged", ChangesetState.CLOSED: "closed"}.get(
            state, "open"
        )
        observed = Observed(
            branch_sha=_sha(repo + "head")[:40],
            pr_number=pr_number,
            pr_node_id=f"PR_{number:08d}",
            pr_state=pr_state,
            pr_url=f"https://github.example.com/{org}/{name}/pull/{pr_number}",
            draft=state is ChangesetState.DRAFT,
            labels=("dependencies", "github-actions"),
            reviewers=("carol",),
            head_sha=_sha(repo + "head")[:40],
            base_sha=_sha(repo)[:40],
            mergeable=_pick(rng, MERGEABLE),
            review_decision=_pick(rng, REVIEWS),
            checks=_pick(rng, CHECKS),
            pr_updated_at=(settled - timedelta(hours=rng.uniform(0, 240))).isoformat(),
            synced_at=now.isoformat(),
        )
    reconciler = {
        ChangesetState.FAILED: ReconcilerState.FAILED,
        ChangesetState.SCHEDULED: ReconcilerState.WAITING,
        ChangesetState.PUBLISHING: ReconcilerState.PROCESSING,
    }.get(state, ReconcilerState.COMPLETED)
    failure = rng.choice(FAILURES) if state is ChangesetState.FAILED else (None, None)
    return {
        "b_observed": observed.to_json(),
        "b_pr_number": pr_number if with_pr else None,
        "b_reconciler_state": reconciler.value,
        "b_failure_reason": failure[0],
        "b_failure_message": failure[1],
        "b_published_at": settled if with_pr else None,
        "b_drift": (
            {
                "kind": "foreign_commits",
                "detail": "a commit Shoal did not push",
                "policy": "needs_human",
                "since": settled.isoformat(),
            }
            if state is ChangesetState.NEEDS_HUMAN
            else None
        ),
        "b_attempts": 3 if state is ChangesetState.FAILED else 1,
        "b_budget_eta": now + timedelta(hours=rng.uniform(1, 30))
        if state is ChangesetState.SCHEDULED
        else None,
        "b_updated_at": settled,
    }
