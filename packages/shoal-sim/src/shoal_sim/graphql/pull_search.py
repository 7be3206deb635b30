"""``Query.search(type: ISSUE)`` over pull requests, and ``PullRequest.baseRef`` with its
classic ``branchProtectionRule``: what ``gh pr status`` reads.

The query language is REST's ``GET /search/issues`` one (``shoal_sim.issue_query``), with
``@me`` the viewer and ``review-requested:`` counting requests to the user's teams. Plain
issues are not modelled, so an issue search finds pull requests only. Results are newest
first unless ``sort:`` says otherwise, and only from repositories the caller can see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.graphql.context import RequestContext, ctx_of
from shoal_sim.graphql.git_objects import RefNode
from shoal_sim.graphql.pulls import PullNode
from shoal_sim.graphql.registry import Resolvers, Typed
from shoal_sim.issue_query import matches, ordered, parse_issue_query, teams_of_members
from shoal_sim.state.access import UserCaller
from shoal_sim.state.identity import node_id
from shoal_sim.state.models import BranchProtection, Repo

resolvers = Resolvers()


def search_pulls(ctx: RequestContext, text: str) -> list[PullNode]:
    """Pull requests of the repositories the caller sees that match ``text``."""
    world = ctx.sim.world
    with world.lock:
        teams_of = teams_of_members(list(world.teams.values()))
    me = ctx.caller.user.login if isinstance(ctx.caller, UserCaller) else None
    query = parse_issue_query(text, me, teams_of)
    found: list[tuple[Any, Repo]] = []
    for repo in ctx.visible_repos():
        with world.lock:
            records = list(repo.pulls.values())
        found.extend((record, repo) for record in records if matches(query, record, repo))
    return [PullNode(repo, record) for record, repo in ordered(query, found, None, None)]


@resolvers.field("PullRequest", "baseRef")
def _base_ref(node: PullNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> RefNode | None:
    ref = f"refs/heads/{node.record.base_ref}"
    sha = ctx_of(info).sim.git.open(node.repo.id).ref_sha(ref)
    return None if sha is None else RefNode(node.repo, ref, sha)


@dataclass(frozen=True)
class ProtectionRuleNode(Typed):
    repo: Repo
    pattern: str
    rule: BranchProtection
    typename = "BranchProtectionRule"


@resolvers.field("Ref", "branchProtectionRule")
def _protection_rule(ref: RefNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    if not ref.ref.startswith("refs/heads/"):
        return None
    branch = ref.ref.removeprefix("refs/heads/")
    rule = ref.repo.protection.get(branch)
    return None if rule is None else ProtectionRuleNode(ref.repo, branch, rule)


resolvers.values(
    "BranchProtectionRule",
    {
        "id": lambda p: node_id("BranchProtectionRule", f"{p.repo.id}:{p.pattern}"),
        "pattern": lambda p: p.pattern,
        "requiresStatusChecks": lambda p: p.rule.required_status_checks is not None,
        "requiresStrictStatusChecks": lambda p: p.rule.strict,
        "requiredStatusCheckContexts": lambda p: list(p.rule.required_status_checks or []),
        "requiresApprovingReviews": lambda p: p.rule.required_approving_review_count is not None,
        "requiredApprovingReviewCount": lambda p: p.rule.required_approving_review_count,
        "dismissesStaleReviews": lambda p: p.rule.dismiss_stale_reviews,
        "requiresCodeOwnerReviews": lambda p: p.rule.require_code_owner_reviews,
        "isAdminEnforced": lambda p: p.rule.enforce_admins,
        "allowsForcePushes": lambda p: p.rule.allow_force_pushes,
        "allowsDeletions": lambda p: p.rule.allow_deletions,
        "requiresLinearHistory": lambda p: p.rule.required_linear_history,
        "lockBranch": lambda p: p.rule.lock_branch,
    },
)
