"""Apply-time check of a spec's egress allowlist against what the executor can enforce."""

from __future__ import annotations

from shoal.config import Settings
from shoal.domain.egress import egress_refusal
from shoal.domain.errors import InvalidInputError
from shoal.spec import CampaignSpec
from shoal.spec.errors import SpecIssue, format_path
from shoal.spec.loader import load_document

__all__ = ["check_spec_egress"]


def check_spec_egress(settings: Settings, spec: CampaignSpec, yaml_text: str) -> None:
    """Refuse a spec whose `egress.allow` this server's executor cannot enforce."""
    if spec.egress is None:
        return
    refusal = egress_refusal(spec.egress.rules(), settings.executor)
    if refusal is None:
        return
    path = ("egress", "allow")
    position = load_document(yaml_text).position(path)
    issue = SpecIssue(
        path=format_path(path),
        message=refusal,
        line=position.line if position else None,
        column=position.column if position else None,
    )
    raise InvalidInputError("the campaign spec is invalid", details={"errors": [issue.to_dict()]})
