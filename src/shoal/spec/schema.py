"""The JSON Schema of the spec's input format, for editors (yaml-language-server) and tools."""

from __future__ import annotations

from typing import Any

from shoal.spec.models import CampaignSpec

__all__ = ["SCHEMA_ID", "spec_json_schema"]

SCHEMA_ID = "https://shoal.dev/schemas/campaign-spec.json"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of what a spec author writes.

    It is a helpful approximation: Shoal's own checks (git ref rules, unique step names, the
    2h timeout cap, ...) are stricter than what a schema can say.
    """
    schema = CampaignSpec.model_json_schema(by_alias=True, mode="validation")
    # Top-level `x-...` keys only hold YAML anchors; parse_spec drops them (see parse.py).
    schema["patternProperties"] = {"^x-": {"description": "Ignored; a place for YAML anchors."}}
    return {"$schema": _DIALECT, "$id": SCHEMA_ID, **schema, "title": "Shoal campaign spec"}
