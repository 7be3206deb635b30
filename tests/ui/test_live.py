"""Live updates of a campaign page over Server-Sent Events: counts and holds as they change,
row changes for the changesets list, and the stream's bounds (session, lifetime, number)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime

import httpx
import pytest

from shoal.domain.auth import Role
from shoal.services import tokens
from tests.servers import api_settings, running_api
from tests.ui import campaign_rows as rows
from tests.ui.conftest import Browser, RunningUi

READ_TIMEOUT_S = 5.0  # a change must reach the browser well within this


@pytest.fixture
def live_ui(db_url: str, redis_url: str) -> Iterator[RunningUi]:
    settings = api_settings(db_url, redis_url, ui_live_session_check_s=0.5, ui_live_max_streams=60)
    with running_api(settings) as running:
        running_ui = RunningUi(api=running)
        try:
            yield running_ui
        finally:
            running_ui.close()


class Events:
    """The messages of one open stream, read as a browser's EventSource reads them."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()
        self.seen: list[str] = []  # every event's name, in order

    def next(self) -> tuple[str, str] | None:
        """The next event (name, data), or None when the server closed the stream."""
        name, data = "message", []
        for line in self.lines:
            if line == "":
                if data:
                    self.seen.append(name)
                    return name, "\n".join(data)
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        return None

    def until(self, wanted: str, check: str = "") -> tuple[str, float]:
        """Read until an event named `wanted` whose data contains `check`."""
        started = time.monotonic()
        while True:
            found = self.next()
            assert found is not None, f"the stream ended before a {wanted!r} event"
            if found[0] == wanted and check in found[1]:
                return found[1], time.monotonic() - started


@contextmanager
def stream(browser: Browser, name: str = "bump") -> Iterator[Events]:
    timeout = httpx.Timeout(30, read=READ_TIMEOUT_S)
    with browser.http.stream("GET", f"/ui/campaigns/{name}/live", timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Events(response)


def _merged(html: str) -> int:
    found = re.search(r'state=merged">\s*<span class="n">(\d+)</span>', html)
    assert found, html
    return int(found.group(1))


def test_counts_change_live_when_a_pr_is_merged(live_ui: RunningUi) -> None:
    ctx = live_ui.api.ctx
    now = datetime.now(UTC)
    campaign = rows.apply(ctx, rows.spec("bump"))
    ids = rows.publish(ctx, campaign.id, ["acme/a", "acme/b"], now=now)
    rows.opened(ctx, ids["acme/a"], 1, now=now)
    browser = live_ui.browser(Role.VIEWER)

    with stream(browser) as events:
        first, _ = events.until("counts")
        holds, _ = events.until("holds")
        assert _merged(first) == 0 and "nothing holds this campaign" in holds
        assert "Pause publishing" not in holds  # a viewer's holds have no buttons

        rows.observe(ctx, ids["acme/a"], pr_state="merged", now=datetime.now(UTC))
        counts, waited = events.until("counts")
        changed, _ = events.until("changesets-changed")

    assert _merged(counts) == 1 and waited < 3.0
    assert changed.isdigit()
    # The holds did not change: their fragment (and a form in it) is not sent again.
    assert events.seen == ["counts", "holds", "counts", "changesets-changed"]


def test_a_pause_reaches_every_watcher_with_their_own_buttons(live_ui: RunningUi) -> None:
    rows.apply(live_ui.api.ctx, rows.spec("bump"))
    operator = live_ui.browser(Role.OPERATOR)
    viewer = live_ui.browser(Role.VIEWER)

    with stream(operator) as mine, stream(viewer) as theirs:
        mine.until("holds")
        theirs.until("holds")
        assert operator.post("/ui/campaigns/bump/pause", {"on": "true"}).status_code == 303
        for_operator, _ = mine.until("holds", "campaign paused")
        for_viewer, _ = theirs.until("holds", "campaign paused")

    assert "Resume publishing" in for_operator and operator.csrf in for_operator
    assert "Resume publishing" not in for_viewer and viewer.csrf not in for_viewer


def test_a_revoked_session_stops_receiving(live_ui: RunningUi) -> None:
    rows.apply(live_ui.api.ctx, rows.spec("bump"))
    token, secret = tokens.create_token(
        live_ui.api.ctx, name="laptop", role=Role.VIEWER, actor="test"
    )
    browser = live_ui.sign_in(secret)

    with stream(browser) as events:
        events.until("counts")
        tokens.revoke(live_ui.api.ctx, token.id, actor="test")
        said, waited = events.until("signed-out")
        assert events.next() is None  # and the stream ends

    assert "sign in again" in said and waited < 3.0
    again = browser.get("/ui/campaigns/bump/live")
    assert again.status_code == 303 and again.headers["location"].startswith("/ui/sign-in")


def test_a_stream_ends_after_its_lifetime(db_url: str, redis_url: str) -> None:
    settings = api_settings(db_url, redis_url, ui_live_lifetime_s=1)
    with running_api(settings) as running:
        ui = RunningUi(api=running)
        try:
            rows.apply(running.ctx, rows.spec("bump"))
            started = time.monotonic()
            with stream(ui.browser(Role.VIEWER)) as events:
                events.until("counts")
                while events.next() is not None:
                    pass
            assert time.monotonic() - started < 4
        finally:
            ui.close()


def test_streams_hold_no_thread_and_are_bounded_in_number(live_ui: RunningUi) -> None:
    rows.apply(live_ui.api.ctx, rows.spec("bump"))
    # More open streams than the server's thread pool has threads (40): pages still answer.
    browsers = [live_ui.browser(Role.VIEWER) for _ in range(9)]
    kept: list[Events] = []  # a stream no longer referenced is closed by the client
    with ExitStack() as open_streams:
        for browser in browsers:
            for _ in range(6):
                kept.append(open_streams.enter_context(stream(browser)))
                kept[-1].until("counts")
        started = time.monotonic()
        page = browsers[0].get("/ui/campaigns/bump")
        assert page.status_code == 200 and time.monotonic() - started < 3
        # The seventh of one session, and the 61st of the process (60 at most), are refused.
        assert browsers[0].get("/ui/campaigns/bump/live").status_code == 503
        extra = live_ui.browser(Role.VIEWER)
        for _ in range(6):
            kept.append(open_streams.enter_context(stream(extra)))
            kept[-1].until("counts")
        refused = live_ui.browser(Role.VIEWER).get("/ui/campaigns/bump/live")
        assert refused.status_code == 503 and refused.headers["retry-after"] == "30"


def test_a_stream_needs_a_session_and_a_campaign(live_ui: RunningUi) -> None:
    rows.apply(live_ui.api.ctx, rows.spec("bump"))
    with httpx.Client(base_url=live_ui.url) as anonymous:
        assert anonymous.get("/ui/campaigns/bump/live").status_code == 303
    assert live_ui.browser(Role.VIEWER).get("/ui/campaigns/nope/live").status_code == 404


def test_the_server_stops_at_once_with_live_streams_open(db_url: str, redis_url: str) -> None:
    settings = api_settings(db_url, redis_url)
    lines: list[str] = []
    with running_api(settings) as api:
        ui = RunningUi(api=api)
        rows.apply(api.ctx, rows.spec("bump"))
        browser = ui.browser(Role.VIEWER)
        ended = threading.Event()

        def follow() -> None:
            try:
                with browser.http.stream("GET", "/ui/campaigns/bump/live", timeout=60) as answer:
                    lines.extend(answer.iter_lines())
            except httpx.HTTPError as exc:
                lines.append(repr(exc))
            finally:
                ended.set()

        threading.Thread(target=follow, daemon=True).start()
        deadline = time.monotonic() + 10
        while not any(line.startswith("event: counts") for line in lines):
            assert time.monotonic() < deadline, lines
            time.sleep(0.05)
        stopping = time.monotonic()
    # running_api waits up to 10 s for the server: a stream that held it would take that long.
    assert time.monotonic() - stopping < 5
    assert ended.wait(5)
    ui.close()
