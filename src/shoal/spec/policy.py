"""How the reconciler and the publisher treat a campaign's pull requests over time."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator

from shoal.spec.base import SpecModel, spec_error
from shoal.spec.fields import Interval, PositiveInt

__all__ = [
    "DRIFT_TAGS",
    "BaseMovedPolicy",
    "BranchDeletion",
    "DriftKinds",
    "DriftPolicy",
    "Policy",
    "PublishLimits",
]

DriftPolicy = Literal["overwrite", "new_pr", "needs_human"]
# A base that moved leaves nothing of a human's on the PR to keep: there is no `new_pr`.
BaseMovedPolicy = Literal["overwrite", "needs_human"]
BranchDeletion = Literal["never", "on_close", "on_close_or_merge"]


class DriftKinds(SpecModel):
    """A drift policy per kind of drift; a kind not named follows `default`."""

    default: DriftPolicy = Field(
        default="needs_human", description="The policy for every kind not named here."
    )
    base_moved: BaseMovedPolicy | None = Field(
        default=None,
        description="The base branch moved past the commit Shoal pushed (no conflicts): "
        "'overwrite' runs the steps again on the new base (at most once per "
        "`policy.base_moved_interval`) and pushes their patch with a lease only when it "
        "differs; 'needs_human' flags the PR. Not covered by 'default': unset, the PR stays "
        "on the base it was made on.",
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

    @field_validator("base_moved", mode="before")
    @classmethod
    def _no_new_pr_for_base_moved(cls, value: object) -> object:
        if value == "new_pr":
            raise spec_error(
                "new_pr does not apply to base_moved: a base that moved leaves nothing of a "
                "human's on the PR to keep; use overwrite (run the steps again on the new base) "
                "or needs_human"
            )
        return value

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
        "per kind: {default: overwrite, foreign_commits: needs_human}. A base that moved is "
        "acted on only when `base_moved` names a policy.",
    )
    base_moved_interval: Interval | None = Field(
        default=None,
        description="Under `drift.base_moved: overwrite`, the steps run again on a moved base "
        "at most once per this long per PR (a busy base branch is taken up at its latest tip, "
        "not at every commit). Default: the server's SHOAL_BASE_MOVED_MIN_INTERVAL_S (1 hour); a "
        "shorter one than the server's is raised to it.",
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
