"""The GraphQL side of selection: one repository fragment for every source, and a metered
way to send a document and sort its errors into "this alias is missing" and "this failed".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shoal.domain.repos import RepoMeta
from shoal.selection.errors import query_error
from shoal.selection.ports import GitHubReader
from shoal.selection.results import Usage

__all__ = ["REPO_FRAGMENT", "Answer", "Meter", "document", "repo_meta", "run_query"]

# Every source reads the same fields, so a repository looks the same whichever found it.
REPO_FRAGMENT = """fragment Repo on Repository {
  databaseId id name owner { login } isArchived isFork visibility
  primaryLanguage { name }
  repositoryTopics(first: 20) { nodes { topic { name } } }
  defaultBranchRef { name target { oid } }
}"""

# Errors that are about one alias (or one id of `nodes`), not about the whole document.
_PER_ITEM = frozenset({"NOT_FOUND", "FORBIDDEN"})

Path = tuple[str | int, ...]


class Meter:
    """Counts requests and GraphQL points as a source is fetched."""

    def __init__(self) -> None:
        self.requests = 0
        self.graphql_points = 0

    def add_rest_pages(self, pages: int) -> None:
        self.requests += pages

    def usage(self) -> Usage:
        return Usage(self.requests, self.graphql_points)


@dataclass(frozen=True, slots=True)
class Answer:
    """The `data` of a reply plus, by path (`("r3",)` or `("n0", 17)`), the per-item errors."""

    data: Mapping[str, Any]
    item_errors: Mapping[Path, Mapping[str, Any]]

    def missing(self, *path: str | int) -> Mapping[str, Any] | None:
        """The error that made the item at `path` null, if any."""
        return self.item_errors.get(path)


def document(params: Sequence[str], fields: Sequence[str], *, fragment: bool = True) -> str:
    """A query with `rateLimit { cost }` (so every request reports its points) and `fields`."""
    signature = f"({', '.join(params)})" if params else ""
    body = "\n  ".join(["rateLimit { cost }", *fields])
    text = f"query{signature} {{\n  {body}\n}}"
    return f"{text}\n{REPO_FRAGMENT}" if fragment else text


def run_query(
    reader: GitHubReader,
    installation_id: int,
    meter: Meter,
    query: str,
    variables: Mapping[str, Any],
) -> Answer:
    reply = reader.graphql(installation_id, query, variables)
    meter.requests += 1
    data = reply.data or {}
    rate = data.get("rateLimit")
    if isinstance(rate, Mapping):
        meter.graphql_points += int(rate.get("cost") or 0)
    item_errors: dict[Path, Mapping[str, Any]] = {}
    fatal = []
    for error in reply.errors:
        path = tuple(error.get("path") or ())
        if error.get("type") in _PER_ITEM and path and _is_null(data, path):
            item_errors[path] = error
        else:
            fatal.append(error)
    if fatal:
        raise query_error(fatal)
    return Answer(data, item_errors)


def _is_null(data: Mapping[str, Any], path: Path) -> bool:
    node: Any = data
    for step in path:
        if isinstance(node, Mapping) and isinstance(step, str):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return False
    return node is None


def repo_meta(
    node: Mapping[str, Any],
    installation_id: int | None,
    *,
    base_branch: str | None = None,
    head_sha: str | None = None,
) -> RepoMeta:
    """A `RepoMeta` from a node read with `REPO_FRAGMENT`; `base_branch` pins another branch."""
    default = node.get("defaultBranchRef") or None
    language = node.get("primaryLanguage") or None
    topics = ((node.get("repositoryTopics") or {}).get("nodes")) or []
    return RepoMeta(
        github_id=int(node["databaseId"]),
        node_id=str(node["id"]),
        owner=str(node["owner"]["login"]),
        name=str(node["name"]),
        archived=bool(node["isArchived"]),
        fork=bool(node["isFork"]),
        visibility=str(node["visibility"]).lower(),
        language=str(language["name"]) if language else None,
        topics=tuple(str(t["topic"]["name"]) for t in topics),
        default_branch=str(default["name"]) if default else None,
        head_sha=head_sha if base_branch else _oid(default),
        installation_id=installation_id,
        base_branch=base_branch,
    )


def _oid(ref: Mapping[str, Any] | None) -> str | None:
    target = (ref or {}).get("target") or {}
    oid = target.get("oid")
    return str(oid) if oid else None
