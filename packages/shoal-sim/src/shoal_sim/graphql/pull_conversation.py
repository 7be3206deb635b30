"""Taking part in a pull request's conversation over GraphQL: ``addComment`` and
``addPullRequestReview``. Anyone who can read the repository may, as on GitHub (an App
needs ``pull_requests: write``, or ``issues: write`` for a comment); the review decision
counts only reviews by people with write access.
"""

from __future__ import annotations

from typing import Any

from shoal_sim.graphql.connections import keyset_cursor
from shoal_sim.graphql.context import RequestContext
from shoal_sim.graphql.pull_mutation import not_modelled, pull_mutation
from shoal_sim.graphql.pull_port import PullRequestEngine
from shoal_sim.graphql.pull_view import CommentNode, ReviewNode
from shoal_sim.graphql.pulls import PullNode
from shoal_sim.graphql.registry import Resolvers
from shoal_sim.state.access import PARTICIPATE

resolvers = Resolvers()


@pull_mutation(
    resolvers,
    "addComment",
    "subjectId",
    "pull_requests|issues",
    PARTICIPATE,
    ("commentEdge", "subject"),
)
def _comment(
    ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
) -> dict[str, Any]:
    made = pulls.add_comment(node.repo, node.record, ctx.caller.actor, data["body"])
    edge = (CommentNode(node, made), keyset_cursor((made.id,)))
    return {"commentEdge": edge, "subject": node}


@pull_mutation(
    resolvers,
    "addPullRequestReview",
    "pullRequestId",
    "pull_requests",
    PARTICIPATE,
    ("pullRequestReview", "reviewEdge"),
)
def _review(
    ctx: RequestContext, node: PullNode, data: dict[str, Any], pulls: PullRequestEngine
) -> dict[str, Any]:
    for argument in ("comments", "threads"):
        if data.get(argument):
            raise not_modelled("addPullRequestReview", argument)  # line comments
    if data.get("event") in (None, "DISMISS"):
        # Without an event GitHub starts a pending review, which is not modelled.
        raise not_modelled("addPullRequestReview", "event")
    made = pulls.submit_review(
        node.repo,
        node.record,
        ctx.caller.actor,
        data["event"],
        data.get("body") or "",
        data.get("commitOID"),
    )
    review = ReviewNode(node, made)
    return {"pullRequestReview": review, "reviewEdge": (review, keyset_cursor((made.id,)))}
