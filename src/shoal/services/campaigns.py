"""Campaigns and specs: create, apply a spec (a new version only when the hash changes), read."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

import structlog

from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal
from shoal.domain.campaigns import Campaign, SpecVersion
from shoal.domain.changesets import Changeset
from shoal.domain.errors import ConflictError, InvalidInputError, NotFoundError
from shoal.reconcile.plan import ROWS, DriftPolicy, Operation
from shoal.services.context import AppContext
from shoal.services.egress import check_spec_egress
from shoal.services.publishing import _split_reviewers, auto_merge_setting
from shoal.services.secrets import check_spec_grants
from shoal.services.spec_cache import spec_of
from shoal.spec import CampaignSpec, ParsedSpec, SpecInvalidError, image_issues, parse_spec
from shoal.store import audit as audit_store
from shoal.store import campaigns as campaign_store
from shoal.store import changesets as changeset_store

__all__ = [
    "ApplyPlan",
    "ApplyResult",
    "ChangesetPlan",
    "SpecValidation",
    "apply_spec",
    "create_campaign",
    "get_campaign",
    "get_spec_version",
    "list_campaigns",
    "list_spec_versions",
    "plan_apply",
    "spec_document",
    "validate_spec",
]


log = structlog.get_logger("shoal.campaigns")


@dataclass(frozen=True, slots=True)
class SpecValidation:
    valid: bool
    spec_hash: str | None
    errors: list[dict[str, Any]]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ApplyResult:
    campaign: Campaign
    spec_version: SpecVersion
    created_campaign: bool
    created_version: bool


def _parse(yaml_text: str) -> ParsedSpec:
    try:
        return parse_spec(yaml_text)
    except SpecInvalidError as exc:
        raise InvalidInputError(
            "the campaign spec is invalid",
            details={"errors": [issue.to_dict() for issue in exc.issues]},
        ) from exc


def validate_spec(yaml_text: str, *, executor: str) -> SpecValidation:
    """Validate without saving, for the steps to run with `executor` (the setting). Pure: the
    CLI runs the very same checks locally (`shoal validate --executor`)."""
    try:
        parsed = parse_spec(yaml_text)
    except SpecInvalidError as exc:
        return SpecValidation(False, None, [issue.to_dict() for issue in exc.issues])
    issues = image_issues(parsed.spec, parsed.yaml_text, executor)
    if issues:
        return SpecValidation(False, None, [issue.to_dict() for issue in issues])
    return SpecValidation(True, parsed.spec_hash, [], name=parsed.spec.name)


def _check_images(parsed: ParsedSpec, executor: str) -> None:
    """Refuse a spec whose step images the configured executor cannot run."""
    issues = image_issues(parsed.spec, parsed.yaml_text, executor)
    if issues:
        raise InvalidInputError(
            "the campaign spec is invalid",
            details={"errors": [issue.to_dict() for issue in issues]},
        )


def create_campaign(
    ctx: AppContext, *, name: str, description: str, principal: Principal
) -> Campaign:
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        campaign_id = campaign_store.insert_campaign(
            conn, name=name, description=description, created_by=principal.name, now=now
        )
        if campaign_id is None:
            raise ConflictError(f"campaign {name!r} already exists", details={"campaign": name})
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="campaign.create",
                campaign_id=campaign_id,
                target=f"campaign:{name}",
                request_id=principal.request_id,
            ),
            now=now,
        )
        return campaign_store.get_campaign(conn, campaign_id)


def apply_spec(ctx: AppContext, yaml_text: str, *, principal: Principal) -> ApplyResult:
    """Store the spec as the campaign's next version, creating the campaign on first apply.

    Applying a spec whose hash equals the latest version's is a no-op (but still audited, so
    the log shows who re-applied what). Re-applying an older version's content makes it the
    newest version again: history is a sequence, not a set.
    """
    parsed = _parse(yaml_text)
    _check_images(parsed, ctx.settings.executor)
    name = parsed.spec.name
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        # Checked on every apply, re-applies included: a revoked grant refuses the spec too.
        check_spec_grants(conn, parsed.spec, parsed.yaml_text)
        check_spec_egress(ctx.settings, parsed.spec, parsed.yaml_text)
        campaign_id = campaign_store.insert_campaign(
            conn,
            name=name,
            description=parsed.spec.description,
            created_by=principal.name,
            now=now,
        )
        created_campaign = campaign_id is not None
        if campaign_id is None:
            campaign_id = campaign_store.get_campaign(conn, name).id
        campaign_store.lock_campaign(conn, campaign_id)
        latest = campaign_store.get_campaign(conn, campaign_id)
        if latest.latest_spec_hash == parsed.spec_hash and latest.latest_version is not None:
            version = campaign_store.get_spec_version(conn, campaign_id, latest.latest_version)
            created_version = False
        else:
            version = campaign_store.add_spec_version(
                conn,
                campaign_id,
                spec_hash=parsed.spec_hash,
                yaml_text=parsed.yaml_text,
                canonical_json=parsed.canonical_json,
                created_by=principal.name,
                now=now,
            )
            campaign_store.touch_campaign(
                conn, campaign_id, now=now, description=parsed.spec.description
            )
            created_version = True
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="spec.apply",
                outcome="created" if created_version else "unchanged",
                campaign_id=campaign_id,
                spec_version=version.version,
                target=f"campaign:{name}",
                request_id=principal.request_id,
                details={"spec_hash": parsed.spec_hash, "created_campaign": created_campaign},
            ),
            now=now,
        )
        campaign = campaign_store.get_campaign(conn, campaign_id)
    with structlog.contextvars.bound_contextvars(campaign_id=campaign.id):
        log.info(
            "spec_applied",
            campaign=campaign.name,
            spec_version=version.version,
            spec_hash=version.spec_hash,
            created_version=created_version,
            actor=principal.name,
        )
    return ApplyResult(campaign, version, created_campaign, created_version)


def list_campaigns(
    ctx: AppContext,
    *,
    name_prefix: str | None = None,
    limit: int = 100,
    after_id: int | None = None,
) -> list[Campaign]:
    with ctx.db.transaction() as conn:
        return campaign_store.list_campaigns(
            conn,
            campaign_store.CampaignFilter(name_prefix=name_prefix, limit=limit, after_id=after_id),
        )


def get_campaign(ctx: AppContext, ref: str) -> Campaign:
    with ctx.db.transaction() as conn:
        return campaign_store.get_campaign(conn, ref)


def list_spec_versions(ctx: AppContext, ref: str) -> tuple[Campaign, list[SpecVersion]]:
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, ref)
        return campaign, campaign_store.list_spec_versions(conn, campaign.id)


def get_spec_version(
    ctx: AppContext, ref: str, version: int | None
) -> tuple[Campaign, SpecVersion]:
    """One version of a campaign's spec; `None` means the latest."""
    with ctx.db.transaction() as conn:
        campaign = campaign_store.get_campaign(conn, ref)
        if version is None:
            if campaign.latest_version is None:
                raise InvalidInputError(f"campaign {campaign.name!r} has no spec yet")
            version = campaign.latest_version
        return campaign, campaign_store.get_spec_version(conn, campaign.id, version)


def spec_document(version: SpecVersion) -> dict[str, Any]:
    """The normalized spec as JSON data (parsed from the stored canonical text)."""
    data: dict[str, Any] = json.loads(version.canonical_json)
    return data


# -- what applying a new version would do to the PRs already open -----------------------------

# Written in place on an open PR when only the template changed (`reconcile.plan` rows).
_TEMPLATE_OPERATIONS = (
    Operation.SET_LABELS,
    Operation.REMOVE_LABELS,
    Operation.REQUEST_REVIEWERS,
    Operation.REMOVE_REVIEWERS,
    Operation.SET_ASSIGNEES,
    Operation.REMOVE_ASSIGNEES,
    Operation.UNDRAFT,
    Operation.DISABLE_AUTO_MERGE,
    Operation.ENABLE_AUTO_MERGE,
)
# Top-level spec keys that do not change a patch; any other difference re-executes.
_NOT_PATCH = frozenset(
    {"name", "description", "schema_version", "policy", "changeset", "on", "exclude"}
)
# The changeset keys that change what the patch applies to.
_BASE_KEYS = ("base",)
_SPEC_NAME = re.compile(r"\bspec\b")  # `{{ spec.hash }}`, `{{ spec.version }}` in a template
REEXECUTE = "reexecute_and_push"  # an operation name: after the next preview and publish
FINAL = "final"  # merged or closed: never touched again
NOT_OPENED = "not_opened"  # no PR yet: opened with the new version when published


@dataclass(frozen=True, slots=True)
class ChangesetPlan:
    """What applying (then previewing and publishing) the new version does to one changeset."""

    changeset_id: int
    repo: str
    pr_number: int | None
    spec_version: int
    operations: tuple[str, ...]
    removals: dict[str, list[str]]  # labels, reviewers, assignees the new spec dropped

    @property
    def changes(self) -> bool:
        return any(op not in {FINAL, NOT_OPENED} for op in self.operations)

    @property
    def change(self) -> str:
        """In a word: `push` (a new commit), `update_in_place` (the PR's text, labels,
        reviewers or assignees; its commit stays), `final`, `not_opened` or `none`."""
        if FINAL in self.operations or NOT_OPENED in self.operations:
            return self.operations[0]
        if REEXECUTE in self.operations or Operation.PUSH.value in self.operations:
            return "push"
        return "update_in_place" if self.operations else "none"


@dataclass(frozen=True, slots=True)
class ApplyPlan:
    campaign: str
    new_campaign: bool
    unchanged: bool  # the spec's hash is the latest version's: applying is a no-op
    latest_version: int | None
    spec_hash: str
    template_changed: bool
    patch_changed: bool
    selection_changed: bool
    changesets: list[ChangesetPlan]
    notes: list[str]

    @property
    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for c in self.changesets:
            for op in c.operations or ("unchanged",):
                found[op] = found.get(op, 0) + 1
        return dict(sorted(found.items()))

    @property
    def changes_published(self) -> bool:
        """Whether any PR already on GitHub would be written to."""
        return any(c.changes for c in self.changesets)


def _sections(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(what makes the patch, the selection, the PR template) of a normalized spec."""
    changeset = dict(spec.get("changeset") or {})
    patch = {k: v for k, v in spec.items() if k not in _NOT_PATCH}
    patch["base"] = {k: changeset.pop(k, None) for k in _BASE_KEYS}
    selection = {k: spec.get(k) for k in ("on", "exclude")}
    return patch, selection, changeset


def _template_differs(old: CampaignSpec, new: CampaignSpec) -> bool:
    """Whether the rendered title or body may differ: their templates changed, or they
    name the spec itself (its version and hash change with every version)."""
    texts = (new.changeset.title, new.changeset.body)
    names_spec = any(_SPEC_NAME.search(t) for t in texts)
    return (old.changeset.title, old.changeset.body) != texts or names_spec


def _changeset_plan(
    c: Changeset, old: CampaignSpec, new: CampaignSpec, *, patch_changed: bool
) -> ChangesetPlan:
    assert c.desired is not None
    o = c.observed

    removals: dict[str, list[str]] = {}

    def done(operations: tuple[str, ...]) -> ChangesetPlan:
        version = c.desired.spec_version if c.desired else 0
        return ChangesetPlan(c.id, c.repo, c.pr_number, version, operations, removals)

    if o.pr_state in {"closed", "merged"}:
        return done((FINAL,))
    if c.pr_number is None:
        return done((NOT_OPENED,))
    users, teams = _split_reviewers(list(new.changeset.reviewers), c.repo.partition("/")[0])
    desired = dataclasses.replace(
        c.desired,
        labels=tuple(new.changeset.labels),
        reviewers=users,
        team_reviewers=teams,
        assignees=tuple(new.changeset.assignees),
        draft=new.changeset.draft,
        auto_merge=auto_merge_setting(new),
    )
    operations: list[str] = []
    # A new commit only for what makes it (`Desired.push_key`): changed steps or base run
    # again first; a new commit mode commits the same patch again. Anything else is
    # written to the open PR in place.
    if patch_changed:
        operations.append(REEXECUTE)
    elif new.changeset.commit.mode != c.desired.commit_mode:
        operations.append(Operation.PUSH.value)
    if _template_differs(old, new):
        operations.append(Operation.UPDATE_PR.value)
    policy = DriftPolicy.from_desired(desired)
    operations += [op.value for op in _TEMPLATE_OPERATIONS if ROWS[op].needed(desired, o, policy)]
    for name, written, shown, wanted in (
        ("labels", o.written_labels, o.labels, desired.labels),
        ("reviewers", o.written_reviewers, o.reviewers, desired.reviewers),
        ("team_reviewers", o.written_team_reviewers, o.team_reviewers, desired.team_reviewers),
        ("assignees", o.written_assignees, o.assignees, desired.assignees),
    ):
        # Only what Shoal set and the new spec dropped: a human's own additions stay.
        if dropped := sorted((set(written) - set(wanted)) & set(shown)):
            removals[name] = dropped
    return done(tuple(operations))


def plan_apply(ctx: AppContext, yaml_text: str) -> ApplyPlan:
    """What applying this spec would change, per published changeset, writing nothing.

    Template changes are written in place on each open PR at the next publish; patch
    changes need a preview first (the patches are not known before), and so do the
    repositories that would leave the selection."""
    parsed = _parse(yaml_text)
    _check_images(parsed, ctx.settings.executor)
    new = parsed.spec
    with ctx.db.transaction() as conn:
        try:
            campaign = campaign_store.get_campaign(conn, new.name)
        except NotFoundError:
            return ApplyPlan(
                new.name, True, False, None, parsed.spec_hash, False, False, False, [], []
            )
        if campaign.latest_version is None:
            return ApplyPlan(
                new.name, False, False, None, parsed.spec_hash, False, False, False, [], []
            )
        unchanged = campaign.latest_spec_hash == parsed.spec_hash
        published = changeset_store.list_changesets(
            conn,
            changeset_store.ChangesetFilter(campaign_id=campaign.id, publish=True, limit=100_000),
        )
        versions = {
            v: campaign_store.get_spec_version(conn, campaign.id, v)
            for v in {c.desired.spec_version for c in published if c.desired is not None}
            | {campaign.latest_version}
        }
    latest = spec_document(versions[campaign.latest_version])
    new_doc: dict[str, Any] = json.loads(parsed.canonical_json)
    patch, selection, template = _sections(new_doc)
    old_patch, old_selection, old_template = _sections(latest)
    plans: list[ChangesetPlan] = []
    if not unchanged:
        for c in published:
            if c.desired is None:
                continue
            old = spec_of(versions[c.desired.spec_version])
            # Against the version the PR was made from: one behind by two versions changes
            # whatever either of them changed.
            old_doc_patch = _sections(spec_document(versions[c.desired.spec_version]))[0]
            plans.append(_changeset_plan(c, old, new, patch_changed=old_doc_patch != patch))
    notes = []
    patch_changed = patch != old_patch
    selection_changed = selection != old_selection
    if patch_changed and not unchanged:
        notes.append(
            "the steps or the base changed: the patches are made again by the next "
            "`shoal preview`, and `shoal publish` pushes them"
        )
    if selection_changed and not unchanged:
        notes.append(
            "the selection changed: the repositories that leave it are known only after the "
            f"next preview; publishing then applies on_deselect ({new.policy.on_deselect})"
        )
    if any(c.changes for c in plans):
        notes.append("nothing is written to GitHub before `shoal publish`")
    return ApplyPlan(
        campaign=campaign.name,
        new_campaign=False,
        unchanged=unchanged,
        latest_version=campaign.latest_version,
        spec_hash=parsed.spec_hash,
        template_changed=template != old_template and not unchanged,
        patch_changed=patch_changed and not unchanged,
        selection_changed=selection_changed and not unchanged,
        changesets=plans,
        notes=notes,
    )
