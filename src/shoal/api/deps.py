"""Request dependencies: the application context and the authenticated caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shoal.api.openapi import ROLE_ATTRIBUTE
from shoal.api.request_guard import PRINCIPAL_STATE_KEY
from shoal.domain.auth import Principal, Role
from shoal.domain.errors import AuthenticationError, PermissionDeniedError
from shoal.services import tokens
from shoal.services.context import AppContext

__all__ = ["Admin", "Ctx", "Operator", "Viewer", "require"]

_bearer = HTTPBearer(auto_error=False, description="A Shoal API token: `Bearer shoal_...`")


async def _context(request: Request) -> AppContext:
    # async: FastAPI runs a plain `def` dependency on its thread pool, a thread handoff per
    # request for one attribute read.
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(_context)]


def require(role: Role) -> Callable[..., Principal]:
    """A dependency that authenticates the caller and checks it has at least `role`."""

    def dependency(
        request: Request,
        ctx: Ctx,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise AuthenticationError(
                "missing API token: send 'Authorization: Bearer <token>' "
                "(create one with `shoal admin create-token`)"
            )
        # A request with a body was authenticated before its body was read.
        principal = getattr(request.state, PRINCIPAL_STATE_KEY, None)
        if not isinstance(principal, Principal):
            principal = tokens.authenticate(ctx, credentials.credentials)
        if not principal.role.allows(role):
            raise PermissionDeniedError(
                f"this needs the {role.value} role; your token has {principal.role.value}",
                details={"needed": role.value, "have": principal.role.value},
            )
        return Principal(
            name=principal.name,
            role=principal.role,
            request_id=getattr(request.state, "request_id", None),
        )

    # What the OpenAPI description reads to say which errors the route answers (api.openapi).
    setattr(dependency, ROLE_ATTRIBUTE, role)
    return dependency


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
