"""The one exception a spec can fail with, and the issues it carries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Path", "SpecInvalidError", "SpecIssue", "format_path"]

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """`('steps', 1, 'timeout')` -> `steps[1].timeout`; odd keys as `env['1FOO']`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec, located by field path and, when known, by line and column."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def render(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.line is not None:
            text += f" (line {self.line}, col {self.column})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "message": self.message,
            "line": self.line,
            "column": self.column,
        }

    def sort_key(self) -> tuple[bool, int, int, str]:
        # Issues without a position (there are few) go last rather than first.
        return (self.line is None, self.line or 0, self.column or 0, self.path)


class SpecInvalidError(Exception):
    """A campaign spec that cannot be used; `issues` lists every problem found."""

    def __init__(self, issues: tuple[SpecIssue, ...] | list[SpecIssue], *, source: str = "<spec>"):
        self.issues = tuple(sorted(issues, key=SpecIssue.sort_key))
        self.source = source
        super().__init__(self.issues)

    def with_source(self, source: str) -> SpecInvalidError:
        return SpecInvalidError(self.issues, source=source)

    def __str__(self) -> str:
        count = len(self.issues)
        noun = "issue" if count == 1 else "issues"
        lines = [f"{self.source}: invalid campaign spec ({count} {noun}):"]
        lines.extend(f"  {issue.render()}" for issue in self.issues)
        return "\n".join(lines)
