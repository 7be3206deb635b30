"""The `repos` source: an explicit list of `owner/repo[@branch]`.

Read with aliased `repository(owner:, name:)` fields, up to 50 per request and per owner
installation; a pinned branch is read in the same alias with `ref(qualifiedName:)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shoal.domain.repos import RepoMeta, RepoRef
from shoal.selection.options import FetchOptions
from shoal.selection.ports import GitHubReader
from shoal.selection.queries import Meter, document, repo_meta, run_query
from shoal.selection.results import SourceResult, TargetCause, Unreachable
from shoal.spec.selection import ReposSource

__all__ = ["fetch_repos"]


def fetch_repos(
    index: int,
    label: str,
    source: ReposSource,
    reader: GitHubReader,
    installations: Mapping[str, int],
    options: FetchOptions,
) -> SourceResult:
    meter = Meter()
    candidates: list[RepoMeta] = []
    unreachable: list[Unreachable] = []
    by_installation: dict[int, list[RepoRef]] = {}
    for text in source.repos:
        ref = RepoRef.parse(text)
        inst = installations.get(ref.owner.lower())
        if inst is None:
            reason = f"not accessible: Shoal's App is not installed on '{ref.owner}'"
            unreachable.append(Unreachable(ref.full_name, TargetCause.NOT_ACCESSIBLE, reason))
        else:
            by_installation.setdefault(inst, []).append(ref)
    size = options.repos_per_request
    for inst, refs in by_installation.items():
        for start in range(0, len(refs), size):
            found, missing = _read(reader, inst, meter, refs[start : start + size])
            candidates += found
            unreachable += missing
    return SourceResult(
        index=index,
        label=label,
        candidates=tuple(candidates),
        unreachable=tuple(unreachable),
        usage=meter.usage(),
    )


def _read(
    reader: GitHubReader, installation_id: int, meter: Meter, refs: Sequence[RepoRef]
) -> tuple[list[RepoMeta], list[Unreachable]]:
    params: list[str] = []
    fields: list[str] = []
    variables: dict[str, Any] = {}
    for i, ref in enumerate(refs):
        params += [f"$o{i}: String!", f"$n{i}: String!"]
        variables |= {f"o{i}": ref.owner, f"n{i}": ref.name}
        pinned = ""
        if ref.branch:
            params.append(f"$b{i}: String!")
            variables[f"b{i}"] = f"refs/heads/{ref.branch}"
            pinned = f" pinned: ref(qualifiedName: $b{i}) {{ target {{ oid }} }}"
        fields.append(f"r{i}: repository(owner: $o{i}, name: $n{i}) {{ ...Repo{pinned} }}")
    answer = run_query(reader, installation_id, meter, document(params, fields), variables)
    found: list[RepoMeta] = []
    missing: list[Unreachable] = []
    for i, ref in enumerate(refs):
        node: dict[str, Any] | None = answer.data.get(f"r{i}")
        if node is None:
            missing.append(_unreachable(ref, answer.missing(f"r{i}")))
            continue
        if ref.branch is None:
            found.append(repo_meta(node, installation_id))
            continue
        tip = ((node.get("pinned") or {}).get("target") or {}).get("oid")
        meta = repo_meta(node, installation_id, base_branch=ref.branch, head_sha=tip)
        if tip:
            found.append(meta)
        else:
            reason = f"branch '{ref.branch}' not found"
            missing.append(Unreachable(meta.full_name, TargetCause.BRANCH_NOT_FOUND, reason, meta))
    return found, missing


def _unreachable(ref: RepoRef, error: Mapping[str, Any] | None) -> Unreachable:
    if error is not None and error.get("type") == "FORBIDDEN":
        message = str(error.get("message") or "forbidden")
        return Unreachable(ref.full_name, TargetCause.NOT_ACCESSIBLE, f"not accessible: {message}")
    # GitHub answers NOT_FOUND for what does not exist and for what the App may not see.
    return Unreachable(ref.full_name, TargetCause.NOT_FOUND, "not found")
