"""A ruleset in GitHub's ``repository-ruleset`` shape, as the repository and organization
endpoints answer it."""

from __future__ import annotations

from typing import Any

from shoal_sim.clock import iso
from shoal_sim.state.identity import node_id
from shoal_sim.state.models import Ruleset
from shoal_sim.urls import Urls


def ruleset_body(
    urls: Urls,
    ruleset: Ruleset,
    *,
    source_repo: str | None,
    via_repo: str | None = None,
    show_bypass: bool,
    can_bypass: str | None = None,
) -> dict[str, Any]:
    """``source_repo`` is the owning repository's full name (``None`` for an organization
    ruleset); ``via_repo`` the repository whose endpoint answers, which links there;
    ``show_bypass``: GitHub shows ``bypass_actors`` only to whoever may edit the ruleset;
    ``can_bypass`` is ``current_user_can_bypass`` (repository endpoints only)."""
    if via_repo is not None:
        self_url = f"{urls.repo_api(via_repo)}/rulesets/{ruleset.id}"
        html = f"{urls.repo_html(via_repo)}/rules/{ruleset.id}"
    else:
        self_url = urls.api_url(f"/orgs/{ruleset.org}/rulesets/{ruleset.id}")
        html = urls.web_url(f"/organizations/{ruleset.org}/settings/rules/{ruleset.id}")
    conditions: dict[str, Any] = {
        "ref_name": {"include": list(ruleset.include), "exclude": list(ruleset.exclude)}
    }
    if source_repo is None:
        conditions["repository_name"] = {
            "include": list(ruleset.repositories),
            "exclude": list(ruleset.repositories_exclude),
            "protected": False,
        }
    out: dict[str, Any] = {
        "id": ruleset.id,
        "name": ruleset.name,
        "target": "branch",
        "source_type": "Repository" if source_repo is not None else "Organization",
        "source": source_repo if source_repo is not None else ruleset.org,
        "enforcement": ruleset.enforcement,
    }
    if show_bypass:
        out["bypass_actors"] = [dict(a) for a in ruleset.bypass_actors]
    if can_bypass is not None:
        out["current_user_can_bypass"] = can_bypass
    out.update(
        {
            "node_id": node_id("RepositoryRuleset", ruleset.id),
            "_links": {"self": {"href": self_url}, "html": {"href": html}},
            "conditions": conditions,
            "rules": [dict(r) for r in ruleset.rules],
            "created_at": iso(ruleset.created_at),
            "updated_at": iso(ruleset.updated_at or ruleset.created_at),
        }
    )
    return out
