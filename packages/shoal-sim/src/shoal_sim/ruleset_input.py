"""Reading the body of ``POST``/``PUT`` on a repository's or an organization's rulesets:
GitHub's 422 for what it refuses, and the fields of a :class:`Ruleset` for the rest.

Branch rulesets only, and only the rule types whose effect the simulator models (listed
in :data:`RULE_TYPES`); any other target, rule type, bypass actor type or parameter without
a modelled effect (code owner review, last-push approval, thread resolution, dismissal
restrictions, a required check's ``integration_id``) is refused rather than stored without
its effect."""

from __future__ import annotations

from typing import Any

from shoal_sim.errors import GitHubError, validation_failed
from shoal_sim.ruleset_bypass import ACTOR_TYPES
from shoal_sim.rulesets import normalized_rules
from shoal_sim.state.models import Ruleset

__all__ = ["RULE_TYPES", "check_room", "ruleset_fields"]

ENFORCEMENT = ("active", "evaluate", "disabled")
RULE_TYPES = (
    "creation",
    "update",
    "deletion",
    "non_fast_forward",
    "required_linear_history",
    "pull_request",
    "required_status_checks",
    "required_signatures",
)
_BOOLEAN_PARAMETERS = {
    "update": ("update_allows_fetch_and_merge",),
    "pull_request": (
        "dismiss_stale_reviews_on_push",
        "require_code_owner_review",
        "require_last_push_approval",
        "required_review_thread_resolution",
    ),
    "required_status_checks": ("strict_required_status_checks_policy", "do_not_enforce_on_create"),
}
_MERGE_METHODS = ("merge", "squash", "rebase")
# pull_request parameters whose effect is not modelled: accepted only as GitHub's default.
_UNMODELLED_TRUE = (
    "require_code_owner_review",
    "require_last_push_approval",
    "required_review_thread_resolution",
)
# The simulator's bounds on what a client may store (GitHub has its own, undocumented).
MAX_ITEMS = 100  # patterns per list, rules, bypass actors, required checks
MAX_TEXT = 255  # a name, a pattern, a check context


def _invalid(message: str) -> GitHubError:
    # GitHub's status and error shape; the sentences are ours.
    return validation_failed({"resource": "Ruleset", "code": "custom", "message": message})


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"Invalid property {where}: must be an array of strings")
    _bounded(value, where)
    if any(len(v) > MAX_TEXT for v in value):
        raise _invalid(f"Invalid property {where}: items are at most {MAX_TEXT} characters")
    return list(value)


def _bounded(value: list[Any], where: str) -> None:
    if len(value) > MAX_ITEMS:
        raise _invalid(f"Invalid property {where}: at most {MAX_ITEMS} items")


def _pattern_pair(conditions: dict[str, Any], key: str) -> tuple[list[str], list[str]] | None:
    given = conditions.get(key)
    if given is None:
        return None
    if not isinstance(given, dict):
        raise _invalid(f"Invalid property /conditions/{key}: must be an object")
    include = _strings(given.get("include", []), f"/conditions/{key}/include")
    exclude = _strings(given.get("exclude", []), f"/conditions/{key}/exclude")
    return include, exclude


def _bypass_actors(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _invalid("Invalid property /bypass_actors: must be an array")
    _bounded(value, "/bypass_actors")
    actors = []
    for actor in value:
        kind = actor.get("actor_type") if isinstance(actor, dict) else None
        if kind not in ACTOR_TYPES:
            kinds = ", ".join(ACTOR_TYPES)
            raise _invalid(f"Invalid property /bypass_actors: actor_type must be one of {kinds}")
        ident = actor.get("actor_id")
        if kind == "OrganizationAdmin":
            ident = 1 if ident is None else ident  # GitHub ignores it and answers 1
        if not isinstance(ident, int) or isinstance(ident, bool):
            raise _invalid("Invalid property /bypass_actors: actor_id must be an integer")
        mode = actor.get("bypass_mode", "always")
        if mode not in ("always", "pull_request"):
            raise _invalid(
                "Invalid property /bypass_actors: bypass_mode must be always or pull_request"
            )
        actors.append({"actor_id": ident, "actor_type": kind, "bypass_mode": mode})
    return actors


def _pull_request(parameters: dict[str, Any]) -> None:
    for key in _UNMODELLED_TRUE:
        if parameters.get(key):
            raise _invalid(f"{key} is not supported by the Shoal GitHub simulator")
    if "dismissal_restriction" in parameters:
        raise _invalid("dismissal_restriction is not supported by the Shoal GitHub simulator")
    count = parameters.get("required_approving_review_count", 0)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 10:
        raise _invalid("required_approving_review_count must be between 0 and 10")
    methods = parameters.get("allowed_merge_methods", list(_MERGE_METHODS))
    if not methods or any(m not in _MERGE_METHODS for m in _strings(methods, "/rules")):
        raise _invalid("allowed_merge_methods must name merge, squash or rebase")


def _status_checks(parameters: dict[str, Any]) -> None:
    checks = parameters.get("required_status_checks", [])
    if not isinstance(checks, list) or not all(
        isinstance(c, dict) and isinstance(c.get("context"), str) and set(c) == {"context"}
        for c in checks
    ):
        raise _invalid(
            "required_status_checks must list objects with a context only "
            "(integration_id is not supported by the Shoal GitHub simulator)"
        )
    _bounded(checks, "/rules/required_status_checks")
    if any(len(c["context"]) > MAX_TEXT for c in checks):
        raise _invalid(f"required status check contexts are at most {MAX_TEXT} characters")


def _rule(rule: Any) -> dict[str, Any]:
    kind = rule.get("type") if isinstance(rule, dict) else None
    if kind not in RULE_TYPES:
        raise _invalid(f"Invalid property /rules: supported types are {', '.join(RULE_TYPES)}")
    parameters = rule.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise _invalid(f"Invalid property /rules/{kind}/parameters: must be an object")
    for key in _BOOLEAN_PARAMETERS.get(str(kind), ()):
        if key in parameters and not isinstance(parameters[key], bool):
            raise _invalid(f"Invalid property /rules/{kind}/parameters/{key}: must be a boolean")
    if kind == "pull_request":
        _pull_request(parameters)
    if kind == "required_status_checks":
        _status_checks(parameters)
    return {"type": kind, **({"parameters": parameters} if parameters else {})}


def check_room(rulesets: list[Ruleset]) -> None:
    """A repository or an organization holds at most ``MAX_ITEMS`` rulesets here."""
    if len(rulesets) >= MAX_ITEMS:
        raise _invalid(f"At most {MAX_ITEMS} rulesets")


def ruleset_fields(
    given: dict[str, Any], *, org_level: bool, current: Ruleset | None = None
) -> dict[str, Any]:
    """The :class:`Ruleset` fields ``given`` sets; for an update (``current``), absent
    properties keep their values."""
    fields: dict[str, Any] = {}
    if current is None or "name" in given:
        name = given.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _invalid("Invalid property /name: is missing")
        if len(name) > MAX_TEXT:
            raise _invalid(f"Invalid property /name: at most {MAX_TEXT} characters")
        fields["name"] = name
    if current is None or "enforcement" in given:
        enforcement = given.get("enforcement")
        if enforcement not in ENFORCEMENT:
            raise _invalid(
                f"Invalid property /enforcement: `{enforcement}` is not a possible value"
            )
        fields["enforcement"] = enforcement
    if given.get("target", "branch") != "branch":
        raise _invalid("Only branch rulesets are supported by the Shoal GitHub simulator")
    if "bypass_actors" in given:
        fields["bypass_actors"] = _bypass_actors(given["bypass_actors"])
    if "rules" in given:
        rules = given["rules"]
        if not isinstance(rules, list):
            raise _invalid("Invalid property /rules: must be an array")
        _bounded(rules, "/rules")
        fields["rules"] = normalized_rules([_rule(r) for r in rules])
    conditions = given.get("conditions")
    if conditions is not None or current is None:
        fields.update(_conditions(conditions or {}, org_level=org_level))
    return fields


def _conditions(conditions: Any, *, org_level: bool) -> dict[str, Any]:
    if not isinstance(conditions, dict):
        raise _invalid("Invalid property /conditions: must be an object")
    fields: dict[str, Any] = {}
    # Without a ref_name condition a ruleset targets no branch (unverified).
    fields["include"], fields["exclude"] = _pattern_pair(conditions, "ref_name") or ([], [])
    names = _pattern_pair(conditions, "repository_name")
    if org_level:
        if names is None:
            raise _invalid(
                "Invalid property /conditions: repository_name is required "
                "(repository_id and repository_property are not supported)"
            )
        fields["repositories"], fields["repositories_exclude"] = names
    elif names is not None:
        raise _invalid("Invalid property /conditions: repository_name is for organizations")
    return fields
