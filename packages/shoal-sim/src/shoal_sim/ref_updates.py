"""Moving refs with compare-and-swap, then telling the world (``PushReceived``).

Every ref change, whether from ``git push``, the refs API or the admin API, goes through
:func:`apply_changes`, so PR heads and webhooks can follow all of them from one event.
"""

from __future__ import annotations

from shoal_sim.git import GitRepo
from shoal_sim.simulator import Simulator
from shoal_sim.state.events import PushReceived, RefChange
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import Repo


def write_change(git: GitRepo, change: RefChange) -> None:
    """Raises :class:`~shoal_sim.git.GitError` when the ref moved meanwhile."""
    if change.deleted:
        git.delete_ref(change.ref, change.before)
    else:
        git.update_ref(change.ref, change.after, change.before)


def announce(
    sim: Simulator, repo: Repo, changes: list[RefChange], *, actor: Actor, via: str, request_id: str
) -> None:
    if not changes:
        return
    now = sim.clock.time()
    with sim.world.lock:
        repo.pushed_at = now
        repo.updated_at = now
    sim.events.publish(PushReceived(repo.id, actor, tuple(changes), via, now, request_id))


def apply_changes(
    sim: Simulator, repo: Repo, changes: list[RefChange], *, actor: Actor, via: str, request_id: str
) -> None:
    git = sim.git.open(repo.id)
    for change in changes:
        write_change(git, change)
    announce(sim, repo, changes, actor=actor, via=via, request_id=request_id)
