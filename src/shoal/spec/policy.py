"""How the reconciler and the publisher treat a campaign's pull requests over time."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from shoal.spec.base import SpecModel
from shoal.spec.fields import PositiveInt

__all__ = [
    "DRIFT_TAGS",
    "BranchDeletion",
    "DriftKinds",
    "DriftPolicy",
    "Policy",
    "PublishLimits",
]

DriftPolicy = Literal["overwrite", "new_pr", "needs_human"]
BranchDeletion = Literal["never", "on_close", "on_close_or_merge"]


class DriftKinds(SpecModel):
    """A drift policy per kind of drift; a kind not named follows `default`."""

    default: DriftPolicy = Field(
        default="needs_human", description="The policy for every kind not named here."
    )
    base_moved: DriftPolicy | None = Field(
        default=None,
        description="The base branch moved. Without conflicts the PR is left as it is.",
    )
    foreign_commits: DriftPolicy | None = Field(
        default=None, description="Someone else pushed to the campaign branch."
    )
    human_edits: DriftPolicy | None = Field(
        default=None, description="The title or body was edited, or a label Shoal set removed."
    )
    merge_conflicts: DriftPolicy | None = Field(
        default=None,
        description="The PR conflicts with its base: 'overwrite' runs the steps again on "
        "the current base and force-pushes their patch with a lease.",
    )

    def as_mapping(self) -> dict[str, str]:
        return {name: value for name, value in self.model_dump().items() if value is not None}


# The two forms of `policy.drift`; errors name the field, not the form (`spec.issues`).
DRIFT_TAGS = frozenset({"drift policy", "drift per kind"})


def _drift_form(value: Any) -> str:
    return "drift per kind" if isinstance(value, dict | DriftKinds) else "drift policy"


DriftSetting = Annotated[
    Annotated[DriftPolicy, Tag("drift policy")] | Annotated[DriftKinds, Tag("drift per kind")],
    Discriminator(_drift_form),
]


class PublishLimits(SpecModel):
    """Caps on publishing for this campaign; the server's own caps apply as well."""

    max_prs_per_day_per_org: PositiveInt | None = Field(
        default=None,
        description="At most this many new PRs per organization per day. Default: the server's "
        "per-org daily budget.",
    )
    max_open_prs: PositiveInt | None = Field(
        default=None,
        description="Stop opening PRs while this many of the campaign's PRs are open. Default: "
        "no campaign-level cap.",
    )


class Policy(SpecModel):
    """What to do when PRs drift from the spec, repositories leave the selection, or PRs are
    closed or merged."""

    drift: DriftSetting = Field(
        default="needs_human",
        description="When a PR no longer matches what Shoal made (foreign commits on its "
        "branch, an edited title, body or labels, merge conflicts): 'overwrite' force-pushes "
        "with a lease and restores the template, 'new_pr' leaves the PR and opens a new branch "
        "and PR linked to it, 'needs_human' stops touching it and flags it. One policy, or one "
        "per kind: {default: overwrite, foreign_commits: needs_human}.",
    )
    on_deselect: Literal["close", "detach"] = Field(
        default="close",
        description="When a repository leaves the selection: 'close' closes its PR, 'detach' "
        "leaves the PR open and stops tracking it.",
    )
    delete_branch: BranchDeletion = Field(
        default="never",
        description="Delete the campaign branch of a PR Shoal closes (its repository left the "
        "selection, or a bulk close): 'on_close'; of a merged PR too: 'on_close_or_merge'. A "
        "branch with commits Shoal did not push is never deleted.",
    )
    publish: PublishLimits = Field(
        default_factory=PublishLimits, description="Publishing caps for this campaign."
    )
