"""Which repositories a campaign targets: the `on` sources and the `exclude` rules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

from shoal.spec.base import SpecModel, spec_error
from shoal.spec.fields import (
    InstallationFlag,
    Login,
    NonBlank,
    RepoGlob,
    RepoNameGlob,
    RepoRef,
    SearchQuery,
    SortedUnique,
    Topic,
)

__all__ = [
    "SOURCE_KINDS",
    "SOURCE_TAGS",
    "ExcludeRule",
    "InstallationSource",
    "OrgSource",
    "ReposSource",
    "SearchSource",
    "Source",
]

Visibility = Literal["public", "private", "internal"]


class SearchSource(SpecModel):
    """Every repository a GitHub repository search returns."""

    search: SearchQuery = Field(
        description="A GitHub repository search query, at most 256 characters, e.g. "
        "'org:acme language:python archived:false'."
    )


class OrgSource(SpecModel):
    """Repositories of one organization (or user), narrowed by optional filters."""

    org: Login = Field(description="The organization (or user) login whose repositories to take.")
    topics: Annotated[list[Topic], SortedUnique] = Field(
        default_factory=list,
        description="Keep only repositories that have all these topics. Order does not matter.",
    )
    language: NonBlank | None = Field(
        default=None,
        description="Keep only repositories whose primary language is this (case-insensitive).",
    )
    visibility: Literal["all", "public", "private", "internal"] = Field(
        default="all", description="Keep only repositories with this visibility."
    )
    include_archived: bool = Field(
        default=False, description="Also take archived repositories (they cannot receive PRs)."
    )
    include_forks: bool = Field(default=False, description="Also take forks.")
    names: Annotated[list[RepoNameGlob], SortedUnique] = Field(
        default_factory=list,
        description="Keep only repositories whose name (without the owner) matches one of these "
        "shell-style globs, e.g. 'service-*'. Empty means all.",
    )


def _some_repos(repos: list[str]) -> list[str]:
    if not repos:
        raise spec_error("must list at least one repository")
    return repos


class ReposSource(SpecModel):
    """An explicit list of repositories, each optionally on a branch other than the default."""

    repos: Annotated[list[RepoRef], SortedUnique, AfterValidator(_some_repos)] = Field(
        description="Repositories as 'owner/repo', or 'owner/repo@branch' to use that branch as "
        "the base instead of the default branch. Order does not matter.",
        json_schema_extra={"minItems": 1},
    )


class InstallationSource(SpecModel):
    """Every repository the GitHub App installation can see."""

    installation: InstallationFlag = Field(
        description="Set to true to take every repository the App installation can access."
    )


SOURCE_KINDS: dict[str, type[SpecModel]] = {
    "search": SearchSource,
    "org": OrgSource,
    "repos": ReposSource,
    "installation": InstallationSource,
}
# Pydantic puts the union tag in error locations; a tag that cannot be a field name is easy
# for the error translator to drop.
SOURCE_TAGS = frozenset(f"{kind} source" for kind in SOURCE_KINDS)
_KIND_LIST = "search, org, repos or installation"


def _source_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [kind for kind in SOURCE_KINDS if kind in value]
        return f"{kinds[0]} source" if kinds else None
    for kind, model in SOURCE_KINDS.items():
        if isinstance(value, model):
            return f"{kind} source"
    return None


def _exactly_one_kind(value: Any) -> Any:
    if isinstance(value, SpecModel):
        return value
    if not isinstance(value, dict):
        raise spec_error(f"expected a mapping with one of {_KIND_LIST}, e.g. 'org: acme'")
    kinds = [kind for kind in SOURCE_KINDS if kind in value]
    if not kinds:
        raise spec_error(f"a source needs exactly one of {_KIND_LIST}")
    if len(kinds) > 1:
        quoted = [f"'{kind}'" for kind in kinds]
        listed = ", ".join(quoted[:-1]) + " and " + quoted[-1]
        raise spec_error(f"a source cannot combine {listed}; give each its own list item")
    return value


Source = Annotated[
    Annotated[SearchSource, Tag("search source")]
    | Annotated[OrgSource, Tag("org source")]
    | Annotated[ReposSource, Tag("repos source")]
    | Annotated[InstallationSource, Tag("installation source")],
    Discriminator(_source_tag),
    BeforeValidator(_exactly_one_kind),
]


class ExcludeRule(SpecModel):
    """Leaves out the repositories that match every condition the rule gives."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    repo: RepoGlob | None = Field(
        default=None,
        description="Shell-style glob over the full name 'owner/repo', e.g. 'acme/legacy-*'.",
    )
    archived: bool | None = Field(default=None, description="Match archived (true) or not.")
    fork: bool | None = Field(default=None, description="Match forks (true) or non-forks.")
    topic: Topic | None = Field(default=None, description="Match repositories with this topic.")
    language: NonBlank | None = Field(
        default=None, description="Match repositories with this primary language."
    )
    visibility: Visibility | None = Field(
        default=None, description="Match repositories with this visibility."
    )

    @model_validator(mode="after")
    def _has_condition(self) -> ExcludeRule:
        if all(value is None for value in self.model_dump().values()):
            raise spec_error(
                "an exclude rule needs at least one of repo, archived, fork, topic, language or"
                " visibility"
            )
        return self
