"""The filters of an `org` source, applied to what GitHub returned. Pure.

They run in Python rather than as query arguments so that every repository left out
is still reported, with the filter that left it out.
"""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase

from shoal.domain.repos import RepoMeta
from shoal.spec.selection import OrgSource

__all__ = ["org_filter_failure"]


def org_filter_failure(source: OrgSource, meta: RepoMeta) -> str | None:
    """Why `meta` fails the source's filters (the first filter it fails), or `None`."""
    return next(_failures(source, meta), None)


def _failures(source: OrgSource, meta: RepoMeta) -> Iterator[str]:
    if meta.archived and not source.include_archived:
        yield "archived (include_archived is false)"
    if meta.fork and not source.include_forks:
        yield "fork (include_forks is false)"
    if source.visibility not in ("all", meta.visibility):
        yield f"visibility is {meta.visibility}, not {source.visibility}"
    if source.language is not None and (meta.language or "").lower() != source.language.lower():
        yield f"language is {meta.language or 'unknown'}, not {source.language}"
    have = {topic.lower() for topic in meta.topics}
    missing = [topic for topic in source.topics if topic.lower() not in have]
    if missing:
        noun = "topic" if len(missing) == 1 else "topics"
        yield f"missing {noun} {', '.join(missing)}"
    name = meta.name.lower()
    if source.names and not any(fnmatchcase(name, glob.lower()) for glob in source.names):
        globs = ", ".join(f"'{glob}'" for glob in source.names)
        yield f"name '{meta.name}' matches none of {globs}"
