"""Live updates of a campaign over Server-Sent Events (`GET /ui/campaigns/{name}/live`).

A page subscribes with the htmx SSE extension (loaded by base.html, `hx-ext="sse"` on body):

    <div sse-connect="/ui/campaigns/NAME/live" sse-close="signed-out">
      <div sse-swap="counts">…</div>                                  (swapped with the HTML)
      <tbody hx-get="…" hx-trigger="sse:changesets-changed">…</tbody>  (re-fetches itself)
    </div>

Events of the stream:

- `counts`: the campaign's changesets by state, as the HTML of `_campaign_counts.html`; sent
  on connecting and whenever the counts change (a changeset changed state, or a new one).
- `holds`: whether the kill switch or a pause holds the campaign, as the HTML of
  `_campaign_holds.html` (with the buttons the subscriber's role may use); sent on connecting
  and when a hold is set or lifted.
- `changesets-changed`: any of the campaign's changesets was written (state, checks, review,
  ETA...); the data is an opaque change number. A list of changesets re-fetches its page.
- `signed-out`: the session ended (signed out, token revoked, expired); the stream closes.

How changes are found: the architecture names Redis pub/sub for live updates, but nothing
publishes changeset changes there (the reconciler, the webhook receiver and the sync all
write rows directly), so one watcher per campaign and process asks Postgres for a fingerprint
about once a second (`shoal.store.campaign_overview.fingerprint`: one query on indexes) and
re-reads the counts only when it moved. However many browsers watch a campaign, the database
sees one fingerprint query a second for it, and one count query per change.

Bounds: each stream lives at most `ui_live_lifetime_s` (the browser's EventSource then
reconnects by itself), sends a heartbeat comment every 15 s, re-checks its session every
`ui_live_session_check_s`, and there are at most `ui_live_max_streams` streams per process
and 6 per session (beyond them: 503 with Retry-After). A stream is an async
generator: it holds no worker thread while it waits; database reads run in a thread briefly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import anyio.to_thread
import structlog

from shoal.config import Settings
from shoal.services import ui_campaign, ui_sessions
from shoal.services.context import AppContext
from shoal.services.ui_campaign import Fingerprint
from shoal.services.ui_sessions import UiSession

__all__ = ["EVENTS", "LiveHub", "LiveLimits", "Subscription", "TooManyStreamsError", "sse_event"]

log = structlog.get_logger("shoal.ui.live")

EVENTS = ("counts", "holds", "changesets-changed", "signed-out")


@dataclass(frozen=True, slots=True)
class LiveLimits:
    poll_s: float = 1.0
    heartbeat_s: float = 15.0
    session_check_s: float = 10.0
    lifetime_s: float = 300.0
    max_streams: int = 200
    max_per_session: int = 6

    @classmethod
    def of(cls, settings: Settings) -> LiveLimits:
        return cls(
            session_check_s=settings.ui_live_session_check_s,
            lifetime_s=settings.ui_live_lifetime_s,
            max_streams=settings.ui_live_max_streams,
        )


class TooManyStreamsError(Exception):
    """Over the process's or the session's number of live streams."""


def sse_event(event: str, data: str) -> str:
    """One SSE message; each line of `data` gets its own `data:` field (the client joins
    them with newlines), so no line of the HTML can end the message early."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


@dataclass(eq=False)  # compared and hashed by identity: one per stream
class Subscription:
    """What one stream has not sent yet: the latest counts, and whether rows changed."""

    counts: ui_campaign.LiveCounts | None = None
    rows_changed: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class _Watch:
    """The one poller of a campaign in this process, alive while someone subscribes."""

    def __init__(self, hub: LiveHub, campaign_id: int) -> None:
        self.hub = hub
        self.campaign_id = campaign_id
        self.subscribers: set[Subscription] = set()
        self.task: asyncio.Task[None] | None = None
        self.changes = 0
        self.last: Fingerprint | None = None
        # Set once the baseline is read: a stream reads its first counts after it, so a
        # change between the two is seen as one.
        self.ready = asyncio.Event()

    async def run(self) -> None:
        ctx = self.hub.ctx
        try:
            self.last = await anyio.to_thread.run_sync(
                ui_campaign.live_fingerprint, ctx, self.campaign_id
            )
        except Exception as exc:
            log.warning("live_poll_failed", campaign_id=self.campaign_id, error=str(exc))
        finally:
            self.ready.set()
        while self.subscribers:
            await asyncio.sleep(self.hub.limits.poll_s)
            last = self.last
            try:
                now = await anyio.to_thread.run_sync(
                    ui_campaign.live_fingerprint, ctx, self.campaign_id
                )
                if last is not None and now != last:
                    counts = None
                    if now.states != last.states:
                        counts = await anyio.to_thread.run_sync(
                            ui_campaign.live_counts, ctx, self.campaign_id
                        )
                    self.changes += 1
                    for sub in self.subscribers:
                        if counts is not None:
                            sub.counts = counts
                        if now.rows != last.rows:
                            sub.rows_changed = self.changes
                        sub.wake.set()
                self.last = now
            except Exception as exc:  # a database hiccup must not end every stream
                log.warning("live_poll_failed", campaign_id=self.campaign_id, error=str(exc))


class LiveHub:
    """The process's live streams: one watcher per watched campaign, limits on streams."""

    def __init__(self, ctx: AppContext, limits: LiveLimits | None = None) -> None:
        self.ctx = ctx
        self.limits = limits or LiveLimits.of(ctx.settings)
        self.watches: dict[int, _Watch] = {}
        self.streams = 0
        self.per_session: dict[int, int] = {}
        self.closing = False

    def close(self) -> None:
        """Ends every stream at once (the server is stopping): each returns at its next wake,
        which this gives it, and browsers reconnect to another server."""
        self.closing = True
        for watch in list(self.watches.values()):
            for sub in list(watch.subscribers):
                sub.wake.set()

    def refusal(self, session_key: int) -> str | None:
        """Why one more stream for this session is refused, or None."""
        if self.closing:
            return "this server is stopping; retry shortly"
        if self.streams >= self.limits.max_streams:
            return "too many live streams on this server; retry shortly"
        if self.per_session.get(session_key, 0) >= self.limits.max_per_session:
            return "too many live streams for this session; close a tab"
        return None

    @contextlib.asynccontextmanager
    async def subscribe(self, campaign_id: int, session_key: int) -> AsyncIterator[Subscription]:
        refused = self.refusal(session_key)
        if refused:
            raise TooManyStreamsError(refused)
        self.streams += 1
        self.per_session[session_key] = self.per_session.get(session_key, 0) + 1
        sub = Subscription()
        watch = self.watches.get(campaign_id)
        if watch is None:
            watch = self.watches[campaign_id] = _Watch(self, campaign_id)
        watch.subscribers.add(sub)
        if watch.task is None or watch.task.done():
            watch.task = asyncio.create_task(watch.run())
        try:
            await watch.ready.wait()
            yield sub
        finally:
            watch.subscribers.discard(sub)
            if not watch.subscribers and self.watches.get(campaign_id) is watch:
                del self.watches[campaign_id]
                if watch.task is not None:
                    watch.task.cancel()
            self.streams -= 1
            left = self.per_session[session_key] - 1
            if left:
                self.per_session[session_key] = left
            else:
                del self.per_session[session_key]

    async def stream(
        self,
        campaign_id: int,
        session: UiSession,
        cookie: str,
        render: Callable[[ui_campaign.LiveCounts], dict[str, str]],
    ) -> AsyncIterator[str]:
        """The SSE messages of one browser: the counts now, then every change, until its
        lifetime ends or its session does. `render` turns counts into the events' HTML."""
        limits = self.limits
        async with self.subscribe(campaign_id, session.id) as sub:
            loop = asyncio.get_running_loop()
            started = loop.time()
            next_session_check = started + limits.session_check_s
            yield f"retry: {int(limits.poll_s * 1000) + 1000}\n\n"
            first = await anyio.to_thread.run_sync(ui_campaign.live_counts, self.ctx, campaign_id)
            # The last HTML sent per event: an unchanged fragment is not sent again (a form
            # in it being filled in is left alone).
            sent = render(first)
            for name, html in sent.items():
                yield sse_event(name, html)
            next_heartbeat = started + limits.heartbeat_s
            while True:
                now = loop.time()
                if self.closing or now - started >= limits.lifetime_s:
                    return
                if now >= next_session_check:
                    alive = await anyio.to_thread.run_sync(ui_sessions.find, self.ctx, cookie)
                    if alive is None:
                        yield sse_event("signed-out", "your session ended: sign in again")
                        return
                    next_session_check = now + limits.session_check_s
                if now >= next_heartbeat:
                    yield ": keep-alive\n\n"
                    next_heartbeat = now + limits.heartbeat_s
                wait = min(next_heartbeat, next_session_check, started + limits.lifetime_s) - now
                try:
                    await asyncio.wait_for(sub.wake.wait(), timeout=max(wait, 0.01))
                except TimeoutError:
                    continue
                sub.wake.clear()
                if self.closing:
                    return
                counts, sub.counts = sub.counts, None
                rows, sub.rows_changed = sub.rows_changed, 0
                if counts is not None:
                    for name, html in render(counts).items():
                        if sent.get(name) != html:
                            sent[name] = html
                            yield sse_event(name, html)
                if rows:
                    yield sse_event("changesets-changed", str(rows))
