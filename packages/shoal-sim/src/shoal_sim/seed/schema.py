"""The seed document's shape (pydantic, strict: unknown keys are errors)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shoal_sim.state.models import BranchProtection


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProtectionSeed(_Strict):
    required_status_checks: list[str] | None = None
    strict: bool = False
    required_approving_review_count: int | None = None
    enforce_admins: bool = False
    allow_force_pushes: bool = False
    allow_deletions: bool = False
    required_linear_history: bool = False

    def to_state(self) -> BranchProtection:
        return BranchProtection(**self.model_dump())


Visibility = Literal["public", "private", "internal"]


class RepoSeed(_Strict):
    name: str
    description: str | None = None
    homepage: str | None = None
    default_branch: str = "main"
    visibility: Visibility = "private"
    archived: bool = False
    fork: bool = False
    parent: str | None = None
    language: str | None = None
    topics: list[str] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict)
    collaborators: dict[str, str] = Field(default_factory=dict)
    # Branch name -> rule; the key "default" means the repository's default branch.
    protection: dict[str, ProtectionSeed] = Field(default_factory=dict)
    force_push_ban: list[str] = Field(default_factory=list)
    allow_auto_merge: bool = False
    delete_branch_on_merge: bool = False


class GenerateSeed(_Strict):
    """Many similar repositories: ``name`` is a ``str.format`` pattern over ``i``; file
    contents and descriptions are ``string.Template`` texts over ``$name``, ``$org``,
    ``$language``, ``$default_branch`` and ``$i`` (``${{ ... }}`` in workflows is left alone).
    """

    count: int = Field(ge=0, le=100_000)
    name: str = "repo-{i:04d}"
    start: int = 1
    description: str | None = "The $name service"
    languages: list[str] = Field(default_factory=lambda: ["Python"])
    default_branches: list[str] = Field(default_factory=lambda: ["main"])
    visibility: Visibility = "private"
    archived_every: int = 0  # every Nth repository is archived (0: none)
    fork_every: int = 0  # every Nth repository is a fork (0: none)
    topics: list[str] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict)
    files_by_language: dict[str, dict[str, str]] = Field(default_factory=dict)
    protection: dict[str, ProtectionSeed] = Field(default_factory=dict)
    allow_auto_merge: bool = False


# Repository roles by GitHub's names; "pull" and "push" are the REST API's older aliases.
RepoPermission = Literal["read", "pull", "triage", "write", "push", "maintain", "admin"]
# In a team's ``repos``: every repository of the org that exists once the seed is applied.
ALL_REPOS = "*"


class TeamSeed(_Strict):
    slug: str
    name: str | None = None
    members: list[str] = Field(default_factory=list)
    # Repository name -> permission; ``"*"`` grants every repository of the org, and named
    # repositories override it (e.g. ``{"*": write, payments: maintain}``).
    repos: dict[str, RepoPermission] = Field(default_factory=dict)


class OrgSeed(_Strict):
    login: str
    name: str | None = None
    members: dict[str, Literal["admin", "member"]] = Field(default_factory=dict)
    # GitHub's "base permissions": what every member may do in every repository of the org.
    default_repository_permission: Literal["none", "read", "write", "admin"] = "read"
    teams: list[TeamSeed] = Field(default_factory=list)
    repos: list[RepoSeed] = Field(default_factory=list)
    generate: list[GenerateSeed] = Field(default_factory=list)


class TokenSeed(_Strict):
    token: str | None = None  # fixed value, handy for demos; generated when omitted
    fine_grained: bool = False
    scopes: list[str] = Field(default_factory=lambda: ["repo", "workflow", "read:org"])
    permissions: dict[str, str] = Field(default_factory=dict)
    repositories: list[str] | None = None  # full names, fine-grained tokens only


class UserSeed(_Strict):
    login: str
    name: str | None = None
    email: str | None = None
    site_admin: bool = False
    tokens: list[TokenSeed] = Field(default_factory=list)


class InstallationSeed(_Strict):
    org: str
    repository_selection: Literal["all", "selected"] = "all"
    repositories: list[str] = Field(default_factory=list)
    permissions: dict[str, str] | None = None


class AppSeed(_Strict):
    slug: str
    name: str | None = None
    owner: str | None = None  # defaults to the first org
    description: str | None = None
    permissions: dict[str, str] = Field(default_factory=lambda: {"metadata": "read"})
    events: list[str] = Field(default_factory=list)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    private_key_path: str | None = None
    installations: list[InstallationSeed] = Field(default_factory=list)


class SeedDocument(_Strict):
    seed: int | None = None
    # Base time of seeded content, so repository timestamps and commit shas are stable.
    epoch: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    users: list[UserSeed] = Field(default_factory=list)
    orgs: list[OrgSeed] = Field(default_factory=list)
    apps: list[AppSeed] = Field(default_factory=list)
