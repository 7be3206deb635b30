"""structlog set-up: JSON lines for machines, a console renderer on a TTY.

Correlation fields (campaign_id, run_id, repo, task_id) are bound with
`structlog.contextvars.bind_contextvars` where they become known and appear on every line
logged inside that context, including lines from the standard `logging` module.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = ["configure_logging", "redact_values"]

_secret_values: set[str] = set()


def redact_values(values: Iterable[str]) -> None:
    """Register secret values (tokens, keys) that must never appear in a log line."""
    _secret_values.update(v for v in values if v and len(v) >= 6)


def _redact(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    if not _secret_values:
        return event
    for key, value in event.items():
        if isinstance(value, str):
            redacted = value
            for secret in _secret_values:
                redacted = redacted.replace(secret, "***")
            event[key] = redacted
    return event


def configure_logging(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        _redact,
    ]
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=True)
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *([] if use_console else [structlog.processors.format_exc_info]),
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log duplicates our request log line.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # httpx and httpcore log every request URL at INFO/DEBUG; a download URL can carry a
    # short-lived token in its query (codeload redirects do), and Shoal logs its own calls.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
