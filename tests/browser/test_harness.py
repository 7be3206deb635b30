"""The browser harness itself: a page with a serious accessibility fault fails its check, with
the rule, the element and the help URL in the message; a page's screenshot is kept."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SCREENSHOTS, ShoalUi, chromium_path


def test_an_axe_violation_fails_the_visit_with_rule_element_and_help(shoal_ui: ShoalUi) -> None:
    page = shoal_ui.new_page()
    page.goto("/ui/sign-in")
    # An image without a text alternative (axe-core: image-alt, critical), added the way a
    # template would, not as an inline script (the CSP forbids those).
    page.locator("main").evaluate(
        "main => { const img = document.createElement('img'); img.id = 'no-alt';"
        " img.src = '/ui/static/none.png'; main.append(img); }"
    )
    with pytest.raises(AssertionError) as refused:
        shoal_ui.visit(page, "harness-violation")

    message = str(refused.value)
    assert "critical image-alt" in message
    assert "#no-alt" in message
    assert "https://dequeuniversity.com/rules/axe/" in message
    assert (SCREENSHOTS / "harness" / "harness-violation.png").stat().st_size > 0


def test_without_chromium_the_tests_fail_and_say_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOAL_TEST_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception, match=r"run scripts/bootstrap\.sh"):
        chromium_path()
