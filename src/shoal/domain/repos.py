"""Repositories as Shoal sees them: identity and the metadata selection decides on."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RepoMeta", "RepoRef"]


@dataclass(frozen=True, slots=True)
class RepoRef:
    """`owner/name`, optionally pinned to a branch other than the default (`owner/name@branch`)."""

    owner: str
    name: str
    branch: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> RepoRef:
        repo, _, branch = text.partition("@")
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"expected 'owner/repo' or 'owner/repo@branch', got {text!r}")
        return cls(owner, name, branch or None)


@dataclass(frozen=True, slots=True)
class RepoMeta:
    """What GitHub says about one repository, as far as selection and execution need it.

    `head_sha` is the tip of `base_branch` (the default branch unless a source pinned
    another); both are `None` for an empty repository.
    """

    github_id: int
    node_id: str
    owner: str
    name: str
    archived: bool
    fork: bool
    visibility: str  # public | private | internal
    language: str | None
    topics: tuple[str, ...]
    default_branch: str | None
    head_sha: str | None
    installation_id: int | None = None
    base_branch: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def empty(self) -> bool:
        return self.head_sha is None

    @property
    def branch(self) -> str | None:
        """The branch a change is based on."""
        return self.base_branch or self.default_branch
