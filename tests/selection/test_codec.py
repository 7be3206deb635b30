"""What the caller persists per source comes back unchanged."""

from __future__ import annotations

import json

from shoal.selection import (
    Rejected,
    SelectionStats,
    SourceResult,
    TargetCause,
    Unreachable,
    Usage,
    decode_source_result,
    encode_source_result,
)
from tests.selection.builders import meta


def test_source_result_round_trips_through_json() -> None:
    result = SourceResult(
        index=2,
        label="on[2] (org acme)",
        candidates=(meta("acme/api", topics=("a", "b")), meta("acme/web", base_branch="dev")),
        rejected=(Rejected(meta("acme/go", language=None), "on[2] (org acme): language"),),
        unreachable=(
            Unreachable("acme/gone", TargetCause.NOT_FOUND, "not found"),
            Unreachable("acme/api", TargetCause.BRANCH_NOT_FOUND, "branch", meta("acme/api")),
        ),
        problems=("something about the whole source",),
        usage=Usage(3, 5),
    )
    text = json.dumps(encode_source_result(result))
    assert decode_source_result(json.loads(text)) == result


def test_stats_add_up_per_source() -> None:
    results = [
        SourceResult(0, "on[0] (search)", candidates=(meta("a/b"),), usage=Usage(7, 17)),
        SourceResult(1, "on[1] (repos)", problems=("x",), usage=Usage(1, 1)),
    ]
    stats = SelectionStats.of(results)
    assert (stats.requests, stats.graphql_points) == (8, 18)
    assert [(s.label, s.candidates, s.problems) for s in stats.sources] == [
        ("on[0] (search)", 1, 0),
        ("on[1] (repos)", 0, 1),
    ]
