"""What the pull-request actions need, one narrow Protocol per need.

The modules of this package (``actions``, ``labels``, ``people``, ``merging``,
``automerge``, ``ci``, ``sync``, ``bodies``, ``webhook_bodies``) take one of the composite
ports at the bottom of this module and call nothing else; ``engine.PullsEngine`` composes
them and is the one class that satisfies them all. This module imports none of those
modules, so the dependencies run one way: engine -> actions -> ports -> records.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from shoal_sim.git import GitRepo
from shoal_sim.pulls.checks import CheckStore
from shoal_sim.pulls.mergeability import MergeInputs
from shoal_sim.pulls.records import DiffStats, PullRequest
from shoal_sim.state.events import RefChange
from shoal_sim.state.ledger import Actor
from shoal_sim.state.models import BranchProtection, Repo, User
from shoal_sim.state.world import World
from shoal_sim.urls import Urls


class Ground(Protocol):
    """The world the records live in, with its ids, clock, accounts and git."""

    @property
    def world(self) -> World: ...

    def new_id(self, kind: str, type_name: str) -> tuple[int, str]:
        """A fresh database id of ``kind`` and its node id as ``type_name``."""
        ...

    def now(self) -> float: ...

    def git(self, repo: Repo) -> GitRepo: ...

    def login(self, actor: Actor) -> str:
        """The account shown as the author of what ``actor`` does."""
        ...

    def account(self, login: str) -> User | None: ...


class Announcer(Protocol):
    """Publishing what changed, once the change is committed."""

    def announce(
        self, repo: Repo, pull: PullRequest, action: str, actor: Actor, **extra: Any
    ) -> None:
        """A ``pull_request`` action; ``extra`` (a label, an assignee) reaches webhooks."""
        ...

    def publish(self, event: object) -> None:
        """Any other event of ``state/pull_events.py``."""
        ...

    def event_urls(self) -> Urls:
        """URLs for objects embedded in events."""
        ...


class Derivations(Protocol):
    """What GitHub computes about a pull request."""

    def find(self, repo: Repo, number: int) -> PullRequest | None: ...

    def base_tip(self, repo: Repo, pull: PullRequest) -> str: ...

    def conflicts(self, repo: Repo, pull: PullRequest, *, lazy: bool = True) -> bool | None: ...

    def stats(self, repo: Repo, pull: PullRequest) -> DiffStats: ...

    def protection(self, repo: Repo, branch: str) -> BranchProtection | None: ...

    def inputs(
        self, repo: Repo, pull: PullRequest, *, lazy: bool = True, bypass: bool = False
    ) -> MergeInputs: ...


class Checks(Protocol):
    """The statuses, check suites and check runs reported by CI."""

    @property
    def checks(self) -> CheckStore: ...


class RefMoves(Protocol):
    """Moving branches as GitHub's own writes do, and the merges under way."""

    # (repository id, number) of pull requests being merged right now: a merge publishes
    # pushes, which may try to auto-merge the same pull request again.
    @property
    def merging(self) -> set[tuple[int, int]]: ...

    @property
    def merging_lock(self) -> threading.Lock: ...

    def move_refs(self, repo: Repo, changes: list[RefChange], actor: Actor) -> None:
        """Compare-and-swap ``changes`` and announce the push; raises ``GitError``."""
        ...

    def record(
        self,
        actor: Actor,
        *,
        method: str,
        path: str,
        operation: str,
        repo: Repo,
        status: int,
        detail: dict[str, Any],
    ) -> None:
        """A ledger entry for a write GitHub made on its own (an auto-merge)."""
        ...


class Editing(Ground, Announcer, Derivations, Protocol):
    """``actions``: opening and editing pull requests."""


class Labelling(Ground, Announcer, Protocol):
    """``labels``: repository labels and the labels of pull requests."""


class People(Ground, Announcer, Protocol):
    """``people``: assignees, review requests, reviews, comments."""


class Merging(Ground, Announcer, Derivations, RefMoves, Protocol):
    """``merging`` and ``automerge``: merges and branch updates."""


class Reporting(Merging, Checks, Protocol):
    """``ci``: statuses and check runs, which may complete an auto-merge."""


class Following(Merging, Protocol):
    """``sync``: following pushes to heads and bases."""


class Rendering(Ground, Derivations, Checks, Protocol):
    """``bodies`` and ``webhook_bodies``: REST bodies of the records."""
