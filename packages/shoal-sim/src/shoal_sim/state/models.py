"""Records of the simulated world. Mutable on purpose: the world changes them under its lock.

Git content (refs, commits, files) is not here: the bare repositories on disk are its
only source of truth. Pull requests, issues and labels hang off :class:`Repo`; the
``pulls`` package keeps them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Permission(enum.IntEnum):
    """Repository roles in increasing power; comparisons mean "at least"."""

    NONE = 0
    READ = 1
    TRIAGE = 2
    WRITE = 3
    MAINTAIN = 4
    ADMIN = 5

    @classmethod
    def parse(cls, name: str) -> Permission:
        aliases = {"pull": "read", "push": "write"}
        return cls[aliases.get(name, name).upper()]


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    PRIVATE = "private"
    INTERNAL = "internal"


@dataclass
class User:
    id: int
    node_id: str
    login: str
    name: str | None = None
    email: str | None = None
    type: str = "User"  # "Bot" for app bot users
    created_at: float = 0.0
    site_admin: bool = False


@dataclass
class Org:
    id: int
    node_id: str
    login: str
    name: str | None = None
    created_at: float = 0.0
    members: dict[str, str] = field(default_factory=dict)  # login -> "admin" | "member"
    default_repository_permission: Permission = Permission.READ
    rulesets: list[Ruleset] = field(default_factory=list)


@dataclass
class Ruleset:
    """A branch ruleset of an organization or of one repository: which branches of which
    repositories, rules in GitHub's shape (`{"type": "pull_request", "parameters": {...}}`)
    and who may bypass them (GitHub's `bypass_actors` items). Patterns are fnmatch patterns;
    `~ALL` matches everything and `~DEFAULT_BRANCH` a repository's default branch."""

    id: int
    name: str
    org: str
    enforcement: str = "active"  # "active", "disabled" or "evaluate" (reported, not enforced)
    include: list[str] = field(default_factory=lambda: ["~ALL"])  # refs/heads/... patterns
    exclude: list[str] = field(default_factory=list)
    repositories: list[str] = field(default_factory=lambda: ["~ALL"])  # repository names
    repositories_exclude: list[str] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    # {"actor_id": int | None, "actor_type": str, "bypass_mode": "always" | "pull_request"}
    bypass_actors: list[dict[str, Any]] = field(default_factory=list)
    repo_id: int | None = None  # set for a repository's own ruleset (``repositories`` unused)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass
class Team:
    id: int
    node_id: str
    org: str
    slug: str
    name: str
    members: list[str] = field(default_factory=list)
    repos: dict[int, Permission] = field(default_factory=dict)


@dataclass
class BranchProtection:
    """Classic branch protection for one branch name (patterns are not modelled yet)."""

    required_status_checks: list[str] | None = None
    strict: bool = False
    required_approving_review_count: int | None = None  # None: pull requests not required
    dismiss_stale_reviews: bool = False
    require_code_owner_reviews: bool = False
    enforce_admins: bool = False
    allow_force_pushes: bool = False
    allow_deletions: bool = False
    required_linear_history: bool = False
    lock_branch: bool = False
    # Who may push (``restrictions``): None lets everyone with write access push.
    restrictions: PushRestrictions | None = None


@dataclass
class PushRestrictions:
    """The users (logins), teams (slugs of the repository's org) and Apps (slugs) allowed to
    push to a protected branch; everyone else is refused with GH006."""

    users: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)


@dataclass
class Repo:
    id: int
    node_id: str
    owner: str  # org or user login
    name: str
    default_branch: str = "main"
    visibility: Visibility = Visibility.PRIVATE
    archived: bool = False
    fork: bool = False
    parent: str | None = None  # full name of the repository this one forks
    language: str | None = None
    topics: list[str] = field(default_factory=list)
    description: str | None = None
    homepage: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    pushed_at: float = 0.0
    size_kb: int = 0
    collaborators: dict[str, Permission] = field(default_factory=dict)
    protection: dict[str, BranchProtection] = field(default_factory=dict)
    # GHES-style policy: branches (exact names) where any force push is refused with GH003.
    force_push_ban: set[str] = field(default_factory=set)
    allow_auto_merge: bool = False
    delete_branch_on_merge: bool = False
    allow_merge_commit: bool = True
    allow_squash_merge: bool = True
    allow_rebase_merge: bool = True
    # Kept by the pulls package: number -> record, and the next issue/PR number.
    pulls: dict[int, Any] = field(default_factory=dict)
    issues: dict[int, Any] = field(default_factory=dict)
    labels: dict[str, Any] = field(default_factory=dict)
    next_number: int = 1
    rulesets: list[Ruleset] = field(default_factory=list)  # the repository's own

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def private(self) -> bool:
        return self.visibility is not Visibility.PUBLIC


@dataclass
class App:
    id: int
    node_id: str
    slug: str
    name: str
    client_id: str
    owner: str
    private_key_pem: str
    public_key_pem: str
    permissions: dict[str, str]
    events: list[str]
    webhook_url: str | None
    webhook_secret: str | None
    bot_user_id: int
    description: str | None = None
    created_at: float = 0.0


@dataclass
class Installation:
    id: int
    app_id: int
    account: str  # org login
    repository_selection: str  # "all" | "selected"
    repository_ids: set[int] = field(default_factory=set)
    permissions: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    created_at: float = 0.0
    suspended_at: float | None = None


@dataclass
class InstallationToken:
    token: str
    installation_id: int
    expires_at: float
    permissions: dict[str, str]
    # None means every repository the installation can reach, now and later.
    repository_ids: frozenset[int] | None
    revoked: bool = False


@dataclass
class PersonalAccessToken:
    token: str
    user: str
    fine_grained: bool
    scopes: list[str] = field(default_factory=list)  # classic tokens
    permissions: dict[str, str] = field(default_factory=dict)  # fine-grained tokens
    repository_ids: frozenset[int] | None = None  # fine-grained: None = all the user can see
    expires_at: float | None = None
    revoked: bool = False
