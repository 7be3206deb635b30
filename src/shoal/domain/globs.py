"""Path globs as users write them (`.github/workflows/**`, `*.md`), translated for matching.

`**` matches any number of path segments, `*` and `?` stay inside one segment. fnmatch's
translation lets `*` cross `/`, which would make `*.md` match `docs/a/b.md`.
"""

from __future__ import annotations

import re

__all__ = ["glob_literal_prefix", "glob_to_regex"]

_SPECIAL = frozenset("*?[")


def glob_to_regex(pattern: str) -> str:
    """An anchored POSIX/Python regular expression for `pattern`."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(char))
                i += 1
                continue
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return "^" + "".join(out) + "$"


def glob_literal_prefix(pattern: str) -> str:
    """The part before the first wildcard: lets a database use a prefix index."""
    for i, char in enumerate(pattern):
        if char in _SPECIAL:
            return pattern[:i]
    return pattern
