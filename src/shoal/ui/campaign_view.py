"""How the campaign page shows things: highlighted spec YAML and diffs (Pygments, CSS classes
only), the states in the order they are shown, and the live fragments' HTML."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer, YamlLexer

from shoal.domain.changesets import ChangesetState
from shoal.services import progress, status
from shoal.services.ui_campaign import LiveCounts
from shoal.services.ui_sessions import UiSession
from shoal.ui import charts
from shoal.ui.render import templates

__all__ = [
    "SHOWN_STATES",
    "burndown_series",
    "highlight_diff",
    "highlight_yaml",
    "live_fragments",
    "state_rows",
]

# The states always shown, in the order of a PR's life; others appear when they have any.
SHOWN_STATES = (
    ChangesetState.SCHEDULED,
    ChangesetState.PUBLISHING,
    ChangesetState.OPEN,
    ChangesetState.DRAFT,
    ChangesetState.MERGED,
    ChangesetState.CLOSED,
    ChangesetState.FAILED,
    ChangesetState.NEEDS_HUMAN,
)

_FORMATTER = HtmlFormatter(cssclass="highlight", nowrap=False)


def highlight_yaml(text: str) -> Markup:
    # Pygments escapes the text it formats; its HTML is safe to insert.
    return Markup(highlight(text, YamlLexer(), _FORMATTER))  # noqa: S704


def highlight_diff(text: str) -> Markup:
    return Markup(highlight(text, DiffLexer(), _FORMATTER))  # noqa: S704  (Pygments escapes)


def state_rows(counts: dict[ChangesetState, int]) -> list[tuple[ChangesetState, int]]:
    shown = [(s, counts.get(s, 0)) for s in SHOWN_STATES]
    shown += [(s, n) for s, n in counts.items() if s not in SHOWN_STATES and n]
    return shown


def burndown_series(found: progress.Burndown) -> list[charts.Series]:
    return [
        charts.Series(state, [day.counts.get(state, 0) for day in found.days])
        for state in progress.BURNDOWN_STATES
    ]


def counts_context(name: str, counts: dict[ChangesetState, int]) -> dict[str, Any]:
    return {
        "campaign_name": name,
        "state_rows": state_rows(counts),
        "total": sum(counts.values()),
    }


def holds_context(name: str, held: status.Holds, global_killed: bool) -> dict[str, Any]:
    return {"campaign_name": name, "holds": held, "global_killed": global_killed}


def live_fragments(session: UiSession, found: LiveCounts) -> dict[str, str]:
    """The `counts` and `holds` events' HTML for one subscriber (the holds' buttons depend
    on its role)."""
    counts = templates.env.get_template("_campaign_counts.html").render(
        counts_context(found.campaign, found.counts)
    )
    holds = templates.env.get_template("_campaign_holds.html").render(
        {"me": session, **holds_context(found.campaign, found.holds, found.global_killed)}
    )
    return {"counts": counts, "holds": holds}
