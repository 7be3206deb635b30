"""Masking secret values in step output before it is stored anywhere.

A step may print a secret as is, wrapped over several lines (`fold`), or encoded: base64
(`echo $S | base64`, itself wrapped at 76 columns, or inside a larger encoded file), base32,
hex, reversed, URL- or JSON-escaped (`secret_forms` lists them all; the patch scanner looks
for the same ones). Each form is searched for in the output with its line breaks taken out, so a
form broken over lines anywhere still matches, and the bytes it spans (breaks included) are
replaced by `***`. When a step's output was cut in the middle, the head may end with the
start of a secret and the tail may begin with its end: those partial secrets are masked too.

Plain substring search rather than one big regex: compiling a pattern per execution for
every form of every secret cost far more than the search itself.

Secrets shorter than `MIN_SECRET_LENGTH` are not masked (every "a" in the log would go);
the runner warns about them in the log instead.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping

from shoal.execution.secret_forms import secret_forms

__all__ = ["MASK", "MIN_SECRET_LENGTH", "Redactor"]

MASK = b"***"
MIN_SECRET_LENGTH = 4

_LINE_BREAKS = b"\r\n"
_LINE_BREAK = re.compile(rb"[\r\n]")


class Redactor:
    """Masks every secret of one execution in bytes of its log."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self.unmasked = tuple(
            sorted(
                name
                for name, value in secrets.items()
                if value and len(_flat(value.encode())) < MIN_SECRET_LENGTH
            )
        )
        forms = {_flat(form) for value in secrets.values() for form in secret_forms(value)}
        self._forms = tuple(
            sorted((form for form in forms if len(form) >= MIN_SECRET_LENGTH), key=len)
        )
        # A partial form spans at most every byte of it plus a CRLF between any two.
        self._window = max((3 * len(form) + 2 for form in self._forms), default=0)

    def redact(self, data: bytes) -> bytes:
        if not self._forms or not data:
            return data
        text = _Flattened(data)
        return _masked(data, [span for form in self._forms for span in text.find_all(form)])

    def redact_output(self, head: bytes, tail: bytes, dropped: int) -> tuple[bytes, bytes]:
        """Mask a step's kept output; `dropped` bytes between head and tail were discarded.

        Returns (head, tail); when nothing was dropped they are one text and come back as
        (everything, b"") so that a secret across the seam is masked whole.
        """
        if not dropped:
            return self.redact(head + tail), b""
        if not self._forms:
            return head, tail
        return self._mask_partial_end(self.redact(head)), self._mask_partial_start(
            self.redact(tail)
        )

    def _mask_partial_end(self, head: bytes) -> bytes:
        offset = max(len(head) - self._window, 0)
        text = _Flattened(head[offset:])
        lengths = [_prefix_at_end(text.flat, form) for form in self._forms]
        if not any(lengths):
            return head
        return head[: offset + text.original(len(text.flat) - max(lengths))] + MASK

    def _mask_partial_start(self, tail: bytes) -> bytes:
        text = _Flattened(tail[: self._window])
        lengths = [_suffix_at_start(text.flat, form) for form in self._forms]
        if not any(lengths):
            return tail
        return MASK + tail[text.original(max(lengths) - 1) + 1 :]


class _Flattened:
    """`data` without line breaks, and the way back to positions in `data`."""

    def __init__(self, data: bytes) -> None:
        self.flat = data.translate(None, _LINE_BREAKS)
        self._data = data
        self._shift: list[int] | None = None

    def original(self, index: int) -> int:
        """Position in `data` of the byte at `index` in `flat`."""
        if self._shift is None:
            # Break j sits before every kept byte whose flat index is >= shift[j].
            self._shift = [m.start() - j for j, m in enumerate(_LINE_BREAK.finditer(self._data))]
        return index + bisect.bisect_right(self._shift, index)

    def find_all(self, form: bytes) -> Iterator[tuple[int, int]]:
        # Overlapping matches too: "abab" twice in "ababab" must mask all six bytes.
        start = self.flat.find(form)
        while start != -1:
            yield self.original(start), self.original(start + len(form) - 1) + 1
            start = self.flat.find(form, start + 1)


def _prefix_at_end(flat: bytes, form: bytes) -> int:
    """The longest k (MIN <= k < len(form)) such that `flat` ends with form[:k], or 0."""
    for k in range(min(len(form) - 1, len(flat)), MIN_SECRET_LENGTH - 1, -1):
        if flat.endswith(form[:k]):
            return k
    return 0


def _suffix_at_start(flat: bytes, form: bytes) -> int:
    """The longest k (MIN <= k < len(form)) such that `flat` starts with form[-k:], or 0."""
    for k in range(min(len(form) - 1, len(flat)), MIN_SECRET_LENGTH - 1, -1):
        if flat.startswith(form[-k:]):
            return k
    return 0


def _masked(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    """`data` with each span replaced by MASK; overlapping or touching spans become one."""
    if not spans:
        return data
    pieces = []
    kept_from = 0
    ordered = sorted(spans)
    start, end = ordered[0]
    for next_start, next_end in ordered[1:]:
        if next_start <= end:
            end = max(end, next_end)
            continue
        pieces += [data[kept_from:start], MASK]
        kept_from, start, end = end, next_start, next_end
    pieces += [data[kept_from:start], MASK, data[end:]]
    return b"".join(pieces)


def _flat(form: bytes) -> bytes:
    return form.translate(None, _LINE_BREAKS)
