"""Repository selection: which repositories a run targets, and why.

Fetching reads each `on` source from GitHub through the `GitHubReader` port (GraphQL
wherever GitHub allows, batched with aliases) into a `SourceResult` the caller persists;
`decide` then turns all results and the `exclude` rules into one `TargetDecision` per
repository. Nothing here writes to GitHub or to the database.
"""

from shoal.selection.codec import (
    decode_meta,
    decode_source_result,
    encode_meta,
    encode_source_result,
)
from shoal.selection.decide import TargetDecision, decide
from shoal.selection.errors import GitHubQueryError, GitHubQueryUnavailableError
from shoal.selection.fetch import fetch_source, source_label
from shoal.selection.options import FetchOptions
from shoal.selection.ports import GitHubReader, GraphQLReply
from shoal.selection.results import (
    Rejected,
    SelectionStats,
    SourceResult,
    SourceStats,
    TargetCause,
    Unreachable,
    Usage,
)

__all__ = [
    "FetchOptions",
    "GitHubQueryError",
    "GitHubQueryUnavailableError",
    "GitHubReader",
    "GraphQLReply",
    "Rejected",
    "SelectionStats",
    "SourceResult",
    "SourceStats",
    "TargetCause",
    "TargetDecision",
    "Unreachable",
    "Usage",
    "decide",
    "decode_meta",
    "decode_source_result",
    "encode_meta",
    "encode_source_result",
    "fetch_source",
    "source_label",
]
