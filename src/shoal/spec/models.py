"""The campaign spec document: the root model that ties sources, steps and changeset together."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from shoal.spec import names
from shoal.spec.base import Loc, SpecModel, errors_at, spec_error, with_errors
from shoal.spec.changeset import Changeset
from shoal.spec.egress import Egress
from shoal.spec.fields import CampaignName, SchemaVersion, Text
from shoal.spec.policy import Policy
from shoal.spec.selection import ExcludeRule, Source
from shoal.spec.steps import Step

__all__ = ["CampaignSpec"]

BRANCH_PREFIX = "shoal/"


def _some_sources(sources: list[Any]) -> list[Any]:
    if not sources:
        raise spec_error("must list at least one source (search, org, repos or installation)")
    return sources


def _some_steps(steps: list[Step]) -> list[Step]:
    if not steps:
        raise spec_error("must list at least one step")
    return steps


class CampaignSpec(SpecModel):
    """A Shoal campaign: which repositories to change, how, and the pull request to open."""

    schema_version: SchemaVersion = Field(
        default=1, description="Version of this spec format. Only 1 exists."
    )
    name: CampaignName = Field(
        description="Campaign identity: 1-63 lowercase letters, digits and '-', starting with a "
        "letter. Also the default branch name suffix (shoal/<name>)."
    )
    description: Text = Field(default="", description="What the campaign does and why.")
    on: Annotated[list[Source], AfterValidator(_some_sources)] = Field(
        description="Where to find repositories: the union of these sources. Each item has "
        "exactly one of 'search', 'org', 'repos' or 'installation'.",
        json_schema_extra={"minItems": 1},
    )
    exclude: list[ExcludeRule] = Field(
        default_factory=list,
        description="Rules that leave repositories out: a repository matching any rule is "
        "excluded. Order is kept so the first matching rule can be given as the reason.",
    )
    steps: Annotated[list[Step], AfterValidator(_some_steps)] = Field(
        description="Steps run in order in each repository; whatever they change becomes the "
        "patch.",
        json_schema_extra={"minItems": 1},
    )
    changeset: Changeset = Field(description="The branch, commit and PR opened for each change.")
    policy: Policy = Field(
        default_factory=Policy,
        description="Drift, deselection, branch deletion and publishing policy.",
    )
    egress: Egress | None = Field(
        default=None,
        description="Network destinations the steps may reach. Left out, steps reach no "
        "network (the server's SHOAL_EGRESS_ALLOW still applies).",
    )

    @model_serializer(mode="wrap")
    def _without_absent_egress(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A spec without `egress` serializes (and so hashes) as it did before the field was.
        data = handler(self)
        if isinstance(data, dict) and data.get("egress", 0) is None:
            del data["egress"]
        return data

    @model_validator(mode="before")
    @classmethod
    def _branch_defaults_to_name(cls, data: Any) -> Any:
        # Only a valid name makes a valid default; an invalid one is reported at `name` alone.
        if not isinstance(data, dict):
            return data
        name, changeset = data.get("name"), data.get("changeset")
        if not isinstance(name, str) or not names.is_campaign_name(name):
            return data
        if not isinstance(changeset, dict) or "branch" in changeset:
            return data
        return {**data, "changeset": {**changeset, "branch": BRANCH_PREFIX + name}}

    @field_validator("steps", mode="wrap")
    @classmethod
    def _unique_step_names(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # Checked on the raw list so duplicates are reported even when some step is invalid.
        duplicates = _duplicate_step_names(value)
        try:
            steps = handler(value)
        except ValidationError as exc:
            raise with_errors(exc, duplicates) from None
        if duplicates:
            raise errors_at(duplicates)
        return steps


def _duplicate_step_names(value: Any) -> list[tuple[Loc, str, Any]]:
    if not isinstance(value, list):
        return []
    first_seen: dict[str, int] = {}
    duplicates: list[tuple[Loc, str, Any]] = []
    for index, step in enumerate(value):
        name = step.get("name") if isinstance(step, dict) else getattr(step, "name", None)
        if not isinstance(name, str):
            continue
        if name in first_seen:
            message = f"duplicate step name {name!r} (first used at steps[{first_seen[name]}])"
            duplicates.append(((index, "name"), message, name))
        else:
            first_seen[name] = index
    return duplicates
