"""Durations as spec authors write them ("30s", "5m", "1h30m") and as Shoal keeps them: seconds."""

from __future__ import annotations

import re

__all__ = ["DURATION_PATTERN", "format_duration", "parse_duration"]

# Units must appear largest first and at most once, so "1h30m" has one spelling only.
_DURATION = re.compile(r"(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?")

# The same grammar for JSON Schema consumers (ECMA-262 regex, no lookarounds).
DURATION_PATTERN = r"^([0-9]+h([0-9]+m)?([0-9]+s)?|[0-9]+m([0-9]+s)?|[0-9]+s)$"


def parse_duration(text: str) -> int:
    """Return the number of seconds in `text`; raise ValueError with a readable reason."""
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"expected a duration like 5m, got {text!r}")
    hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def format_duration(seconds: int) -> str:
    """The shortest spelling `parse_duration` reads back as `seconds`."""
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{value}{unit}" for value, unit in parts if value)
