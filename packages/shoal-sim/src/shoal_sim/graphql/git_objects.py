"""Git objects over GraphQL: ``Ref`` and ``Commit``, read from the bare repositories.

Node ids match the REST views (``Ref`` ``<repo id>:refs/heads/x``, ``Commit``
``<repo id>:<sha>``), so an id taken from one API resolves in the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLResolveInfo

from shoal_sim.clock import iso
from shoal_sim.git import Commit
from shoal_sim.graphql.connections import register_connection, slice_offsets
from shoal_sim.graphql.context import RequestContext, ctx_of
from shoal_sim.graphql.errors import not_found
from shoal_sim.graphql.registry import Resolvers, Typed
from shoal_sim.state.identity import node_id
from shoal_sim.state.models import Repo

resolvers = Resolvers()


@dataclass(frozen=True)
class RefNode(Typed):
    repo: Repo
    ref: str  # fully qualified: refs/heads/main
    sha: str
    typename = "Ref"

    @property
    def node_id(self) -> str:
        return node_id("Ref", f"{self.repo.id}:{self.ref}")


@dataclass(frozen=True)
class CommitNode(Typed):
    repo: Repo
    sha: str
    typename = "Commit"

    @property
    def node_id(self) -> str:
        return node_id("Commit", f"{self.repo.id}:{self.sha}")


def find_ref(ctx: RequestContext, repo: Repo, name: str) -> RefNode | None:
    """A branch or tag by full (``refs/heads/x``) or short name, as GitHub's ``ref`` takes."""
    git = ctx.sim.git.open(repo.id)
    candidates = [name] if name.startswith("refs/") else [f"refs/heads/{name}", f"refs/tags/{name}"]
    for ref in candidates:
        sha = git.ref_sha(ref)
        if sha is not None:
            return RefNode(repo, ref, sha)
    return None


def short_name(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/tags/"):
        if ref.startswith(prefix):
            return ref.removeprefix(prefix)
    return ref.removeprefix("refs/")


def _prefix(ref: RefNode) -> str:
    return ref.ref[: len(ref.ref) - len(short_name(ref.ref))]


def _target(ref: RefNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> CommitNode:
    return CommitNode(ref.repo, ref.sha)


resolvers.values(
    "Ref",
    {
        "id": lambda ref: ref.node_id,
        "name": lambda ref: short_name(ref.ref),
        "prefix": _prefix,
        "repository": lambda ref: ref.repo,
    },
)
resolvers.field("Ref", "target")(_target)


def _loaded(node: CommitNode, info: GraphQLResolveInfo) -> Commit:
    commit = ctx_of(info).commit(node.repo, node.sha)
    if commit is None:
        raise not_found(f"Could not resolve to a Commit with the oid of '{node.sha}'.")
    return commit


def _commit_value(read: Any) -> Any:
    def resolve(node: CommitNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
        return read(_loaded(node, info))

    return resolve


resolvers.values(
    "Commit",
    {
        "id": lambda node: node.node_id,
        "oid": lambda node: node.sha,
        "abbreviatedOid": lambda node: node.sha[:7],
        "repository": lambda node: node.repo,
    },
)
for _name, _read in {
    "committedDate": lambda c: iso(c.committer.time),
    "authoredDate": lambda c: iso(c.author.time),
    "message": lambda c: c.message.rstrip("\n"),
    "messageHeadline": lambda c: c.message.split("\n", 1)[0],
    "messageBody": lambda c: c.message.partition("\n")[2].strip("\n"),
}.items():
    resolvers.field("Commit", _name)(_commit_value(_read))


@resolvers.field("Commit", "url", "commitUrl")
def _commit_url(node: CommitNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> str:
    return f"{ctx_of(info).urls.repo_html(node.repo.full_name)}/commit/{node.sha}"


@resolvers.field("Commit", "parents")
def _parents(node: CommitNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    commit = _loaded(node, info)
    return slice_offsets([CommitNode(node.repo, p) for p in commit.parents], args)


register_connection(resolvers, "CommitConnection", "CommitEdge")


@resolvers.field("Commit", "signature")
def _signature(node: CommitNode, info: GraphQLResolveInfo, args: dict[str, Any]) -> Any:
    signed_at = ctx_of(info).sim.signed_commits.get(node.sha)
    return None if signed_at is None else SignatureNode(node)


@dataclass(frozen=True)
class SignatureNode(Typed):
    """GitHub's own signature on API-created commits (``GpgSignature``, verified)."""

    commit: CommitNode
    typename = "GpgSignature"


resolvers.values(
    "GpgSignature",
    {
        "isValid": lambda sig: True,
        "state": lambda sig: "VALID",
        "wasSignedByGitHub": lambda sig: True,
    },
)
