"""Following pushes: a push to a pull request's head branch moves its head (``synchronize``,
dismissing stale approvals when protection asks), a deleted head branch is noted, and any
push may let a waiting auto-merge go ahead. Base pushes need nothing more: mergeability is
keyed by (base tip, head) and recomputed on the next read.
"""

from __future__ import annotations

from shoal_sim.pulls import automerge
from shoal_sim.pulls.people import dismiss_stale_approvals
from shoal_sim.pulls.ports import Following
from shoal_sim.pulls.records import PullRequest
from shoal_sim.state.events import PushReceived


def on_push(engine: Following, event: PushReceived) -> None:
    repo = engine.world.repos.get(event.repo_id)
    if repo is None:
        return
    for change in event.changes:
        if not change.ref.startswith("refs/heads/"):
            continue
        branch = change.ref.removeprefix("refs/heads/")
        heads = [
            p
            for p in list(repo.pulls.values())
            if isinstance(p, PullRequest)
            and p.state == "open"
            and p.head_ref == branch
            and (repo.id, p.number) not in engine.merging
        ]
        for pull in heads:
            if change.deleted:
                with engine.world.lock:
                    pull.head_deleted = True
                continue
            before = pull.head_sha
            if before == change.after:
                continue
            with engine.world.lock:
                pull.head_sha, pull.head_deleted = change.after, False
                pull.updated_at = event.time
            engine.announce(
                repo, pull, "synchronize", event.actor, before=before, after=change.after
            )
            rule = engine.protection(repo, pull.base_ref)
            if rule is not None and rule.dismiss_stale_reviews:
                dismiss_stale_approvals(engine, repo, pull, event.actor)
    automerge.fire_ready(engine, repo)
