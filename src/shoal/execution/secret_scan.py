"""Looking for an execution's secrets in its patch and file names before anything is stored.

A step that was given a secret can write it into a file, or name a file after it; the patch
is then served by the API and pushed to GitHub on publish. The worker scans every result
before storing it: a hit fails the execution (`secret_in_patch`) and nothing of the change
is kept. Pure: bytes in, a finding (or nothing) out.

What is searched, for every form of every secret (`secret_forms`: as is, base64, base32,
hex, reversed, URL/JSON escapes, rot13):

- the patch text, line breaks taken out (headers, old and new lines);
- the new side of each text hunk with the `+`/` ` prefixes and line breaks taken out, so a
  value folded over several lines of a file still matches;
- every file name (old and new), also with its `/` taken out;
- the new content of each binary file, decoded from git's base85 and zlib (the bytes a
  delta inserts, for a modified one);
- one more level of what is encoded inside those: base64 and hex runs are decoded, and gzip,
  zlib and zip data (in binary files, or decoded from such runs) is decompressed, up to
  `MAX_EXPANDED_BYTES` per execution; past that the scan stops and the execution fails
  rather than pass unchecked data.

What it cannot see: encryption or any cipher a step makes up, compression formats other
than gzip/zlib/zip (xz, bzip2, 7z), a value split across files or shuffled, and secrets
shorter than `MIN_SECRET_LENGTH`.
"""

from __future__ import annotations

import binascii
import codecs
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from shoal.domain.errors import ShoalError
from shoal.domain.executions import DiffFile
from shoal.execution.redact import MIN_SECRET_LENGTH, Redactor
from shoal.execution.secret_forms import secret_forms

__all__ = ["MAX_EXPANDED_BYTES", "SecretFinding", "SecretScanIncompleteError", "SecretScanner"]

MAX_EXPANDED_BYTES = 64 << 20
# Two levels (gzip then base64, or base64 of a gzip): deeper nesting is possible, but no
# longer a common encoding, and each level costs a pass over everything decoded.
_MAX_DEPTH = 2
_CHUNK = 64 << 10
_LINE_BREAKS = b"\r\n"
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{16,}")
_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_HEX_RUN = re.compile(rb"[0-9a-fA-F]{16,}")
_GZIP_MAGIC = b"\x1f\x8b\x08"
_ZIP_MAGIC = b"PK\x03\x04"
_SECTION = re.compile(rb"^diff --git ", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class SecretFinding:
    """Where a secret was found: its name and the file, never its value."""

    secret: str
    encoding: str
    file: str  # with any secret in the name masked
    place: str  # "name", "content", "encoded content", "compressed content"

    @property
    def message(self) -> str:
        return (
            f"the change holds secret {self.secret} ({self.encoding}) in the {self.place} of "
            f"file '{self.file}'; nothing of it was stored, so it cannot be published"
        )


class SecretScanIncompleteError(ShoalError):
    code = "secret_unchecked"


@dataclass(frozen=True, slots=True)
class _Hit:
    secret: str
    encoding: str
    via: tuple[str, ...]  # "encoded", "compressed": how the data was reached


class SecretScanner:
    """Scans one execution's change for the forms of its secrets."""

    def __init__(
        self, secrets: Mapping[str, str], *, max_expanded_bytes: int = MAX_EXPANDED_BYTES
    ) -> None:
        forms: dict[bytes, tuple[str, str]] = {}
        for name, value in sorted(secrets.items()):
            for form, kind in secret_forms(value).items():
                flat = form.translate(None, _LINE_BREAKS)
                if len(flat) >= MIN_SECRET_LENGTH:
                    forms.setdefault(flat, (name, kind))
        self._forms = tuple((form, name, kind) for form, (name, kind) in forms.items())
        self._redactor = Redactor(secrets)
        self._budget = max_expanded_bytes
        self._max_expanded = max_expanded_bytes

    @property
    def active(self) -> bool:
        return bool(self._forms)

    def scan(self, patch: bytes, files: Iterable[DiffFile]) -> SecretFinding | None:
        """The first secret found in the file names or the patch, or None.

        Raises SecretScanIncompleteError when compressed data expands past the budget.
        """
        if not self._forms:
            return None
        for file in files:
            for name in (file.path, file.old_path):
                if name is None:
                    continue
                encoded = name.encode("utf-8", errors="surrogateescape")
                for candidate in (encoded, encoded.replace(b"/", b"")):
                    hit = self._look(candidate, depth=0, name=name)
                    if hit is not None:
                        return self._finding(hit, name, "name")
        for section in _sections(patch):
            finding = self._scan_section(section)
            if finding is not None:
                return finding
        return None

    def _scan_section(self, section: bytes) -> SecretFinding | None:
        lines = section.split(b"\n")
        name = _file_name(lines)
        hit = self._match(section)
        if hit is not None:
            return self._finding(hit, name, "patch text")
        for data in (_new_side(lines), *_binary_contents(lines)):
            hit = self._look(data, depth=0, name=name)
            if hit is not None:
                return self._finding(hit, name, "content")
        return None

    def _finding(self, hit: _Hit, name: str, place: str) -> SecretFinding:
        masked = self._redactor.redact(name.encode("utf-8", errors="surrogateescape"))
        if hit.via:
            place = f"{hit.via[-1]} {place}"
        return SecretFinding(
            secret=hit.secret,
            encoding=hit.encoding,
            file=masked.decode("utf-8", errors="replace"),
            place=place,
        )

    def _match(self, data: bytes) -> _Hit | None:
        flat = data.translate(None, _LINE_BREAKS)
        for form, secret, kind in self._forms:
            if form in flat:
                return _Hit(secret, kind, ())
        return None

    def _look(self, data: bytes, *, depth: int, name: str) -> _Hit | None:
        hit = self._match(data)
        if hit is not None or depth >= _MAX_DEPTH:
            return hit
        for how, inner in self._expansions(data, name):
            found = self._look(inner, depth=depth + 1, name=name)
            if found is not None:
                return _Hit(found.secret, found.encoding, (how, *found.via))
        return None

    def _expansions(self, data: bytes, name: str) -> Iterator[tuple[str, bytes]]:
        flat = data.translate(None, _LINE_BREAKS)
        # All decoded runs in one text, NUL between them (no form holds a NUL): one search
        # instead of one per run, which matters for a large file of long identifiers.
        standard = flat.translate(_URLSAFE_TO_STANDARD)
        # Whole quadruplets only: the last one or two bytes of a run are not worth a retry.
        decoded = [binascii.a2b_base64(r[: len(r) // 4 * 4]) for r in _BASE64_RUN.findall(standard)]
        decoded += [
            bytes.fromhex(run[: len(run) // 2 * 2].decode()) for run in _HEX_RUN.findall(flat)
        ]
        if any(decoded):
            yield "encoded", b"\0".join(decoded)
        for inflated in self._decompressed(data, name):
            yield "compressed", inflated

    def _decompressed(self, data: bytes, name: str) -> Iterator[bytes]:
        view = memoryview(data)
        for start, wbits in _stream_starts(data):
            inflated = self._inflate(view[start:], wbits, name)
            if inflated:
                yield inflated
        if _ZIP_MAGIC in data:
            yield from self._unzipped(data, name)

    def _inflate(self, data: memoryview, wbits: int, name: str) -> bytes:
        inflater = zlib.decompressobj(wbits)
        out = bytearray()
        try:
            for offset in range(0, len(data), _CHUNK):
                out += inflater.decompress(data[offset : offset + _CHUNK], self._budget + 1)
                self._spend(len(out), name)
                while inflater.unconsumed_tail and not inflater.eof:
                    out += inflater.decompress(inflater.unconsumed_tail, self._budget + 1)
                    self._spend(len(out), name)
                if inflater.eof:
                    break
        except zlib.error:
            pass  # not a stream after all, or a broken one: what came out is still scanned
        self._budget -= len(out)
        return bytes(out)

    def _unzipped(self, data: bytes, name: str) -> Iterator[bytes]:
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    self._spend(info.file_size, name)
                    with archive.open(info) as member:
                        content = member.read(self._budget + 1)
                    self._spend(len(content), name)
                    self._budget -= len(content)
                    yield content
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError):
            return  # not a readable archive (or an encrypted one): its bytes were scanned raw

    def _spend(self, size: int, name: str) -> None:
        if size > self._budget:
            masked = self._redactor.redact(name.encode("utf-8", errors="surrogateescape"))
            raise SecretScanIncompleteError(
                f"file '{masked.decode('utf-8', errors='replace')}' holds compressed data that "
                f"expands past {self._max_expanded >> 20} MiB in all; it could not be checked "
                "for the step's secrets, so nothing of this change was stored"
            )


def _sections(patch: bytes) -> list[bytes]:
    starts = [m.start() for m in _SECTION.finditer(patch)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return [patch[a:b] for a, b in zip(starts, [*starts[1:], len(patch)], strict=True)]


def _file_name(lines: list[bytes]) -> str:
    """The file a section is about, for messages (the scanner masks secrets in it)."""
    for line in lines:
        if line.startswith((b"@@", b"GIT binary patch")):
            break
        if line.startswith(b"rename to "):
            return _unquote(line.removeprefix(b"rename to "), prefix=b"")
        if line.startswith(b"+++ ") and line != b"+++ /dev/null":
            return _unquote(line.removeprefix(b"+++ ").rstrip(b"\t"), prefix=b"b/")
    header = lines[0].removeprefix(b"diff --git ") if lines else b""
    if header.startswith(b'"'):
        return _unquote(header.split(b'" ', 1)[0] + b'"', prefix=b"a/")
    # "a/NAME b/NAME": both halves are the same name when the file was not renamed.
    return _unquote(header[: (len(header) - 1) // 2], prefix=b"a/")


def _unquote(raw: bytes, *, prefix: bytes) -> str:
    text = raw
    if text.startswith(b'"') and text.endswith(b'"'):
        text = codecs.escape_decode(text[1:-1])[0]
    return text.removeprefix(prefix).decode("utf-8", errors="replace")


def _new_side(lines: list[bytes]) -> bytes:
    """The text after the change in each hunk, without prefixes or line breaks."""
    kept: list[bytes] = []
    in_hunks = False
    for line in lines:
        if line.startswith(b"@@"):
            in_hunks = True
        elif in_hunks and line[:1] in (b"+", b" "):
            kept.append(line[1:])
    return b"".join(kept)


def _binary_contents(lines: list[bytes]) -> Iterator[bytes]:
    """The new content of a binary file (or what its delta inserts), from `GIT binary patch`."""
    try:
        start = lines.index(b"GIT binary patch")
        kind, _, size_text = lines[start + 1].partition(b" ")
    except (ValueError, IndexError):
        return
    encoded = []
    for line in lines[start + 2 :]:
        if not line:
            break  # the forward hunk ends here; the reverse one holds the old content
        encoded.append(line)
    try:
        size = int(size_text)
        data = zlib.decompressobj().decompress(_base85(encoded), size + 1)
    except (ValueError, zlib.error):
        return
    yield data if kind == b"literal" else _delta_inserts(data)


def _base85(lines: list[bytes]) -> bytes:
    """Git's base85 lines decoded: a length character, then 5 characters per 4 bytes."""
    decoded = _b85decode(b"".join(line[1:] for line in lines))
    out = bytearray()
    position = 0
    for line in lines:
        length = line[0] - ord("A") + 1 if line[:1].isupper() else line[0] - ord("a") + 27
        out += decoded[position : position + length]
        position += (len(line) - 1) // 5 * 4
    return bytes(out)


_B85_ALPHABET = (
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~"
)
_B85_VALUES = bytes.maketrans(_B85_ALPHABET, bytes(range(85)))


def _b85decode(text: bytes) -> bytes:
    """Base85 (git's alphabet, Python's `b85decode`), in time linear in C rather than Python.

    Each 5-character group is a base-85 number of 4 bytes. The digits at each position of
    every group go into 4-byte lanes of one big integer, and Horner's rule runs on all
    lanes at once: a valid group never exceeds its lane. Python's own decoder loops per
    group and took seconds for a 5 MiB binary file.
    """
    if text.translate(None, _B85_ALPHABET):
        return b""  # not base85: git never writes this
    text += b"~" * (-len(text) % 5)
    values = text.translate(_B85_VALUES)
    groups = len(values) // 5
    total = 0
    for digit in range(5):
        lanes = bytearray(4 * groups)
        lanes[3::4] = values[digit::5]
        total = total * 85 + int.from_bytes(lanes, "big")
    try:
        return total.to_bytes(4 * groups, "big")
    except OverflowError:
        return b""  # a group past 2**32: invalid, as Python's decoder would say


def _delta_inserts(delta: bytes) -> bytes:
    """The bytes a git delta inserts (what it copies comes from the old content)."""
    position = 0
    for _ in range(2):  # the source and target sizes, as varints
        while position < len(delta) and delta[position] & 0x80:
            position += 1
        position += 1
    inserted = bytearray()
    while position < len(delta):
        op = delta[position]
        position += 1
        if op & 0x80:
            # A copy: one byte per set bit of its offset (4) and size (3) fields.
            position += bin(op & 0x7F).count("1")
        elif op:
            inserted += delta[position : position + op]
            position += op
    return bytes(inserted)


def _stream_starts(data: bytes) -> Iterator[tuple[int, int]]:
    """Offsets where a gzip member or a zlib stream may start, with the wbits to inflate it."""
    position = data.find(_GZIP_MAGIC)
    while position != -1:
        yield position, 31
        position = data.find(_GZIP_MAGIC, position + 1)
    position = data.find(b"\x78")
    while position != -1 and position + 1 < len(data):
        flags = data[position + 1]
        # A zlib header: deflate with a 32 KiB window, a valid check, no preset dictionary.
        if (0x78 << 8 | flags) % 31 == 0 and not flags & 0x20:
            yield position, 15
        position = data.find(b"\x78", position + 1)
