"""The pull request a campaign opens in each changed repository: branch, commit, PR template."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from shoal.spec.base import SpecModel
from shoal.spec.fields import (
    AuthorName,
    CommitMessage,
    Email,
    GitBranch,
    Label,
    Login,
    Reviewer,
    SortedUnique,
    TemplateText,
    Title,
)

__all__ = ["AutoMerge", "Changeset", "Commit", "CommitAuthor"]

DEFAULT_AUTHOR_NAME = "Shoal"
DEFAULT_AUTHOR_EMAIL = "shoal@localhost"


def _no_default(schema: dict[str, Any]) -> None:
    # The real default depends on another field; a literal "" in the schema would mislead editors.
    schema.pop("default", None)


class CommitAuthor(SpecModel):
    """Author (and committer) of the campaign's commit."""

    name: AuthorName = Field(default=DEFAULT_AUTHOR_NAME, description="Git author name.")
    email: Email = Field(default=DEFAULT_AUTHOR_EMAIL, description="Git author email.")


class Commit(SpecModel):
    """The single commit pushed to the campaign branch."""

    message: CommitMessage = Field(
        default="",
        description="Commit message. Default: the changeset title.",
        json_schema_extra=_no_default,
    )
    author: CommitAuthor = Field(
        default_factory=CommitAuthor,
        description=f"Default: {DEFAULT_AUTHOR_NAME} <{DEFAULT_AUTHOR_EMAIL}>. Not used in api "
        "mode.",
    )
    mode: Literal["git", "api"] = Field(
        default="git",
        description="How the commit is made. git: built and pushed with git, authored as "
        "'author'; the same inputs give the same commit sha. api: created through GitHub's Git "
        "Data API, so that GitHub signs it and marks it Verified; it is authored by the App "
        "and 'author' is not used (a custom author or committer makes GitHub not sign it). "
        "Its sha is not deterministic (GitHub dates it), so Shoal recognizes the commit by "
        "its tree, parent and message instead.",
    )


class AutoMerge(SpecModel):
    """GitHub auto-merge; it never bypasses required reviews or checks."""

    enabled: bool = Field(default=False, description="Enable auto-merge on each PR.")
    method: Literal["merge", "squash", "rebase"] = Field(
        default="squash", description="Merge method GitHub uses when the PR becomes mergeable."
    )


class Changeset(SpecModel):
    """Template for the branch, commit and pull request opened in every changed repository."""

    branch: GitBranch = Field(
        default="",
        description="Branch to push the change to. Default: shoal/<name>.",
        json_schema_extra=_no_default,
    )
    base: GitBranch | None = Field(
        default=None,
        description="Base branch for the PRs. Default: each repository's default branch (or the "
        "branch given in 'owner/repo@branch').",
    )
    title: Title = Field(description="PR title (one line, at most 256 characters).")
    body: TemplateText = Field(
        default="",
        description="PR body (Markdown). May use {{ campaign.name }}, {{ spec.hash }}, ... "
        "templates.",
    )
    commit: Commit = Field(default_factory=Commit, description="The commit pushed for the change.")
    labels: Annotated[list[Label], SortedUnique] = Field(
        default_factory=list, description="Labels to set on each PR. Order does not matter."
    )
    reviewers: Annotated[list[Reviewer], SortedUnique] = Field(
        default_factory=list,
        description="Reviewers to request: user logins or 'org/team' slugs. Order does not matter.",
    )
    assignees: Annotated[list[Login], SortedUnique] = Field(
        default_factory=list, description="User logins to assign. Order does not matter."
    )
    draft: bool = Field(default=False, description="Open PRs as drafts.")
    auto_merge: AutoMerge = Field(
        default_factory=AutoMerge, description="Enable GitHub auto-merge on the PRs."
    )

    @model_validator(mode="before")
    @classmethod
    def _commit_message_defaults_to_title(cls, data: Any) -> Any:
        # A malformed title is reported on its own; leaving the message unset then avoids
        # reporting the same problem a second time at commit.message.
        if not isinstance(data, dict):
            return data
        title, commit = data.get("title"), data.get("commit", {})
        if not isinstance(title, str) or not title.strip() or not isinstance(commit, dict):
            return data
        if "message" in commit:
            return data
        return {**data, "commit": {**commit, "message": title.strip()}}
