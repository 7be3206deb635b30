"""parse_spec: spec text in, a validated and hashed spec (or every problem with it) out."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from shoal.spec.canonical import canonical_json, spec_hash
from shoal.spec.errors import SpecInvalidError
from shoal.spec.issues import issues_from_validation
from shoal.spec.loader import decode, load_document
from shoal.spec.models import CampaignSpec

__all__ = ["ParsedSpec", "parse_spec"]


@dataclass(frozen=True)
class ParsedSpec:
    """A valid spec with the forms a SpecVersion stores."""

    spec: CampaignSpec
    canonical_json: str
    spec_hash: str
    yaml_text: str


def parse_spec(text: str | bytes, *, source: str = "<spec>") -> ParsedSpec:
    """Parse, validate and normalize a campaign spec; SpecInvalidError lists every issue.

    `source` names the spec in the error message (a file name, "campaign acme/x", ...).
    """
    try:
        yaml_text = decode(text)
        document = load_document(yaml_text)
    except SpecInvalidError as exc:
        raise exc.with_source(source) from None
    issues = list(document.issues)
    # Top-level `x-...` keys hold YAML anchors for reuse (as in docker compose); they are not
    # part of the campaign, so they do not reach the model or the hash.
    data = {key: value for key, value in document.data.items() if not key.startswith("x-")}
    try:
        spec = CampaignSpec.model_validate(data)
    except ValidationError as exc:
        issues.extend(issues_from_validation(exc, document))
    if issues:
        raise SpecInvalidError(issues, source=source)
    canonical = canonical_json(spec)
    return ParsedSpec(spec, canonical, spec_hash(canonical), yaml_text)
