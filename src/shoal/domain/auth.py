"""Who may call Shoal: API tokens and their roles."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import NewType

__all__ = ["ApiToken", "ApiTokenId", "Principal", "Role"]

ApiTokenId = NewType("ApiTokenId", int)


class Role(enum.StrEnum):
    """Roles are ordered: each one may do everything the ones below it may."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: ApiTokenId
    name: str
    role: Role
    prefix: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a use case: a token's name for API calls, `system:*` for Shoal itself.

    `request_id` ties the audit events a call causes to the request (and its log lines).
    """

    name: str
    role: Role
    request_id: str | None = None
