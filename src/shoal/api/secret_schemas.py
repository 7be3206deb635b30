"""Bodies of the secrets API: names and grants, never values."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shoal.services.secrets import GrantChange, SecretOverview
from shoal.store.secret_grants import SecretGrant

__all__ = ["GrantChangeOut", "SecretGrantOut", "SecretOut", "SecretsOut"]


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
