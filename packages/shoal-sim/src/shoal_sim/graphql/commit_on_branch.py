"""``createCommitOnBranch``: append one commit to an existing branch, as GitHub does.

The new commit's parent is the branch head, which must equal ``expectedHeadOid``
(``STALE_DATA`` otherwise); authorship is the caller's and cannot be set; on GitHub.com
the commit is signed by GitHub and verified. The ref moves through the same rules and
events as any other ref update (protected branches, the ``workflows`` permission,
``PushReceived`` for pull requests and webhooks).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.git import GitError, GitRepo, Person
from shoal_sim.graphql.context import RequestContext, ctx_of
from shoal_sim.graphql.errors import GraphQLFailure, not_found, unprocessable
from shoal_sim.graphql.git_objects import CommitNode, RefNode
from shoal_sim.graphql.mutations import record, writable
from shoal_sim.graphql.registry import Resolvers
from shoal_sim.hooks.policy import judge
from shoal_sim.ref_updates import apply_changes
from shoal_sim.state.access import InstallationCaller, UserCaller
from shoal_sim.state.events import RefChange
from shoal_sim.state.identity import parse_node_id
from shoal_sim.state.models import Repo

resolvers = Resolvers()
resolvers.values(
    "CreateCommitOnBranchPayload",
    {
        "clientMutationId": lambda p: p["clientMutationId"],
        "commit": lambda p: p["commit"],
        "ref": lambda p: p["ref"],
    },
)


def _branch(ctx: RequestContext, branch: dict[str, Any]) -> tuple[Repo, str]:
    """The repository and fully qualified branch ref named by a ``CommittableBranch``."""
    world = ctx.sim.world
    if branch.get("id"):
        parsed = parse_node_id(branch["id"])
        is_ref = parsed is not None and parsed[0] == "Ref"
        repo_id, _, ref = parsed[1].partition(":") if parsed and is_ref else ("", "", "")
        repo = world.repos.get(int(repo_id)) if repo_id.isdigit() else None
        if repo is None or not ctx.can_see(repo) or not ref.startswith("refs/heads/"):
            raise not_found(f"Could not resolve to a node with the global id of '{branch['id']}'.")
        return repo, ref
    name_with_owner, name = branch.get("repositoryNameWithOwner"), branch.get("branchName")
    if not name_with_owner or not name:
        raise unprocessable(
            "A branch must be specified by id or by repositoryNameWithOwner and branchName."
        )
    owner, _, repo_name = name_with_owner.partition("/")
    repo = world.find_repo(owner, repo_name)
    if repo is None or not ctx.can_see(repo):
        raise not_found(f"Could not resolve to a Repository with the name '{name_with_owner}'.")
    return repo, name if name.startswith("refs/heads/") else f"refs/heads/{name}"


def _author(ctx: RequestContext, now: int) -> Person:
    match ctx.caller:
        case InstallationCaller(app=app):
            slug = app.slug
            return Person(
                f"{slug}[bot]", f"{app.bot_user_id}+{slug}[bot]@users.noreply.github.com", now
            )
        case UserCaller(user=user):
            email = user.email or f"{user.id}+{user.login}@users.noreply.github.com"
            return Person(user.name or user.login, email, now)
    return Person("ghost", "ghost@users.noreply.github.com", now)


def _tree(git: GitRepo, head: str, changes: dict[str, Any]) -> str:
    base_tree = git.rev_parse(head, "tree")
    listing = git.ls_tree(head, recursive=True) if base_tree else []
    # Updating an executable keeps it executable, as GitHub does.
    existing = {e.path: e.mode for e in listing if e.type == "blob"}
    entries: list[tuple[str, str, str | None]] = []
    for deletion in changes.get("deletions") or []:
        if deletion["path"] not in existing:
            raise unprocessable(
                f"A path was requested for deletion which does not exist as of commit oid `{head}`"
            )
        entries.append((deletion["path"], "100644", None))
    for addition in changes.get("additions") or []:
        try:
            data = base64.b64decode(addition["contents"], validate=True)
        except binascii.Error as exc:
            raise unprocessable(f"Invalid base64 contents for {addition['path']}") from exc
        mode = existing.get(addition["path"], "100644")
        entries.append((addition["path"], mode, git.write_blob(data)))
    return git.write_tree(base_tree, entries)


def _create(ctx: RequestContext, repo: Repo, ref: str, data: dict[str, Any]) -> dict[str, Any]:
    writable(ctx, repo, "contents")
    git = ctx.sim.git.open(repo.id)
    head = git.ref_sha(ref)
    if head is None:
        raise not_found(f'A ref named "{ref}" does not exist in {repo.full_name}.')
    if head != data["expectedHeadOid"]:
        raise GraphQLFailure(
            f'Expected branch to point to "{data["expectedHeadOid"]}" but it did not. '
            "Pull and try again.",
            "STALE_DATA",
        )
    now = int(ctx.now)
    message = data["message"]["headline"]
    if data["message"].get("body"):
        message += "\n\n" + data["message"]["body"]
    author = _author(ctx, now)
    # GitHub.com signs commits made through this mutation; GHES does not document it.
    signed = not ctx.sim.config.ghes
    committer = Person("GitHub", "noreply@github.com", now) if signed else author
    tree = _tree(git, head, data.get("fileChanges") or {})
    sha = git.commit_tree(tree, [head], message + "\n", author, committer)
    change = RefChange(ref, head, sha)
    if signed:  # before the push rules judge it: rulesets may require signatures
        ctx.sim.signed_commits.setdefault(sha, ctx.now)
    verdict = judge(ctx.sim, repo, ctx.caller, git, change, web=ctx.urls.web)
    if not verdict.ok:
        raise unprocessable(verdict.api_message)
    try:
        apply_changes(
            ctx.sim, repo, [change], actor=ctx.caller.actor, via="api", request_id=ctx.request_id
        )
    except GitError as exc:
        raise GraphQLFailure(
            f'Expected branch to point to "{head}" but it did not. Pull and try again.',
            "STALE_DATA",
        ) from exc
    return {
        "clientMutationId": data.get("clientMutationId"),
        "commit": CommitNode(repo, sha),
        "ref": RefNode(repo, ref, sha),
    }


@resolvers.field("Mutation", "createCommitOnBranch")
def _create_commit_on_branch(
    source: Any, info: GraphQLResolveInfo, args: dict[str, Any]
) -> dict[str, Any]:
    ctx = ctx_of(info)
    data = args["input"]
    changes = data.get("fileChanges") or {}
    # The ledger keeps what was asked, not the file contents.
    detail: dict[str, Any] = {
        "branch": data["branch"],
        "expectedHeadOid": data["expectedHeadOid"],
        "headline": data["message"]["headline"],
        "additions": [a["path"] for a in changes.get("additions") or []],
        "deletions": [d["path"] for d in changes.get("deletions") or []],
    }
    repo: Repo | None = None
    try:
        repo, ref = _branch(ctx, data["branch"])
        payload = _create(ctx, repo, ref, data)
    except GraphQLFailure as failure:
        detail["error"] = {"type": failure.error_type, "message": failure.message}
        record(ctx, "createCommitOnBranch", repo, detail)
        raise
    detail["oid"] = payload["commit"].sha
    record(ctx, "createCommitOnBranch", repo, detail)
    return payload
