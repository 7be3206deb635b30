"""Parsed specs by version: every task of a run needs the same spec, parsed once per process."""

from __future__ import annotations

import functools

from shoal.domain.campaigns import SpecVersion
from shoal.spec import CampaignSpec, parse_spec

__all__ = ["spec_of"]


def spec_of(version: SpecVersion) -> CampaignSpec:
    return _parse(version.id, version.yaml_text)


@functools.lru_cache(maxsize=64)
def _parse(version_id: int, yaml_text: str) -> CampaignSpec:
    # Versions are immutable, so the id alone would do; the text keeps the cache honest.
    _ = version_id
    return parse_spec(yaml_text).spec
