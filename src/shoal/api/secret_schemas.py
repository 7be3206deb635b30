"""Bodies of the secrets API: names and grants, never values (a value only comes in, in
`SecretValueIn`, and is never sent back)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shoal.services.secrets import MAX_SECRET_BYTES, GrantChange, SecretOverview, SecretValueChange
from shoal.store.secret_grants import SecretGrant

__all__ = [
    "GrantChangeOut",
    "SecretGrantOut",
    "SecretOut",
    "SecretValueChangeOut",
    "SecretValueIn",
    "SecretsOut",
]


class SecretGrantOut(BaseModel):
    secret: str
    scope: Literal["campaign", "org"]
    subject: str = Field(description="The campaign's name, or the org's login (lower case).")
    granted_by: str
    granted_at: datetime

    @classmethod
    def of(cls, g: SecretGrant) -> SecretGrantOut:
        return cls(
            secret=g.secret,
            scope=g.scope,
            subject=g.subject,
            granted_by=g.granted_by,
            granted_at=g.granted_at,
        )


class SecretOut(BaseModel):
    name: str
    configured: bool | None = Field(
        description="Whether this server's secrets directory has a file for it; null when the "
        "server has no secrets directory (on a cluster, only workers mount it)."
    )
    stored: bool = Field(
        description="Whether a value was set over the API (stored sealed; it wins over a file)."
    )
    set_by: str | None = Field(description="Who set the stored value (null when none is).")
    set_at: datetime | None
    grants: list[SecretGrantOut]


class SecretsOut(BaseModel):
    secrets: list[SecretOut]

    @classmethod
    def of(cls, found: list[SecretOverview]) -> SecretsOut:
        return cls(
            secrets=[
                SecretOut(
                    name=s.name,
                    configured=s.configured,
                    stored=s.stored is not None,
                    set_by=s.stored.set_by if s.stored else None,
                    set_at=s.stored.set_at if s.stored else None,
                    grants=[SecretGrantOut.of(g) for g in s.grants],
                )
                for s in found
            ]
        )


class GrantChangeOut(BaseModel):
    changed: bool = Field(description="False when there was nothing to do (not audited).")
    secret: str
    scope: Literal["campaign", "org"]
    subject: str
    grant: SecretGrantOut | None = Field(
        description="The grant as it stands (grant), or the one taken back (revoke)."
    )

    @classmethod
    def of(cls, c: GrantChange) -> GrantChangeOut:
        return cls(
            changed=c.changed,
            secret=c.secret,
            scope=c.scope,
            subject=c.subject,
            grant=SecretGrantOut.of(c.grant) if c.grant else None,
        )


class SecretValueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: str = Field(
        description=f"The secret's value (1 byte to {MAX_SECRET_BYTES // 1024} KiB). Stored "
        "sealed, never shown again.",
        # Counted in characters here; the service counts the UTF-8 bytes.
        max_length=MAX_SECRET_BYTES,
        repr=False,
    )


class SecretValueChangeOut(BaseModel):
    secret: str
    changed: bool = Field(
        description="set: always true. delete: false when no value was stored (not audited)."
    )
    replaced: bool = Field(description="set: whether a stored value was replaced.")

    @classmethod
    def set(cls, c: SecretValueChange) -> SecretValueChangeOut:
        return cls(secret=c.name, changed=True, replaced=not c.created)

    @classmethod
    def deleted(cls, c: SecretValueChange) -> SecretValueChangeOut:
        return cls(secret=c.name, changed=c.deleted, replaced=False)
