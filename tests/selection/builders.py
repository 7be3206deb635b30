"""Small builders for selection values, so table rows stay one line each."""

from __future__ import annotations

import zlib
from typing import Any

from shoal.domain.repos import RepoMeta
from shoal.selection import Rejected, SourceResult, TargetCause, Unreachable


def meta(full_name: str, **changes: Any) -> RepoMeta:
    owner, _, name = full_name.partition("/")
    values: dict[str, Any] = {
        "github_id": zlib.crc32(full_name.lower().encode()),
        "node_id": f"R_{full_name.lower()}",
        "owner": owner,
        "name": name,
        "archived": False,
        "fork": False,
        "visibility": "private",
        "language": "Python",
        "topics": (),
        "default_branch": "main",
        "head_sha": "a" * 40,
        "installation_id": 1,
        "base_branch": None,
    }
    values.update(changes)
    return RepoMeta(**values)


def found(index: int, label: str, *metas: RepoMeta) -> SourceResult:
    return SourceResult(index=index, label=f"on[{index}] ({label})", candidates=metas)


def rejected(index: int, label: str, repo: RepoMeta, why: str) -> SourceResult:
    full = f"on[{index}] ({label})"
    return SourceResult(index=index, label=full, rejected=(Rejected(repo, f"{full}: {why}"),))


def unreachable(
    index: int, full_name: str, cause: TargetCause, reason: str, repo: RepoMeta | None = None
) -> SourceResult:
    report = Unreachable(full_name, cause, reason, repo)
    return SourceResult(index=index, label=f"on[{index}] (repos)", unreachable=(report,))
