"""The App's webhook delivery log (App JWT): listing recent deliveries and asking GitHub to
deliver one again.

GitHub lists deliveries newest first, one row per attempt (a redelivery is a new row with
the same `guid` and `redelivery: true`), paged by cursor through the `Link` header.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from shoal.domain.errors import ShoalError
from shoal.github.app import PER_PAGE, GitHubApp
from shoal.github.calls import Call
from shoal.github.errors import GitHubUnavailableError

__all__ = ["REDELIVER_ROUTE", "HookDelivery", "Redelivery", "list_deliveries", "redeliver"]

LIST_ROUTE = "/app/hook/deliveries"
REDELIVER_ROUTE = "/app/hook/deliveries/{delivery_id}/attempts"


class HookDelivery(BaseModel):
    """One delivery attempt as GitHub lists it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: int
    guid: str
    delivered_at: datetime
    redelivery: bool
    status_code: int
    event: str
    action: str | None = None

    @property
    def succeeded(self) -> bool:
        return 200 <= self.status_code < 400


@dataclass(frozen=True, slots=True)
class Redelivery:
    """What GitHub answered a redelivery request: the status (0 when no answer came), its
    request id, and the error when it refused."""

    status: int
    request_id: str | None
    error: ShoalError | None = None


def list_deliveries(app: GitHubApp, *, since: datetime, max_pages: int = 20) -> list[HookDelivery]:
    """Attempts delivered at or after `since`, newest first (at most `max_pages` pages)."""
    found: list[HookDelivery] = []
    call = Call("GET", LIST_ROUTE, params={"per_page": PER_PAGE}, revalidate=False)
    for _ in range(max_pages):
        reply = app.call_as_app(call)
        try:
            page = [HookDelivery.model_validate(item) for item in reply.json() or []]
        except (ValidationError, TypeError) as exc:
            raise GitHubUnavailableError(
                f"GET {LIST_ROUTE}: an answer Shoal cannot read ({exc.__class__.__name__})"
            ) from None
        found.extend(d for d in page if d.delivered_at >= since)
        next_url = reply.next_url()
        if not next_url or not page or page[-1].delivered_at < since:
            break
        call = Call("GET", LIST_ROUTE, url=next_url, revalidate=False)
    return found


def redeliver(app: GitHubApp, delivery_id: int) -> Redelivery:
    """Ask GitHub to deliver `delivery_id` again (it answers 202 and delivers later)."""
    call = Call("POST", REDELIVER_ROUTE, path={"delivery_id": delivery_id})
    try:
        reply = app.call_as_app(call)
    except ShoalError as exc:
        answer = exc.answer
        return Redelivery(
            status=(answer.status or 0) if answer is not None else 0,
            request_id=answer.request_id if answer is not None else None,
            error=exc,
        )
    return Redelivery(status=reply.status, request_id=reply.request_id)
