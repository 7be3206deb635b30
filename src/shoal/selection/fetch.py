"""Fetching one `on[i]` source: the entry point a selection task calls once per source."""

from __future__ import annotations

from collections.abc import Mapping

from shoal.domain.clock import Clock
from shoal.selection.explicit import fetch_repos
from shoal.selection.installation import fetch_installation
from shoal.selection.options import FetchOptions
from shoal.selection.org import fetch_org
from shoal.selection.ports import GitHubReader
from shoal.selection.results import SourceResult
from shoal.selection.search import fetch_search
from shoal.spec.selection import InstallationSource, OrgSource, ReposSource, SearchSource

__all__ = ["fetch_source", "source_label"]

AnySource = SearchSource | OrgSource | ReposSource | InstallationSource


def source_label(index: int, source: AnySource) -> str:
    """How decisions and reports name a source, e.g. `on[1] (org acme)`."""
    match source:
        case SearchSource():
            return f"on[{index}] (search)"
        case OrgSource(org=org):
            return f"on[{index}] (org {org})"
        case ReposSource():
            return f"on[{index}] (repos)"
        case InstallationSource():
            return f"on[{index}] (installation)"


def fetch_source(
    index: int,
    source: AnySource,
    reader: GitHubReader,
    installations: Mapping[str, int],
    *,
    clock: Clock,
    options: FetchOptions | None = None,
) -> SourceResult:
    """Everything source `on[index]` yields. `installations` is `reader.installations()`,
    read once per selection; `clock` bounds the creation dates a large search is split by.
    GitHub failures other than a missing repository raise (see `selection.errors`)."""
    options = options or FetchOptions()
    label = source_label(index, source)
    match source:
        case SearchSource():
            now = int(clock.now().timestamp())
            return fetch_search(
                index, label, source, reader, installations, now=now, options=options
            )
        case OrgSource():
            return fetch_org(index, label, source, reader, installations, options)
        case ReposSource():
            return fetch_repos(index, label, source, reader, installations, options)
        case InstallationSource():
            return fetch_installation(index, label, reader, installations, options)
