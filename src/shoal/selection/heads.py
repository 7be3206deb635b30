"""The current tip of each included repository's base branch, read fresh for every run.

A run may reuse an earlier run's repository list (`selection_max_age_s`) to save requests,
but the base commit a new patch is built on must be the branch's tip now: a reused sha can
be minutes old, and a commit built on it undoes whatever landed since. One GraphQL document
reads up to `BATCH` branch tips of one installation with `ref(qualifiedName:)` aliases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shoal.selection.ports import GitHubReader
from shoal.selection.queries import Meter, document, run_query
from shoal.selection.results import Usage

__all__ = ["BATCH", "BaseRef", "current_heads"]

# Two aliases' worth of fields per repository; 50 keeps a document far below GitHub's node limit.
BATCH = 50


@dataclass(frozen=True, slots=True)
class BaseRef:
    installation_id: int
    owner: str
    name: str
    branch: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


def current_heads(
    reader: GitHubReader, refs: Sequence[BaseRef]
) -> tuple[dict[str, str | None], Usage]:
    """Full name (lowercase) -> the branch's tip now, or None when the repository or the
    branch is gone (or no longer readable by the App); and what reading them cost."""
    meter = Meter()
    heads: dict[str, str | None] = {}
    by_installation: dict[int, list[BaseRef]] = {}
    for ref in refs:
        by_installation.setdefault(ref.installation_id, []).append(ref)
    for installation_id, group in by_installation.items():
        for start in range(0, len(group), BATCH):
            chunk = group[start : start + BATCH]
            heads |= _read(reader, installation_id, meter, chunk)
    return heads, meter.usage()


def _read(
    reader: GitHubReader, installation_id: int, meter: Meter, refs: Sequence[BaseRef]
) -> dict[str, str | None]:
    params: list[str] = []
    fields: list[str] = []
    variables: dict[str, Any] = {}
    for i, ref in enumerate(refs):
        params += [f"$o{i}: String!", f"$n{i}: String!", f"$b{i}: String!"]
        variables |= {f"o{i}": ref.owner, f"n{i}": ref.name, f"b{i}": f"refs/heads/{ref.branch}"}
        fields.append(
            f"r{i}: repository(owner: $o{i}, name: $n{i}) "
            f"{{ ref(qualifiedName: $b{i}) {{ target {{ oid }} }} }}"
        )
    query = document(params, fields, fragment=False)
    answer = run_query(reader, installation_id, meter, query, variables)
    heads: dict[str, str | None] = {}
    for i, ref in enumerate(refs):
        node: Mapping[str, Any] | None = answer.data.get(f"r{i}")
        target = ((node or {}).get("ref") or {}).get("target") or {}
        oid = target.get("oid")
        heads[ref.full_name.lower()] = str(oid) if oid else None
    return heads
