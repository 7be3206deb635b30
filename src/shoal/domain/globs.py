"""Path globs as users write them (`.github/workflows/**`, `*.md`), translated for matching.

`**` matches any number of path segments, `*` and `?` stay inside one segment. fnmatch's
translation lets `*` cross `/`, which would make `*.md` match `docs/a/b.md`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from shoal.domain.errors import InvalidInputError

__all__ = ["InvalidGlobError", "glob_literal_prefix", "glob_matcher", "glob_to_regex"]


class InvalidGlobError(InvalidInputError):
    code = "invalid_glob"


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
            # A `]` right after `[` or `[!` belongs to the class (as in fnmatch).
            end = pattern.find("]", i + (3 if pattern.startswith("[!", i) else 2))
            if end == -1:
                out.append(re.escape(char))
                i += 1
                continue
            out.append(_char_class(pattern, pattern[i + 1 : end]))
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return "^" + "".join(out) + "$"


def glob_matcher(pattern: str) -> Callable[[str], bool]:
    """A case-insensitive test of a name against `pattern`, matching exactly as the database
    filters do (`~*` with `glob_to_regex`): what a page lists for a glob is what an action
    given the same glob acts on."""
    compiled = re.compile(glob_to_regex(pattern), re.IGNORECASE)
    return lambda name: compiled.match(name) is not None


def _char_class(pattern: str, body: str) -> str:
    """`[...]` rebuilt from its characters and ranges, each escaped: a database compiles the
    result, so nothing of the user's text may reach it as regular-expression syntax."""
    negate = body.startswith("!")
    chars = body[1:] if negate else body
    parts: list[str] = []
    i = 0
    while i < len(chars):
        if i + 2 < len(chars) and chars[i + 1] == "-":
            low, high = chars[i], chars[i + 2]
            if low > high:
                raise InvalidGlobError(
                    f"{pattern!r} is not a valid glob: the range {low}-{high} in [...] is "
                    f"reversed; write {high}-{low}",
                    details={"glob": pattern},
                )
            parts.append(f"{_class_char(low)}-{_class_char(high)}")
            i += 3
        else:
            parts.append(_class_char(chars[i]))
            i += 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _class_char(char: str) -> str:
    # Letters and digits stand for themselves (a backslash would make \d or \w a class).
    return char if char.isalnum() and char.isascii() else "\\" + char


def glob_literal_prefix(pattern: str) -> str:
    """The part before the first wildcard: lets a database use a prefix index."""
    for i, char in enumerate(pattern):
        if char in _SPECIAL:
            return pattern[:i]
    return pattern
