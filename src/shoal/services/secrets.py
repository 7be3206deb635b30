"""Step secrets: which campaigns may use them, and their values when a step needs them.

A value comes from one of two places: set by an admin over the API (`PUT /secrets/{name}`),
stored sealed in PostgreSQL (envelope encryption under the keys of `encryption_keys`, the
secret's name as associated data: `shoal.crypto`), or a directory with one file per secret,
named by the secret (the layout of a Kubernetes Secret mounted as a volume). A stored value
wins over a file of the same name. Values are read at execution time, passed only to the
steps that list them, masked in every log line, and looked for in every patch before it is
stored (`shoal.execution.secret_scan`).

Which campaign may use which secret is decided by an admin: a secret is granted to a campaign
(by name, so the grant can come before the campaign's first apply) or to an org (any
campaign may name it; an execution gets it only in that org's repositories). A spec that names
a secret it was not granted is refused on apply; an execution whose grant was revoked since
then fails (`secret_not_granted`) instead of receiving the value. Grants hold names only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import structlog
from sqlalchemy.engine import Connection

from shoal.crypto import Keyring
from shoal.domain.audit import NewAuditEvent
from shoal.domain.auth import Principal
from shoal.domain.errors import InvalidInputError
from shoal.services.context import AppContext
from shoal.spec import CampaignSpec
from shoal.spec.errors import SpecIssue, format_path
from shoal.spec.loader import load_document
from shoal.spec.names import is_campaign_name, is_env_name, is_login
from shoal.store import Database
from shoal.store import audit as audit_store
from shoal.store import secret_grants as grant_store
from shoal.store import secret_values as value_store
from shoal.store.secret_grants import GrantScope, SecretGrant

__all__ = [
    "MAX_SECRET_BYTES",
    "DirectorySecretSource",
    "GrantChange",
    "SecretMissingError",
    "SecretOverview",
    "SecretSource",
    "SecretValueChange",
    "StepSecrets",
    "check_spec_grants",
    "delete_secret_value",
    "grant_secret",
    "list_secrets",
    "revoke_secret",
    "secret_context",
    "set_secret_value",
    "ungranted_secrets",
]

MAX_SECRET_BYTES = 64 * 1024

log = structlog.get_logger("shoal.secrets")


class SecretMissingError(InvalidInputError):
    code = "secret_missing"


class DirectorySecretSource:
    def __init__(self, root: Path) -> None:
        self.root = root

    def resolve(self, names: Iterable[str]) -> dict[str, str]:
        """The values of `names`; a missing one fails the execution with a precise message."""
        values: dict[str, str] = {}
        for name in names:
            path = self.root / name
            try:
                # One trailing newline is an artifact of how files are written, not the secret.
                values[name] = path.read_text(encoding="utf-8").removesuffix("\n")
            except FileNotFoundError:
                raise SecretMissingError(
                    f"secret {name!r} is not configured: create the file {path} "
                    "(or mount a Secret with that key there)",
                    details={"secret": name},
                ) from None
        return values

    def names(self) -> list[str]:
        """The secrets configured here (file names only; nothing is read)."""
        try:
            return sorted(
                p.name for p in self.root.iterdir() if p.is_file() and is_env_name(p.name)
            )
        except OSError:
            return []  # no directory here: on a cluster only the workers mount it


class StepSecrets(Protocol):
    def resolve(self, names: Iterable[str]) -> dict[str, str]: ...


def secret_context(name: str) -> str:
    """The associated data a stored secret is sealed with: its row's identity."""
    return f"secret_values:{name}"


class SecretSource:
    """Values set over the API (stored sealed), else the secrets directory's files."""

    def __init__(self, db: Database, keyring: Keyring, directory: Path) -> None:
        self._db = db
        self._keyring = keyring
        self.directory = DirectorySecretSource(directory)

    def resolve(self, names: Iterable[str]) -> dict[str, str]:
        wanted = list(names)
        with self._db.transaction() as conn:
            sealed = value_store.sealed_values(conn, wanted)
        values = {
            name: self._keyring.open(text, context=secret_context(name))
            for name, text in sealed.items()
        }
        values |= self.directory.resolve(n for n in wanted if n not in values)
        return values


@dataclass(frozen=True, slots=True)
class SecretValueChange:
    """`created` False: an existing value was replaced (`set`) or there was none (`delete`)."""

    name: str
    created: bool
    deleted: bool


def _check_name(secret: str) -> None:
    if not is_env_name(secret):
        raise InvalidInputError(
            f"{secret!r} is not a secret name: letters, digits and underscores, not starting "
            "with a digit (the environment variable a step gets)",
            details={"secret": secret},
        )


def set_secret_value(
    ctx: AppContext, principal: Principal, secret: str, value: str
) -> SecretValueChange:
    """Store `value` sealed (replacing any earlier one; audited without the value)."""
    _check_name(secret)
    if not value or len(value.encode()) > MAX_SECRET_BYTES:
        raise InvalidInputError(
            f"a secret's value must be 1 byte to {MAX_SECRET_BYTES // 1024} KiB",
            details={"secret": secret},
        )
    if "\x00" in value:
        raise InvalidInputError(
            "a secret's value cannot hold a NUL character (steps get it as an environment "
            "variable)",
            details={"secret": secret},
        )
    sealed = ctx.keyring.seal(value, context=secret_context(secret))
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        created = value_store.upsert_value(
            conn, secret, sealed, key_id=ctx.keyring.current, by=principal.name, now=now
        )
        audit_store.append_audit_event(
            conn,
            NewAuditEvent(
                actor=principal.name,
                action="secret.set",
                target=f"secret:{secret}",
                request_id=principal.request_id,
                details={"secret": secret, "replaced": not created},
            ),
            now=now,
        )
    log.info("secret_value_set", secret=secret, actor=principal.name, replaced=not created)
    return SecretValueChange(name=secret, created=created, deleted=False)


def delete_secret_value(ctx: AppContext, principal: Principal, secret: str) -> SecretValueChange:
    """Forget a stored value (idempotent; audited when there was one)."""
    _check_name(secret)
    with ctx.db.transaction() as conn:
        deleted = value_store.delete_value(conn, secret)
        if deleted:
            audit_store.append_audit_event(
                conn,
                NewAuditEvent(
                    actor=principal.name,
                    action="secret.delete",
                    target=f"secret:{secret}",
                    request_id=principal.request_id,
                    details={"secret": secret},
                ),
                now=ctx.clock.now(),
            )
    if deleted:
        log.info("secret_value_deleted", secret=secret, actor=principal.name)
    return SecretValueChange(name=secret, created=False, deleted=deleted)


@dataclass(frozen=True, slots=True)
class GrantChange:
    """A grant or revoke: `changed` is False when there was nothing to do (not audited)."""

    changed: bool
    grant: SecretGrant | None  # the grant now (grant), or the one removed (revoke)
    secret: str
    scope: GrantScope
    subject: str


@dataclass(frozen=True, slots=True)
class SecretOverview:
    name: str
    configured: bool | None  # None: this server has no secrets directory to look in
    grants: list[SecretGrant]
    stored: value_store.StoredSecret | None = None  # set over the API


def _scope(secret: str, campaign: str | None, org: str | None) -> tuple[GrantScope, str]:
    if not is_env_name(secret):
        raise InvalidInputError(
            f"{secret!r} is not a secret name: letters, digits and underscores, not starting "
            "with a digit (the environment variable a step gets)",
            details={"secret": secret},
        )
    if (campaign is None) == (org is None):
        raise InvalidInputError(
            "name exactly one of a campaign or an org to grant the secret to (or revoke from)",
            details={"secret": secret},
        )
    if campaign is not None:
        if not is_campaign_name(campaign):
            raise InvalidInputError(
                f"{campaign!r} is not a campaign name: lower-case letters, digits and hyphens, "
                "starting with a letter, at most 63 characters",
                details={"campaign": campaign},
            )
        return "campaign", campaign
    assert org is not None
    if not is_login(org):
        raise InvalidInputError(
            f"{org!r} is not a GitHub organization login: letters, digits and single hyphens "
            "between them, at most 39 characters",
            details={"org": org},
        )
    return "org", org.lower()


def grant_secret(
    ctx: AppContext,
    principal: Principal,
    secret: str,
    *,
    campaign: str | None = None,
    org: str | None = None,
) -> GrantChange:
    """Let `campaign` (or every campaign in `org`'s repositories) use `secret`."""
    scope, subject = _scope(secret, campaign, org)
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        added = grant_store.insert_grant(conn, secret, scope, subject, by=principal.name, now=now)
        if added:
            _audit(conn, ctx, principal, "secret.grant", secret, scope, subject)
        grant = grant_store.get_grant(conn, secret, scope, subject)
    if added:
        log.info(
            "secret_granted", secret=secret, scope=scope, subject=subject, actor=principal.name
        )
    return GrantChange(added, grant, secret, scope, subject)


def revoke_secret(
    ctx: AppContext,
    principal: Principal,
    secret: str,
    *,
    campaign: str | None = None,
    org: str | None = None,
) -> GrantChange:
    """Take a grant back: executions that start from now on no longer get the secret."""
    scope, subject = _scope(secret, campaign, org)
    with ctx.db.transaction() as conn:
        removed = grant_store.delete_grant(conn, secret, scope, subject)
        if removed is not None:
            _audit(conn, ctx, principal, "secret.revoke", secret, scope, subject)
    if removed is not None:
        log.info(
            "secret_revoked", secret=secret, scope=scope, subject=subject, actor=principal.name
        )
    return GrantChange(removed is not None, removed, secret, scope, subject)


def _audit(
    conn: Connection,
    ctx: AppContext,
    principal: Principal,
    action: str,
    secret: str,
    scope: GrantScope,
    subject: str,
) -> None:
    audit_store.append_audit_event(
        conn,
        NewAuditEvent(
            actor=principal.name,
            action=action,
            target=f"secret:{secret}",
            request_id=principal.request_id,
            details={"secret": secret, "scope": scope, scope: subject},
        ),
        now=ctx.clock.now(),
    )


def list_secrets(ctx: AppContext) -> list[SecretOverview]:
    """Every secret configured on this server or granted somewhere, with its grants."""
    source = DirectorySecretSource(ctx.settings.step_secrets_dir)
    has_dir = source.root.is_dir()
    configured = set(source.names())
    with ctx.db.transaction() as conn:
        grants = grant_store.list_grants(conn)
        stored = {s.name: s for s in value_store.list_stored(conn)}
    names = sorted(configured | set(stored) | {g.secret for g in grants})
    return [
        SecretOverview(
            name=name,
            configured=(name in configured) if has_dir else None,
            grants=[g for g in grants if g.secret == name],
            stored=stored.get(name),
        )
        for name in names
    ]


def check_spec_grants(conn: Connection, spec: CampaignSpec, yaml_text: str) -> None:
    """Refuse a spec that names a secret its campaign was not granted, as a spec error."""
    named = {name for step in spec.steps for name in step.secrets}
    missing = named - grant_store.granted_for_spec(conn, named, spec.name)
    if not missing:
        return
    document = load_document(yaml_text)
    written = document.data.get("steps")
    issues = []
    for i, step in enumerate(spec.steps):
        # Point at the name as written: the model keeps secrets sorted, the text may not.
        as_written = _written_secrets(written, i)
        for name in step.secrets:
            if name not in missing:
                continue
            j = as_written.index(name) if name in as_written else step.secrets.index(name)
            path = ("steps", i, "secrets", j)
            position = document.position(path)
            issues.append(
                SpecIssue(
                    path=format_path(path),
                    message=(
                        f"secret {name!r} is not granted to campaign {spec.name!r}: an admin "
                        f"can grant it with `shoal secrets grant {name} --campaign {spec.name}` "
                        "(or `--org ORG` for the repositories of an org)"
                    ),
                    line=position.line if position else None,
                    column=position.column if position else None,
                )
            )
    raise InvalidInputError(
        "the campaign spec is invalid",
        details={"errors": [issue.to_dict() for issue in sorted(issues, key=SpecIssue.sort_key)]},
    )


def _written_secrets(steps: object, index: int) -> list[str]:
    if isinstance(steps, list) and index < len(steps) and isinstance(steps[index], dict):
        secrets = steps[index].get("secrets")
        if isinstance(secrets, list):
            return [str(s) for s in secrets]
    return []


def ungranted_secrets(
    conn: Connection, names: Iterable[str], *, campaign: str, repo: str
) -> list[str]:
    """Which of `names` an execution of `campaign` in `repo` may not be given, sorted."""
    wanted = set(names)
    if not wanted:
        return []
    org = repo.partition("/")[0]
    return sorted(wanted - grant_store.granted_for_execution(conn, wanted, campaign, org))
