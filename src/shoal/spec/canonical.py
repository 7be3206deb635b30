"""The canonical JSON of a spec and its hash: equal for every way of writing the same campaign.

The models already normalize values (defaults filled in, durations in seconds, set-like lists
sorted, text trimmed); this module fixes the serialization. `schema_version` is part of the
JSON, so a future format can never collide with a version 1 hash.
"""

from __future__ import annotations

import hashlib
import json

from shoal.spec.models import CampaignSpec

__all__ = ["canonical_json", "spec_hash"]


def canonical_json(spec: CampaignSpec) -> str:
    data = spec.model_dump(mode="json", by_alias=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(canonical: str) -> str:
    """Hex sha256 of the canonical JSON's UTF-8 bytes."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
