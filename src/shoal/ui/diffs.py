"""A patch (`git diff --binary`) read into what the diff viewer shows: per file, its hunks'
lines with their numbers, unified or side by side, highlighted by the file's language.

Everything here comes from a repository: names and lines are escaped (control and bidi
characters made visible by `escape_text`, HTML by Pygments or Jinja2) before they are shown.
The viewer is bounded: it reads at most `MAX_PATCH_BYTES` of a patch, shows at most
`MAX_FILE_LINES` lines of each file and `MAX_LINE_CHARS` characters of a line; the raw patch
holds the rest.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from shoal.domain.printable import escape_text

__all__ = [
    "MAX_FILE_LINES",
    "MAX_LINE_CHARS",
    "MAX_PATCH_BYTES",
    "FileDiff",
    "Line",
    "Patch",
    "Row",
    "anchor_of",
    "parse_patch",
]

MAX_PATCH_BYTES = 1 << 20
MAX_FILE_LINES = 400
MAX_LINE_CHARS = 1000
# Highlighting a side of a file costs time in proportion to its text: past this, plain text.
_MAX_HIGHLIGHT_CHARS = 200_000

LineKind = Literal["context", "add", "del", "hunk", "note"]
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(slots=True)
class Line:
    kind: LineKind
    text: str  # escaped for reading (control characters visible), not yet HTML-escaped
    old_no: int | None = None
    new_no: int | None = None
    html: Markup | None = None  # highlighted text (Pygments escapes it)

    @property
    def shown(self) -> Markup:
        return self.html if self.html is not None else Markup.escape(self.text)


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the side-by-side view: the old side's line and the new side's."""

    left: Line | None
    right: Line | None
    hunk: Line | None = None  # a hunk header spans both sides


@dataclass(slots=True)
class FileDiff:
    path: str
    old_path: str | None
    headers: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    binary: bool = False
    hidden_lines: int = 0  # lines past MAX_FILE_LINES, not shown

    @property
    def renamed(self) -> bool:
        return self.old_path is not None and self.old_path != self.path

    @property
    def anchor(self) -> str:
        return anchor_of(self.path)

    def rows(self) -> list[Row]:
        """The side-by-side rows: context on both sides, a run of deletions beside the run of
        additions that follows it."""
        rows: list[Row] = []
        dels: list[Line] = []
        adds: list[Line] = []

        def flush() -> None:
            for n in range(max(len(dels), len(adds))):
                rows.append(
                    Row(dels[n] if n < len(dels) else None, adds[n] if n < len(adds) else None)
                )
            dels.clear()
            adds.clear()

        for line in self.lines:
            if line.kind == "del":
                if adds:
                    flush()
                dels.append(line)
            elif line.kind == "add":
                adds.append(line)
            else:
                flush()
                if line.kind == "context":
                    rows.append(Row(line, line))
                else:
                    rows.append(Row(None, None, hunk=line))
        flush()
        return rows


@dataclass(slots=True)
class Patch:
    files: list[FileDiff]
    truncated: bool  # the patch is longer than MAX_PATCH_BYTES: later files are not shown


def anchor_of(path: str) -> str:
    """The id of a file's section in the viewer (the file list links to it)."""
    return "file-" + hashlib.sha256(path.encode()).hexdigest()[:16]


def _unquote(name: str) -> str:
    """A name as git writes it: C-quoted ("a/\\303\\244.md") when it holds unusual bytes."""
    if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
        raw = codecs.escape_decode(name[1:-1].encode("utf-8", "backslashreplace"))[0]
        return raw.decode("utf-8", errors="backslashreplace")
    return name


def _side(line: str, prefix: str) -> str | None:
    # "--- a/x" / "+++ b/x"; a name with a space ends with a tab; /dev/null is no file.
    value = _unquote(line[4:].rstrip("\t"))
    if value == "/dev/null":
        return None
    return value.removeprefix(prefix)


def _header_names(header: str) -> tuple[str, str]:
    rest = header.removeprefix("diff --git ")
    if rest.startswith('"'):
        end = rest.find('" ', 1)
        old, new = rest[: end + 1], rest[end + 2 :]
    else:
        # "a/NAME b/NAME": both halves are the same length when the file was not renamed.
        half = (len(rest) - 1) // 2
        old, new = rest[:half], rest[half + 1 :]
    return _unquote(old).removeprefix("a/"), _unquote(new).removeprefix("b/")


def _clip(text: str) -> str:
    if len(text) <= MAX_LINE_CHARS:
        return text
    return text[:MAX_LINE_CHARS] + f" … ({len(text) - MAX_LINE_CHARS} more characters)"


def _sections(lines: list[str]) -> Iterator[list[str]]:
    current: list[str] = []
    for line in lines:
        if line.startswith("diff --git ") and current:
            yield current
            current = []
        current.append(line)
    if current and current[0].startswith("diff --git "):
        yield current


def _header(diff: FileDiff, line: str) -> None:
    diff.headers.append(line)
    if line.startswith("rename from "):
        diff.old_path = _unquote(line.removeprefix("rename from "))
    elif line.startswith("rename to "):
        diff.path = _unquote(line.removeprefix("rename to "))
    elif line.startswith("--- "):
        diff.old_path = _side(line, "a/")
    elif line.startswith("+++ "):
        diff.path = _side(line, "b/") or diff.path


def _hunk_lines(diff: FileDiff, body: list[str]) -> None:
    old_no = new_no = 0
    for line in body:
        if len(diff.lines) >= MAX_FILE_LINES:
            diff.hidden_lines += 1
            continue
        found = _HUNK.match(line)
        if found:
            old_no, new_no = int(found.group(1)), int(found.group(2))
            diff.lines.append(Line("hunk", _clip(line)))
        elif line.startswith("+"):
            diff.lines.append(Line("add", _clip(line[1:]), new_no=new_no))
            new_no += 1
        elif line.startswith("-"):
            diff.lines.append(Line("del", _clip(line[1:]), old_no=old_no))
            old_no += 1
        elif line.startswith("\\"):
            diff.lines.append(Line("note", _clip(line)))
        else:
            diff.lines.append(Line("context", _clip(line[1:]), old_no=old_no, new_no=new_no))
            old_no += 1
            new_no += 1


def _file(section: list[str]) -> FileDiff:
    old, new = _header_names(section[0])
    diff = FileDiff(path=new, old_path=old, headers=[section[0]])
    for n, line in enumerate(section[1:], 1):
        if line.startswith("@@"):
            _hunk_lines(diff, section[n:])
            break
        if line.startswith(("GIT binary patch", "Binary files ")):
            diff.binary = True
            break
        _header(diff, line)
    return diff


def _lexer(path: str) -> Lexer:
    try:
        return get_lexer_for_filename(path, stripnl=False, ensurenl=True)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=True)


_FORMATTER = HtmlFormatter(nowrap=True, lineseparator="\n")


def _highlight_side(lexer: Lexer, lines: list[Line]) -> None:
    """Highlight one side's lines as one text (tokens that span lines stay right); the
    formatter closes and reopens its spans at each line end, so its output splits by line."""
    if not lines:
        return
    text = "\n".join(line.text for line in lines) + "\n"
    if len(text) > _MAX_HIGHLIGHT_CHARS:
        return
    out = highlight(text, lexer, _FORMATTER).split("\n")
    if len(out) < len(lines):
        return
    for line, html in zip(lines, out, strict=False):
        line.html = Markup(html)  # noqa: S704 (Pygments escapes every token)


def _highlight(diff: FileDiff) -> None:
    if diff.binary:
        return
    lexer = _lexer(diff.path)
    if isinstance(lexer, TextLexer):
        return
    # Each side is highlighted with its context, so a token that spans lines stays right; a
    # context line gets the same highlight from both.
    _highlight_side(lexer, [x for x in diff.lines if x.kind in ("context", "del")])
    _highlight_side(lexer, [x for x in diff.lines if x.kind in ("context", "add")])


def parse_patch(data: bytes, *, truncated: bool = False) -> Patch:
    """The files of a patch (cut at a line when `truncated`), escaped and highlighted."""
    text = data.decode("utf-8", errors="backslashreplace")
    lines = text.split("\n")
    if truncated and lines:
        lines.pop()  # the cut line is incomplete
    elif lines and lines[-1] == "":
        lines.pop()
    files = []
    for section in _sections([escape_text(line.removesuffix("\r")) for line in lines]):
        diff = _file(section)
        _highlight(diff)
        files.append(diff)
    return Patch(files=files, truncated=truncated)
