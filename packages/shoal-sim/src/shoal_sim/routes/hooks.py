"""The App's own webhook: ``/app/hook/config`` and the delivery log with redelivery (JWT)."""

from __future__ import annotations

from urllib.parse import urlencode

from shoal_sim.errors import GitHubError, not_found, validation_failed
from shoal_sim.paging import page_params
from shoal_sim.rest import Auth, Ctx, Reply, Router
from shoal_sim.state.access import AppCaller
from shoal_sim.state.models import App
from shoal_sim.webhooks import Delivery

router = Router()
CURSOR_PREFIX = "v1_"


def _app(ctx: Ctx) -> App:
    assert isinstance(ctx.caller, AppCaller)
    return ctx.caller.app


def _cursor(value: str | None) -> int | None:
    if value is None:
        return None
    digits = value.removeprefix(CURSOR_PREFIX)
    if not digits.isdigit():
        raise GitHubError(400, "Invalid cursor")
    return int(digits)


def _delivery(ctx: Ctx) -> Delivery:
    ident = ctx.params["delivery_id"]
    found = (
        ctx.sim.webhooks.log.find(ctx.now, _app(ctx).id, int(ident)) if ident.isdigit() else None
    )
    if found is None:
        raise not_found()
    return found


@router.route(
    "GET",
    "/app/hook/config",
    auth=Auth.JWT,
    docs="apps/webhooks#get-a-webhook-configuration-for-an-app",
)
def get_config(ctx: Ctx) -> Reply:
    app = _app(ctx)
    body = {"content_type": "json", "url": app.webhook_url or "", "insecure_ssl": "0"}
    if app.webhook_secret:
        body["secret"] = "********"  # noqa: S105 - GitHub masks the secret, never reveals it
    return Reply(body)


@router.route(
    "GET",
    "/app/hook/deliveries",
    auth=Auth.JWT,
    docs="apps/webhooks#list-deliveries-for-an-app-webhook",
)
def list_deliveries(ctx: Ctx) -> Reply:
    """Newest first, paged by ``cursor`` (never ``page``), as GitHub does."""
    status = ctx.query.get("status")
    if status not in (None, "success", "failure"):
        raise validation_failed({"resource": "HookDelivery", "field": "status", "code": "invalid"})
    _, per_page = page_params(ctx.query)
    items = ctx.sim.webhooks.log.list(
        ctx.now, app_id=_app(ctx).id, status=status, before_id=_cursor(ctx.query.get("cursor"))
    )
    chunk = items[:per_page]
    headers = {}
    if len(items) > per_page:
        params = dict(ctx.query.items())
        params.update(per_page=str(per_page), cursor=f"{CURSOR_PREFIX}{chunk[-1].id}")
        headers["link"] = f'<{ctx.origin}{ctx.url.path}?{urlencode(params)}>; rel="next"'
    return Reply([d.item() for d in chunk], 200, headers)


@router.route(
    "GET",
    "/app/hook/deliveries/{delivery_id}",
    auth=Auth.JWT,
    docs="apps/webhooks#get-a-delivery-for-an-app-webhook",
)
def get_delivery(ctx: Ctx) -> Reply:
    return Reply(_delivery(ctx).detail())


@router.route(
    "POST",
    "/app/hook/deliveries/{delivery_id}/attempts",
    auth=Auth.JWT,
    docs="apps/webhooks#redeliver-a-delivery-for-an-app-webhook",
)
def redeliver(ctx: Ctx) -> Reply:
    ctx.sim.webhooks.redeliver(_delivery(ctx))
    return Reply({}, 202)
