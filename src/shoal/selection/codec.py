"""JSON for what selection persists: a `SourceResult` (per source, to resume a selection)
and a `RepoMeta` (a target's metadata). `decode_*` accepts exactly what `encode_*` wrote.
"""

from __future__ import annotations

from typing import Any

from shoal.domain.repos import RepoMeta
from shoal.selection.results import Rejected, SourceResult, TargetCause, Unreachable, Usage

__all__ = ["decode_meta", "decode_source_result", "encode_meta", "encode_source_result"]


def encode_meta(meta: RepoMeta) -> dict[str, Any]:
    return {
        "github_id": meta.github_id,
        "node_id": meta.node_id,
        "owner": meta.owner,
        "name": meta.name,
        "archived": meta.archived,
        "fork": meta.fork,
        "visibility": meta.visibility,
        "language": meta.language,
        "topics": list(meta.topics),
        "default_branch": meta.default_branch,
        "head_sha": meta.head_sha,
        "installation_id": meta.installation_id,
        "base_branch": meta.base_branch,
    }


def decode_meta(data: dict[str, Any]) -> RepoMeta:
    return RepoMeta(
        github_id=int(data["github_id"]),
        node_id=str(data["node_id"]),
        owner=str(data["owner"]),
        name=str(data["name"]),
        archived=bool(data["archived"]),
        fork=bool(data["fork"]),
        visibility=str(data["visibility"]),
        language=data["language"],
        topics=tuple(data["topics"]),
        default_branch=data["default_branch"],
        head_sha=data["head_sha"],
        installation_id=data.get("installation_id"),
        base_branch=data.get("base_branch"),
    )


def encode_source_result(result: SourceResult) -> dict[str, Any]:
    return {
        "index": result.index,
        "label": result.label,
        "candidates": [encode_meta(m) for m in result.candidates],
        "rejected": [{"meta": encode_meta(r.meta), "reason": r.reason} for r in result.rejected],
        "unreachable": [
            {
                "full_name": u.full_name,
                "cause": u.cause.value,
                "reason": u.reason,
                "meta": encode_meta(u.meta) if u.meta else None,
            }
            for u in result.unreachable
        ],
        "problems": list(result.problems),
        "usage": {
            "requests": result.usage.requests,
            "graphql_points": result.usage.graphql_points,
        },
    }


def decode_source_result(data: dict[str, Any]) -> SourceResult:
    return SourceResult(
        index=int(data["index"]),
        label=str(data["label"]),
        candidates=tuple(decode_meta(m) for m in data["candidates"]),
        rejected=tuple(
            Rejected(decode_meta(r["meta"]), str(r["reason"])) for r in data["rejected"]
        ),
        unreachable=tuple(
            Unreachable(
                full_name=str(u["full_name"]),
                cause=TargetCause(u["cause"]),
                reason=str(u["reason"]),
                meta=decode_meta(u["meta"]) if u["meta"] else None,
            )
            for u in data["unreachable"]
        ),
        problems=tuple(str(p) for p in data["problems"]),
        usage=Usage(int(data["usage"]["requests"]), int(data["usage"]["graphql_points"])),
    )
