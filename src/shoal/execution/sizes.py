"""Sizes for humans, in the messages that name a limit."""

from __future__ import annotations

__all__ = ["format_size"]


def format_size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"
