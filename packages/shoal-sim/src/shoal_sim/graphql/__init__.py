"""GitHub's GraphQL API (v4) for the simulator.

It owns everything behind ``POST /graphql`` and ``POST /api/graphql``: loading GitHub's
published schema (``schema``), validating documents with GitHub's wording (``rules``),
GitHub's pagination bounds, node limit and point cost (``bounds``), charging the caller's
``graphql`` budget and running the operation (``execution``), and the resolvers for the
fields Shoal uses: repository search (``search``, ``search_query``), repositories and
their owners (``repositories``), refs and commits (``git_objects``), pull requests
(``pulls``, reading records owned by the pull-request feature through ``pull_port``),
and mutations (``mutations``, ``commit_on_branch``). Any field without a registered
resolver (``registry``) fails with a clear error rather than returning a made-up value.

Entry points: :func:`make_endpoint` (a Starlette endpoint for the server) and
:class:`GraphQLApi` (the same, without HTTP, for in-process use).
"""

from shoal_sim.graphql.endpoint import make_endpoint
from shoal_sim.graphql.execution import Answer, GraphQLApi, graphql_quota_key
from shoal_sim.graphql.pull_port import (
    AutoMergeRecord,
    PullRecord,
    PullRequestEngine,
    PullRequestRefusedError,
)
from shoal_sim.graphql.schema import SchemaUnavailableError, load_schema

__all__ = [
    "Answer",
    "AutoMergeRecord",
    "GraphQLApi",
    "PullRecord",
    "PullRequestEngine",
    "PullRequestRefusedError",
    "SchemaUnavailableError",
    "graphql_quota_key",
    "load_schema",
    "make_endpoint",
]
