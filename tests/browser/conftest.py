"""The web UI in a real browser: Playwright driving Debian's Chromium headless over a real Shoal.

`shoal_ui` is Shoal's API server (fresh database) with a signed-in Chromium page per role;
`browser_stack` is the whole stack (the GitHub simulator delivering webhooks, the API, a
worker) with the same. `ShoalUi.visit(page, name)` checks the page a test is on: a screenshot
saved as a test artifact (`SHOAL_TEST_SCREENSHOTS_DIR`, `test-artifacts/screenshots/` by
default, one directory per test module, `<page>.png`), then axe-core, failing on any serious
or critical violation, and on anything the Content-Security-Policy refused. Chromium is never
downloaded: scripts/bootstrap.sh installs Debian's, and without it these tests fail rather
than skip.
"""

# ruff: noqa: F811 (the end-to-end fixtures are imported, then named as fixture arguments)
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from pydantic import SecretStr

from shoal.domain.auth import Role
from tests.e2e.conftest import (  # noqa: F401 (fixtures the end-to-end stack is built from)
    Stack,
    app_keys,
    make_sim,
    make_stack,
    octokit_schemas,
    work_dir,
)
from tests.servers import RunningApi, api_settings, running_api

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(
    os.environ.get("SHOAL_TEST_SCREENSHOTS_DIR", ROOT / "test-artifacts" / "screenshots")
)
# Bounded waits: an action or assertion that cannot happen fails in seconds, not at the
# suite's timeout.
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 20_000
LAUNCH_TIMEOUT_MS = 30_000
# Chromium as root in a container: no user-namespace sandbox, and /dev/shm is often tiny.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
BLOCKING_IMPACTS = {"serious", "critical"}
WEBHOOK_SECRET = "browser-webhook-secret"
WEBHOOK_EVENTS = ["push", "pull_request", "pull_request_review", "check_run", "status"]

expect.set_options(timeout=ACTION_TIMEOUT_MS)


def chromium_path() -> str:
    """Debian's Chromium (or SHOAL_TEST_CHROMIUM); a failure, not a skip, when it is missing."""
    found = os.environ.get("SHOAL_TEST_CHROMIUM") or shutil.which("chromium")
    if not found or not os.access(found, os.X_OK):
        pytest.fail(
            "Chromium is required for the browser tests: run scripts/bootstrap.sh "
            "(it installs Debian's chromium package), or point SHOAL_TEST_CHROMIUM at one"
        )
    return found


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=chromium_path(),
        headless=True,
        args=CHROMIUM_ARGS,
        timeout=LAUNCH_TIMEOUT_MS,
    )
    yield browser
    browser.close()


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "page"


def screenshots_dir() -> Path:
    """The current test module's directory of screenshots (`flow/` for test_flow.py), so
    that two tests' pages of the same name do not overwrite each other."""
    current = os.environ.get("PYTEST_CURRENT_TEST", "")
    module = Path(current.partition("::")[0]).stem.removeprefix("test_")
    return SCREENSHOTS / (slug(module) if module else "other")


def axe_failures(results: dict[str, Any]) -> list[str]:
    """One line per element of each serious or critical violation: rule, element, help URL."""
    lines = []
    for violation in results["violations"]:
        if violation.get("impact") not in BLOCKING_IMPACTS:
            continue
        for node in violation["nodes"]:
            lines.append(
                f"{violation['impact']} {violation['id']}: {violation['help']}\n"
                f"    element: {' '.join(map(str, node['target']))} {node['html'][:200]}\n"
                f"    {node.get('failureSummary', '').strip()}\n"
                f"    help: {violation['helpUrl']}"
            )
    return lines


@dataclass
class ShoalUi:
    """Shoal's UI at `url` with one Chromium context per role (each signed in on first use)."""

    url: str
    api: RunningApi
    chromium: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    pages: dict[str, Page] = field(default_factory=dict)
    visited: list[str] = field(default_factory=list)
    csp_refusals: list[str] = field(default_factory=list)
    axe: Axe = field(default_factory=Axe)

    def new_page(self) -> Page:
        context = self.chromium.new_context(
            base_url=self.url,
            accept_downloads=True,
            viewport={"width": 1366, "height": 850},  # a laptop
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: self._console(page, message))
        return page

    def _console(self, page: Page, message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            where = message.location
            self.csp_refusals.append(
                f"{page.url} ({where.get('url')}:{where.get('lineNumber')}): {message.text}"
            )

    def page(self, role: Role = Role.ADMIN) -> Page:
        """A page signed in as `role` through the sign-in form (one per role, reused)."""
        if role.value not in self.pages:
            self.pages[role.value] = self.sign_in(self.api.tokens[role])
        return self.pages[role.value]

    def sign_in(self, token: str, *, page: Page | None = None) -> Page:
        page = page or self.new_page()
        page.goto("/ui/sign-in")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Sign in with a token").click()
        page.wait_for_url(re.compile(r"/ui/(\?.*)?$"))
        return page

    def visit(self, page: Page, name: str) -> Path:
        """Check the page `page` is on, as `name`: screenshot, then axe-core."""
        page.wait_for_load_state("load")
        path = screenshots_dir() / f"{slug(name)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
        self.visited.append(name)
        results = self.axe.run(page).response
        failures = axe_failures(results)
        assert not failures, f"axe-core on {name} ({page.url}):\n" + "\n".join(failures)
        assert not self.csp_refusals, f"CSP refusals on {name}: {self.csp_refusals}"
        return path

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    item.stash.setdefault(_FAILED, False)
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report


_FAILED = pytest.StashKey[bool]()


def _closing(ui: ShoalUi, request: pytest.FixtureRequest) -> None:
    """After a failed test, a screenshot of each open page (`failed-<test>-<role>.png`)."""
    try:
        if request.node.stash.get(_FAILED, False):
            screenshots_dir().mkdir(parents=True, exist_ok=True)
            for role, page in ui.pages.items():
                shot = screenshots_dir() / f"failed-{slug(request.node.name)}-{role}.png"
                page.screenshot(path=str(shot), full_page=True, timeout=ACTION_TIMEOUT_MS)
    finally:
        ui.close()


@pytest.fixture
def shoal_ui(
    chromium: Browser, db_url: str, redis_url: str, request: pytest.FixtureRequest
) -> Iterator[ShoalUi]:
    """Shoal's API server alone (no GitHub, no worker) in the browser."""
    with running_api(api_settings(db_url, redis_url)) as api:
        ui = ShoalUi(url=api.url, api=api, chromium=chromium)
        yield ui
        _closing(ui, request)


@dataclass
class BrowserStack:
    stack: Stack
    ui: ShoalUi


@pytest.fixture
def browser_stack(
    chromium: Browser,
    make_stack: Callable[..., Stack],
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., BrowserStack]]:
    """Starts the whole stack for `world`: the simulator delivering its App's webhooks to
    Shoal (so that a PR merged on GitHub shows in Shoal within seconds), the API, a worker;
    and Chromium on the UI."""
    started: list[ShoalUi] = []

    def start(world: dict[str, Any], **settings: Any) -> BrowserStack:
        stack = make_stack(
            world,
            github_webhook_secret=SecretStr(WEBHOOK_SECRET),
            github_min_write_interval_s=0.05,
            **settings,
        )
        stack.sim.admin.set_webhook(
            stack.sim.app()["id"],
            f"{stack.api.url}/api/v1/github/webhooks",
            secret=WEBHOOK_SECRET,
            events=WEBHOOK_EVENTS,
        )
        ui = ShoalUi(url=stack.api.url, api=stack.api, chromium=chromium)
        started.append(ui)
        return BrowserStack(stack=stack, ui=ui)

    yield start
    for ui in started:
        _closing(ui, request)
