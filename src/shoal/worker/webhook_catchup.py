"""The leader's webhook duty: redeliver what GitHub sent and Shoal never received, and drop
deliveries past their retention."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shoal.github.app import GitHubApp
from shoal.services.context import AppContext
from shoal.services.webhook_catchup import catch_up, drop_expired
from shoal.store import Database
from shoal.worker.leader import PeriodicDuty

__all__ = ["webhook_catchup_duty"]


def webhook_catchup_duty(ctx: AppContext, github: Callable[[], GitHubApp]) -> PeriodicDuty:
    """Every `github_webhook_catchup_interval_s`, and as soon as a worker becomes leader.
    Without a GitHub App or a webhook secret (no webhooks to catch up on) only the retention
    runs. `github` builds the App client on first use."""

    def run(_db: Database, now: datetime) -> None:
        settings = ctx.settings
        drop_expired(ctx, now=now)
        if settings.github_app_id is None or settings.github_webhook_secret is None:
            return
        catch_up(ctx, github(), now=now)

    return PeriodicDuty(
        "webhook_catch_up", every_s=ctx.settings.github_webhook_catchup_interval_s, run=run
    )
