"""Log lines are JSON with the correlation fields bound where they are known, and secrets
registered with the logger never appear."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from shoal.observability.logs import configure_logging, redact_values


@pytest.fixture
def json_logs() -> Iterator[None]:
    configure_logging("info", "json")
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_correlation_fields_are_on_every_line(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", "json")  # bind the handler to the captured stderr
    log = structlog.get_logger("shoal.test")
    with structlog.contextvars.bound_contextvars(
        campaign_id=7, run_id=3, repo="acme/api", task_id=42
    ):
        log.info("step_finished", exit_code=0)
        logging.getLogger("third.party").warning("from the standard library")
    log.info("outside")
    first, second, third = _lines(capsys.readouterr().err)
    for line in (first, second):
        assert {k: line[k] for k in ("campaign_id", "run_id", "repo", "task_id")} == {
            "campaign_id": 7,
            "run_id": 3,
            "repo": "acme/api",
            "task_id": 42,
        }
    assert first["event"] == "step_finished" and first["level"] == "info"
    assert second["event"] == "from the standard library" and second["logger"] == "third.party"
    assert "task_id" not in third


def test_registered_secrets_are_redacted(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", "json")
    redact_values(["ghs_supersecrettoken123"])
    structlog.get_logger("shoal.test").info(
        "pushed", url="https://x-access-token:ghs_supersecrettoken123@github.example/acme/api"
    )
    [line] = _lines(capsys.readouterr().err)
    assert "ghs_supersecrettoken123" not in json.dumps(line)
    assert line["url"] == "https://x-access-token:***@github.example/acme/api"


def test_http_client_request_lines_stay_out_of_the_log(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # httpx logs each request's full URL at INFO; a codeload redirect carries a token there.
    configure_logging("info", "json")
    logging.getLogger("httpx").info("HTTP Request: GET https://codeload.example/x?token=ghs_abc")
    logging.getLogger("httpx").warning("a warning still shows")
    [line] = _lines(capsys.readouterr().err)
    assert line["event"] == "a warning still shows"
