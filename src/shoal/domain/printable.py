"""Text from steps, repositories and API clients made safe to show on a terminal.

A step's output, a patch or a name can carry escape sequences that a terminal obeys: OSC 52
writes the clipboard, CSI sequences move the cursor or hide text, a lone carriage return
overwrites a line, and bidi overrides or zero-width characters make text read differently
than it is. Shown text keeps newlines, tabs and CRLF line ends; every other control or
format character is written as an escape (`\\x1b`, `\\u202e`) so that it is seen, not obeyed.
Backslashes are left as they are: the escapes are for reading, not a reversible encoding
(the raw bytes are available where they are needed, e.g. a patch to `git apply`).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator

__all__ = ["escape_bytes", "escape_chunks", "escape_text"]

# C0 controls but \t and \n (and \r, handled apart: harmless before \n), DEL, C1 controls,
# and every Unicode format character (Cf: soft hyphen, bidi marks, embeddings, overrides
# and isolates, zero-width characters, the BOM, interlinear annotations, tag characters used
# to smuggle hidden text), plus the line and paragraph separators.
# tests/security/test_terminal_escapes.py checks this list against unicodedata.
_CLASS = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
_UNSAFE = re.compile(f"\r(?!\n)|[{_CLASS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_text(text: str) -> str:
    """`text` with every unsafe character written as an escape."""
    return _UNSAFE.sub(_escape, text)


def escape_bytes(data: bytes) -> str:
    """Bytes shown as text: UTF-8, with undecodable bytes as `\\xNN`, escaped."""
    return escape_text(data.decode("utf-8", errors="backslashreplace"))


def escape_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """`escape_bytes` over a stream: a character split across chunks is decoded whole, and a
    carriage return at a chunk's end waits to see whether a newline follows."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="backslashreplace")
    held = ""
    for chunk in chunks:
        text = held + decoder.decode(chunk)
        held = "\r" if text.endswith("\r") else ""
        text = text[:-1] if held else text
        if text:
            yield escape_text(text).encode()
    rest = held + decoder.decode(b"", final=True)
    if rest:
        yield escape_text(rest).encode()
