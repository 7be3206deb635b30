"""Bodies of the API tokens API: a token's secret appears once, in the answer that mints it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shoal.domain.auth import ApiToken, Role
from shoal.services.tokens import TokenRevocation

__all__ = ["TokenCreatedOut", "TokenIn", "TokenOut", "TokenRevocationOut", "TokensOut"]


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="A label for the token (1 to 100 characters).", max_length=100)
    role: Role = Field(description="viewer, operator or admin.")
    expires_in: str | None = Field(
        default=None,
        max_length=40,
        description="Lifetime from now: days, hours and minutes, like 90d, 12h or 1d12h.",
    )
    expires_at: datetime | None = Field(
        default=None, description="Expiry as a timestamp with a time zone (instead of expires_in)."
    )


class TokenOut(BaseModel):
    id: int
    name: str
    role: Role
    prefix: str = Field(description="The secret's first characters, to tell tokens apart.")
    created_by: str = Field(description="Who minted it (`token:<name>` or `system:...`).")
    created_at: datetime
    expires_at: datetime | None = Field(description="Null: valid until revoked.")
    last_used_at: datetime | None = Field(
        description="Last authenticated request, recorded at one-minute resolution."
    )
    revoked_at: datetime | None
    state: str = Field(description="active, expired or revoked.")

    @classmethod
    def of(cls, t: ApiToken, now: datetime) -> TokenOut:
        state = "revoked" if t.revoked_at else "expired" if t.expired(now) else "active"
        return cls(
            id=t.id,
            name=t.name,
            role=t.role,
            prefix=t.prefix,
            created_by=t.created_by,
            created_at=t.created_at,
            expires_at=t.expires_at,
            last_used_at=t.last_used_at,
            revoked_at=t.revoked_at,
            state=state,
        )


class TokenCreatedOut(TokenOut):
    secret: str = Field(
        description="The token to send as `Authorization: Bearer ...`. Shown only here: Shoal "
        "keeps its sha256, so it cannot be shown again."
    )


class TokensOut(BaseModel):
    tokens: list[TokenOut]


class TokenRevocationOut(BaseModel):
    changed: bool = Field(description="False when it was revoked already (not audited again).")
    token: TokenOut

    @classmethod
    def of(cls, r: TokenRevocation, now: datetime) -> TokenRevocationOut:
        return cls(changed=r.changed, token=TokenOut.of(r.token, now))
