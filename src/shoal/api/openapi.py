"""The OpenAPI description says which errors each operation answers, and their body.

Every error is the same JSON body (`errors.error_body`), and most of them follow from how a
route is declared rather than from its own code: the request guard refuses a URL with a
control character (400) and a body over its limit (413) on every route, and an unauthenticated
request (401) on every route that takes a body; a route that needs a token refuses a missing
or invalid one (401) and, when it needs more than the viewer role, a token without it (403);
a path parameter names something that may not exist (404); a value the use case cannot take
is refused with 422. Those are added here to every operation under `/api/v1`, so a new route
is described correctly without repeating them; what only one route answers (a 409, a 503) is
declared on the route itself with `responses=`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

from shoal.api.paths import API_PREFIX
from shoal.domain.auth import Role

__all__ = ["ErrorOut", "RouteInfo", "api_routes", "install_openapi", "required_role"]

# Set by `deps.require` on the dependency it makes.
ROLE_ATTRIBUTE = "shoal_role"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ErrorDetailOut(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `not_found`")
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    """Every error answer's body."""

    error: ErrorDetailOut


def required_role(dependant: Dependant) -> Role | None:
    """The role a route's API-token dependency asks for; None for a route without one."""
    for dependency in dependant.dependencies:
        role = getattr(dependency.call, ROLE_ATTRIBUTE, None)
        if isinstance(role, Role):
            return role
        found = required_role(dependency)
        if found is not None:
            return found
    return None


@dataclass(frozen=True, slots=True)
class RouteInfo:
    path: str  # as served, with its router's prefix
    methods: frozenset[str]
    route: APIRoute
    include_in_schema: bool

    @property
    def role(self) -> Role | None:
        return required_role(self.route.dependant)


def api_routes(app: FastAPI) -> list[RouteInfo]:
    """Every FastAPI route of the app (REST and UI pages), with the path it is served at."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and context.path:
            found.append(
                RouteInfo(
                    path=context.path,
                    methods=frozenset(context.methods or ()),
                    route=route,
                    include_in_schema=bool(context.include_in_schema),
                )
            )
    return found


def _errors_of(info: RouteInfo, method: str) -> dict[int, str]:
    errors = {
        400: "A control character in the URL, or a malformed request",
        422: "A parameter or body that is not valid, or a value this operation cannot take",
    }
    role = info.role
    if role is not None or method in BODY_METHODS:
        errors[401] = "No API token, or an unknown, revoked or expired one"
    if role is not None and role is not Role.VIEWER:
        errors[403] = f"The token's role is below {role.value}"
    if info.route.dependant.path_params:
        errors[404] = "Nothing of that name or id"
    if method in BODY_METHODS:
        errors[413] = "The request body is larger than the limit"
    return errors


def _describe_errors(app: FastAPI, document: dict[str, Any]) -> None:
    ref = {"$ref": "#/components/schemas/ErrorOut"}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorOut"] = error_schema
    for info in api_routes(app):
        if not (info.include_in_schema and info.path.startswith(API_PREFIX + "/")):
            continue
        for method in info.methods:
            operation = document["paths"].get(info.path, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in _errors_of(info, method).items():
                answer = responses.setdefault(str(status), {"description": description})
                # FastAPI's own 422 body is not Shoal's; a route's own entry keeps its words.
                answer["content"] = {"application/json": {"schema": ref}}
            for status, answer in responses.items():
                # An error a route declares itself (a 409, a 503) has the same body.
                if status.isdigit() and int(status) >= 400 and "content" not in answer:
                    answer["content"] = {"application/json": {"schema": ref}}
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def install_openapi(app: FastAPI) -> None:
    """`app.openapi()` (served at /api/v1/openapi.json) with the error answers described."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
                servers=app.servers,
            )
            _describe_errors(app, document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
