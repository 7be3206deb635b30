"""Signing in through OpenID Connect in Chromium: the sign-in page's button, the provider's
form (oidc-provider-mock on 127.0.0.1), back to Shoal signed in with the mapped role; and a
user in no mapped group refused on a page that says why. Each page checked by axe-core."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import ShoalUi, _closing
from tests.servers import api_settings, running_api
from tests.ui.oidc import OIDC_WARNINGS, OidcProviderMock, oidc_provider

pytestmark = OIDC_WARNINGS


@pytest.fixture
def oidc_browser(
    chromium: Browser, db_url: str, redis_url: str, request: pytest.FixtureRequest
) -> Iterator[tuple[ShoalUi, OidcProviderMock]]:
    with (
        oidc_provider() as provider,
        running_api(
            api_settings(db_url, redis_url, **provider.settings(ui_oidc_display_name="Acme SSO"))
        ) as api,
    ):
        ui = ShoalUi(url=api.url, api=api, chromium=chromium)
        yield ui, provider
        _closing(ui, request)


def test_signing_in_through_the_provider(oidc_browser: tuple[ShoalUi, OidcProviderMock]) -> None:
    ui, provider = oidc_browser
    provider.add_user("u-1", preferred_username="ada", groups=["platform"])
    provider.add_user("u-2", preferred_username="eve", groups=["marketing"])

    page = ui.new_page()
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?next="))
    ui.visit(page, "sign-in-with-oidc")
    page.get_by_role("button", name="Sign in with Acme SSO").click()
    expect(page).to_have_url(re.compile(re.escape(provider.url) + "/oauth2/authorize"))
    page.get_by_placeholder("sub").fill("u-1")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r"/ui/$"))
    expect(page.get_by_text("oidc:ada")).to_be_visible()
    expect(page.locator(".badge.role-operator")).to_have_text("operator")
    assert not ui.csp_refusals, ui.csp_refusals

    other = ui.new_page()
    other.goto("/ui/sign-in")
    other.get_by_role("button", name="Sign in with Acme SSO").click()
    other.get_by_placeholder("sub").fill("u-2")
    other.get_by_role("button", name="Authorize").click()
    expect(other.get_by_role("heading", name="Sign-in failed")).to_be_visible()
    expect(other.get_by_role("alert")).to_contain_text("none of your groups gives a role")
    ui.visit(other, "oidc-refused")
    other.get_by_role("link", name="Back to the sign-in page").click()
    expect(other.get_by_role("heading", name="Sign in to Shoal")).to_be_visible()
