"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

import shoal
from shoal.api.errors import install_error_handlers
from shoal.api.metrics import app_registry
from shoal.api.middleware import RequestContextMiddleware
from shoal.api.openapi import install_openapi
from shoal.api.paths import API_PREFIX
from shoal.api.request_guard import RequestGuardMiddleware
from shoal.api.routes import (
    artifacts,
    audit,
    budgets,
    campaigns,
    controls,
    health,
    installations,
    publishing,
    runs,
    secrets,
    sync,
    tasks,
    webhooks,
)
from shoal.api.routes import bulk as bulk_routes
from shoal.api.routes import progress as progress_routes
from shoal.api.routes import (
    tokens as token_routes,
)
from shoal.services import artifact_proxy, tokens
from shoal.services.context import AppContext
from shoal.ui.app import install_ui
from shoal.ui.paths import UI_SPEC_ROUTES

__all__ = ["create_app"]


def create_app(ctx: AppContext) -> FastAPI:
    app = FastAPI(
        title="Shoal",
        summary="Declarative bulk pull-request campaigns across GitHub organizations",
        description=shoal.__doc__ or "",
        version=shoal.__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.metrics_registry = app_registry(ctx)
    install_error_handlers(app)
    # The last added runs first: the request id is set before the guard answers anything.
    app.add_middleware(
        RequestGuardMiddleware,
        max_body_bytes=ctx.settings.api_max_body_bytes,
        max_spec_body_bytes=ctx.settings.api_max_spec_body_bytes,
        spec_routes=("/campaigns/apply", "/campaigns/plan", "/specs/validate"),
        page_spec_routes=UI_SPEC_ROUTES,
        authenticate=lambda token: tokens.authenticate(ctx, token),
        signed_routes={webhooks.WEBHOOK_ROUTE: ctx.settings.github_webhook_max_body_bytes},
        runner_prefix=(
            artifacts.RUNNER_PREFIX,
            max(artifacts.proxy_of(ctx).limit(name) for name in artifact_proxy.RESULT_FILES),
        ),
    )
    app.add_middleware(RequestContextMiddleware)
    app.include_router(campaigns.router)
    app.include_router(runs.router)
    app.include_router(publishing.router)
    app.include_router(controls.router)
    app.include_router(installations.router)
    app.include_router(budgets.router)
    app.include_router(secrets.router)
    app.include_router(token_routes.router)
    app.include_router(audit.router)
    app.include_router(tasks.router)
    app.include_router(webhooks.router)
    app.include_router(progress_routes.router)
    app.include_router(bulk_routes.router)
    app.include_router(sync.router)
    app.include_router(artifacts.router)
    app.include_router(health.router)
    install_ui(app)
    install_openapi(app)
    return app
