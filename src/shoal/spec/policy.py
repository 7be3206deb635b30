"""How the reconciler and the publisher treat a campaign's pull requests over time."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shoal.spec.base import SpecModel
from shoal.spec.fields import PositiveInt

__all__ = ["DriftPolicy", "Policy", "PublishLimits"]

DriftPolicy = Literal["overwrite", "new_pr", "needs_human"]


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
    """What to do when PRs drift from the spec or repositories leave the selection."""

    drift: DriftPolicy = Field(
        default="needs_human",
        description="When a PR no longer matches the spec (base moved and the patch changed, "
        "foreign commits, edited title or body): 'overwrite' force-pushes and restores the "
        "template, 'new_pr' leaves the PR and opens a new branch and PR, 'needs_human' stops "
        "touching it and flags it.",
    )
    on_deselect: Literal["close", "detach"] = Field(
        default="close",
        description="When a repository leaves the selection: 'close' closes its PR, 'detach' "
        "leaves the PR open and stops tracking it.",
    )
    publish: PublishLimits = Field(
        default_factory=PublishLimits, description="Publishing caps for this campaign."
    )
