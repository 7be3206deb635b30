"""What each GitHub webhook event means for Shoal's changesets, applied in the caller's
transaction.

Every event ends in the changesets' observed state (`Observed`), and a change the reconciler
acts on queues their reconcile task: handlers downstream are level-triggered, so an event
only needs to say "look again", never "do this". Pull requests go through
`services.observing`, the same path as the periodic sync.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.engine import Connection

from shoal.domain.changesets import ChangesetId, Observed
from shoal.domain.errors import InvalidInputError
from shoal.github.errors import GitHubUnavailableError
from shoal.github.pulls_observed import ObservedPR, pull_from_rest
from shoal.reconcile import reconcile_delay
from shoal.services.observing import record_pull
from shoal.services.publishing import enqueue_reconciles
from shoal.services.syncing import sync_soon
from shoal.store import changeset_repos
from shoal.store import changesets as changeset_store

__all__ = [
    "ARCHIVED",
    "DELETED",
    "HANDLED_EVENTS",
    "INACCESSIBLE",
    "Applied",
    "apply_event",
]

# `Observed.repo_status`: why a repository is no longer Shoal's to write to.
ARCHIVED = "archived"
DELETED = "deleted"
INACCESSIBLE = "inaccessible"

_FINAL = ("closed", "merged")
_ZERO_SHA = "0" * 40
# Check conclusions and commit status states, as one checks state (`Observed.checks`).
_PASSED = frozenset({"success", "neutral", "skipped"})
_PENDING = frozenset({"pending", "queued", "in_progress", "requested", "waiting", "expected"})
# Reviews and checks change what only a read of the PR tells (review decision, checks rollup):
# their PRs are read this long after the event, with every other PR due by then, so a burst
# (a CI run's check runs, across many PRs) costs one GraphQL query per installation and 100
# PRs.
SYNC_DELAY_S = 10.0


@dataclass(frozen=True, slots=True)
class Applied:
    """How a delivery ended: `processed` (something was recorded) or `ignored` (nothing of
    Shoal's concerned it), what it did, and how many changesets it touched."""

    outcome: str
    detail: str
    changesets: int = 0


def _ignored(why: str) -> Applied:
    return Applied("ignored", why)


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Owner(_Part):
    login: str


class _Repository(_Part):
    id: int | None = None
    name: str
    full_name: str
    owner: _Owner


class _Installation(_Part):
    id: int


class _Envelope(_Part):
    action: str | None = None
    repository: _Repository | None = None
    installation: _Installation | None = None


class _Listed(_Part):
    id: int | None = None
    full_name: str


class _InstallationRepositories(_Envelope):
    repositories_added: list[_Listed] = Field(default_factory=list)
    repositories_removed: list[_Listed] = Field(default_factory=list)


class _Push(_Envelope):
    ref: str
    after: str
    deleted: bool = False


class _Check(_Part):
    head_sha: str
    status: str | None = None
    conclusion: str | None = None


class _CheckSuite(_Envelope):
    check_suite: _Check


class _CheckRun(_Envelope):
    check_run: _Check


class _Status(_Envelope):
    sha: str
    state: str


class _From(_Part):
    login: str


class _OwnerFrom(_Part):
    user: _From | None = None
    organization: _From | None = None


class _OwnerChange(_Part):
    from_: _OwnerFrom = Field(alias="from")


class _NameFrom(_Part):
    from_: str = Field(alias="from")


class _RepoNameChange(_Part):
    name: _NameFrom


class _Changes(_Part):
    repository: _RepoNameChange | None = None
    owner: _OwnerChange | None = None


class _RepositoryEvent(_Envelope):
    repository: _Repository
    changes: _Changes | None = None


@dataclass(frozen=True, slots=True)
class _Scope:
    conn: Connection
    now: datetime
    max_attempts: int


def apply_event(
    conn: Connection,
    event: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    max_attempts: int,
) -> Applied:
    """Apply one delivery's payload. A payload that lacks what its event must carry raises
    `InvalidInputError` (retrying cannot help)."""
    handler = _HANDLERS.get(event)
    if handler is None:
        return _ignored(f"Shoal does not act on {event!r} events")
    try:
        return handler(_Scope(conn, now, max_attempts), payload)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise InvalidInputError(
            f"the {event} payload is not what GitHub sends ({exc.error_count()} problems, "
            f"first at {where})"
        ) from None
    except GitHubUnavailableError as exc:  # pull_from_rest's word for a body it cannot read
        raise InvalidInputError(f"the {event} payload: {exc.message}") from None


# -- pull requests ----------------------------------------------------------------------


def _pull(payload: dict[str, Any]) -> ObservedPR:
    if not isinstance(payload.get("pull_request"), dict):
        raise InvalidInputError("the payload has no pull_request object")
    return pull_from_rest(payload["pull_request"])


def _observe_pull(scope: _Scope, repo: str, pr: ObservedPR, *, knows_draft: bool = True) -> Applied:
    """`services.observing.observe_pull`, skipping a reading older than the one recorded:
    deliveries are processed in parallel, so an `opened` may be handled after `closed`.
    `knows_draft` False: the body does not say whether the PR is a draft (kept as recorded)."""
    found = changeset_store.find_for_pull(
        scope.conn, repo, number=pr.number, branch=pr.head_ref, lock=True
    )
    touched = 0
    woken = 0
    for changeset in found:
        if changeset.pr_number not in (None, pr.number):
            continue  # the branch's earlier PR (new_pr drift): this reading is not its own
        seen = changeset.observed.pr_updated_at
        if seen is not None and pr.updated_at is not None and pr.updated_at < seen:
            continue
        touched += 1
        reading = pr if knows_draft else dataclasses.replace(pr, draft=changeset.observed.draft)
        if record_pull(
            scope.conn, changeset, reading, now=scope.now, max_attempts=scope.max_attempts
        ):
            woken += 1
    if not touched:
        return _ignored(f"no changeset follows {repo}#{pr.number}")
    return Applied("processed", f"{repo}#{pr.number}: {woken} reconcile(s) queued", touched)


def _on_pull_request(scope: _Scope, payload: dict[str, Any]) -> Applied:
    envelope = _Envelope.model_validate(payload)
    if envelope.repository is None:
        raise InvalidInputError("the payload has no repository")
    return _observe_pull(scope, envelope.repository.full_name, _pull(payload))


def _on_review(scope: _Scope, payload: dict[str, Any]) -> Applied:
    # The review's pull request is GitHub's "simple" body: state, head, base, labels and
    # reviewers still requested, and `draft` only sometimes. What it shows is recorded; the
    # review decision, which only a read of the PR tells, comes with a sync queued for it.
    envelope = _Envelope.model_validate(payload)
    if envelope.repository is None:
        raise InvalidInputError("the payload has no repository")
    pr = _pull(payload)
    knows_draft = "draft" in payload["pull_request"]
    applied = _observe_pull(scope, envelope.repository.full_name, pr, knows_draft=knows_draft)
    found = changeset_store.find_for_pull(
        scope.conn, envelope.repository.full_name, number=pr.number
    )
    _queue_sync(scope, [c.id for c in found if c.pr_number == pr.number])
    return applied


# -- pushes -----------------------------------------------------------------------------


def _on_push(scope: _Scope, payload: dict[str, Any]) -> Applied:
    push = _Push.model_validate(payload)
    if push.repository is None:
        raise InvalidInputError("the payload has no repository")
    if not push.ref.startswith("refs/heads/"):
        return _ignored(f"{push.ref} is not a branch")
    if push.deleted or push.after == _ZERO_SHA:
        # A deleted campaign branch closes its PR (a pull_request event says so); a deleted
        # base branch leaves nothing to rebase on.
        return _ignored(f"{push.ref} was deleted")
    repo = push.repository.full_name
    branch = push.ref.removeprefix("refs/heads/")
    heads = [
        c.id
        for c in changeset_store.find_for_pull(scope.conn, repo, branch=branch)
        if c.branch == branch
    ]
    bases = changeset_repos.on_base_branch(scope.conn, repo, branch)

    def new_head(observed: Observed) -> Observed:
        # Shoal's own push shows here too (the sha it recorded); any other is a foreign commit.
        return dataclasses.replace(observed, head_sha=push.after)

    def new_base(observed: Observed) -> Observed:
        return dataclasses.replace(observed, base_sha=push.after)

    woken = _change(scope, heads, new_head, skip_final=True)
    woken += _change(scope, bases, new_base, skip_final=True)
    if not heads and not bases:
        return _ignored(f"no changeset has {repo}:{branch} as its branch or base")
    return Applied(
        "processed",
        f"{repo}:{branch} at {push.after[:12]}: {len(heads)} head(s), {len(bases)} base(s), "
        f"{woken} reconcile(s) queued",
        len(heads) + len(bases),
    )


# -- checks -----------------------------------------------------------------------------


def _checks_state(status: str | None, conclusion: str | None) -> str:
    if status is not None and status != "completed":
        return "pending" if status in _PENDING else "failure"
    if conclusion is None or conclusion in _PENDING:
        return "pending"
    return "success" if conclusion in _PASSED else "failure"


def _record_checks(scope: _Scope, repo: str, sha: str, state: str) -> Applied:
    ids = changeset_repos.by_head_sha(scope.conn, repo, sha)
    if not ids:
        return _ignored(f"no changeset's PR has {repo}@{sha[:12]} as its head")
    _change(scope, ids, lambda o: dataclasses.replace(o, checks=state), skip_final=False)
    _queue_sync(scope, ids)
    return Applied("processed", f"{repo}@{sha[:12]}: checks {state}", len(ids))


def _on_check_suite(scope: _Scope, payload: dict[str, Any]) -> Applied:
    suite = _CheckSuite.model_validate(payload)
    if suite.repository is None:
        raise InvalidInputError("the payload has no repository")
    check = suite.check_suite
    state = _checks_state(check.status, check.conclusion)
    return _record_checks(scope, suite.repository.full_name, check.head_sha, state)


def _on_check_run(scope: _Scope, payload: dict[str, Any]) -> Applied:
    run = _CheckRun.model_validate(payload)
    if run.repository is None:
        raise InvalidInputError("the payload has no repository")
    check = run.check_run
    state = _checks_state(check.status, check.conclusion)
    return _record_checks(scope, run.repository.full_name, check.head_sha, state)


def _on_status(scope: _Scope, payload: dict[str, Any]) -> Applied:
    status = _Status.model_validate(payload)
    if status.repository is None:
        raise InvalidInputError("the payload has no repository")
    state = "success" if status.state == "success" else _checks_state("completed", status.state)
    return _record_checks(scope, status.repository.full_name, status.sha, state)


# -- installations and repositories ------------------------------------------------------


def _flag(
    scope: _Scope, ids: Sequence[ChangesetId], status: str | None, *, clears: str | None = None
) -> int:
    """Set `repo_status` to `status`; with `status` None, clear it where it is `clears`.
    Returns the reconciles queued."""

    def flagged(observed: Observed) -> Observed:
        if status is None and observed.repo_status != clears:
            return observed
        return dataclasses.replace(observed, repo_status=status)

    return _change(scope, ids, flagged, skip_final=False)


def _on_installation(scope: _Scope, payload: dict[str, Any]) -> Applied:
    envelope = _Envelope.model_validate(payload)
    if envelope.installation is None:
        raise InvalidInputError("the payload has no installation")
    action = envelope.action or ""
    ids = changeset_repos.of_installation(scope.conn, envelope.installation.id)
    if action in ("deleted", "suspend"):
        woken = _flag(scope, ids, INACCESSIBLE)
    elif action in ("unsuspend", "created", "new_permissions_accepted"):
        # What failed for want of access or permission may go through now: look again.
        woken = _flag(scope, ids, None, clears=INACCESSIBLE)
        woken += _wake(scope, ids)
    else:
        return _ignored(f"installation.{action} changes nothing for Shoal")
    if not ids:
        return _ignored(f"no changeset goes through installation {envelope.installation.id}")
    return Applied("processed", f"installation.{action}: {woken} reconcile(s) queued", len(ids))


def _on_installation_repositories(scope: _Scope, payload: dict[str, Any]) -> Applied:
    event = _InstallationRepositories.model_validate(payload)
    removed = changeset_repos.of_repos(
        scope.conn,
        [r.full_name for r in event.repositories_removed],
        [r.id for r in event.repositories_removed if r.id is not None],
    )
    added = changeset_repos.of_repos(
        scope.conn,
        [r.full_name for r in event.repositories_added],
        [r.id for r in event.repositories_added if r.id is not None],
    )
    woken = _flag(scope, removed, INACCESSIBLE)
    woken += _flag(scope, added, None, clears=INACCESSIBLE)
    if not removed and not added:
        return _ignored("no changeset is in the repositories added or removed")
    return Applied(
        "processed",
        f"{len(removed)} changeset(s) lost access, {len(added)} regained it: "
        f"{woken} reconcile(s) queued",
        len(removed) + len(added),
    )


def _on_repository(scope: _Scope, payload: dict[str, Any]) -> Applied:
    event = _RepositoryEvent.model_validate(payload)
    repo = event.repository
    action = event.action or ""
    if action in ("renamed", "transferred"):
        return _moved(scope, event)
    flags: dict[str, tuple[str | None, str | None]] = {
        "archived": (ARCHIVED, None),
        "unarchived": (None, ARCHIVED),
        "deleted": (DELETED, None),
    }
    if action not in flags:
        return _ignored(f"repository.{action} changes nothing for Shoal")
    ids = changeset_repos.of_repos(scope.conn, [repo.full_name], [repo.id] if repo.id else [])
    if not ids:
        return _ignored(f"no changeset is in {repo.full_name}")
    status, clears = flags[action]
    woken = _flag(scope, ids, status, clears=clears)
    return Applied("processed", f"{repo.full_name} {action}: {woken} reconcile(s) queued", len(ids))


def _moved(scope: _Scope, event: _RepositoryEvent) -> Applied:
    repo = event.repository
    changes = event.changes or _Changes()
    owner, name = repo.full_name.split("/", 1)
    if event.action == "renamed" and changes.repository is not None:
        name = changes.repository.name.from_
    if event.action == "transferred" and changes.owner is not None:
        previous = changes.owner.from_.organization or changes.owner.from_.user
        if previous is not None:
            owner = previous.login
    old = f"{owner}/{name}"
    ids = changeset_repos.of_repos(scope.conn, [old], [repo.id] if repo.id else [])
    if not ids:
        return _ignored(f"no changeset is in {old}")
    changeset_repos.rename_repo(
        scope.conn,
        ids,
        repo=repo.full_name,
        org=repo.owner.login,
        repo_github_id=repo.id,
        installation_id=event.installation.id if event.installation else None,
        now=scope.now,
    )
    return Applied("processed", f"{old} is now {repo.full_name}", len(ids))


# -- recording ---------------------------------------------------------------------------


def _change(
    scope: _Scope,
    ids: Sequence[ChangesetId],
    change: Callable[[Observed], Observed],
    *,
    skip_final: bool,
) -> int:
    """Apply `change` to each changeset's observed state (locked, in id order), queueing a
    reconcile where the reconciler has something new to act on. Returns how many."""
    woken = 0
    for changeset_id in sorted(ids):
        changeset = changeset_store.get_changeset(scope.conn, changeset_id, lock=True)
        before = changeset.observed
        if skip_final and before.pr_state in _FINAL:
            continue
        after = change(before)
        if after == before:
            continue
        changeset_store.record_observation(scope.conn, changeset_id, after, now=scope.now)
        if before.pr_state in _FINAL:
            continue
        delay = reconcile_delay(changeset.desired, before, after, now=scope.now)
        if before.repo_status != after.repo_status:
            delay = 0.0
        if delay is not None:
            woken += 1
            enqueue_reconciles(
                scope.conn,
                [changeset_id],
                now=scope.now,
                max_attempts=scope.max_attempts,
                delay_s=delay,
            )
    return woken


def _queue_sync(scope: _Scope, ids: Sequence[ChangesetId]) -> None:
    """A periodic-sync read of these changesets' PRs soon (`SYNC_DELAY_S`), batched with
    every other PR due by then."""
    sync_soon(scope.conn, ids, now=scope.now, delay_s=SYNC_DELAY_S, max_attempts=scope.max_attempts)


def _wake(scope: _Scope, ids: Sequence[ChangesetId]) -> int:
    """Queue a reconcile for each changeset whose PR is not closed or merged."""
    woken = [
        i
        for i in sorted(ids)
        if changeset_store.get_changeset(scope.conn, i).observed.pr_state not in _FINAL
    ]
    enqueue_reconciles(scope.conn, woken, now=scope.now, max_attempts=scope.max_attempts)
    return len(woken)


_Handler = Callable[[_Scope, dict[str, Any]], Applied]

_HANDLERS: dict[str, _Handler] = {
    "pull_request": _on_pull_request,
    "pull_request_review": _on_review,
    "push": _on_push,
    "check_suite": _on_check_suite,
    "check_run": _on_check_run,
    "status": _on_status,
    "installation": _on_installation,
    "installation_repositories": _on_installation_repositories,
    "repository": _on_repository,
}

HANDLED_EVENTS = frozenset(_HANDLERS)
