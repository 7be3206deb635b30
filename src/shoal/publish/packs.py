"""The pack a push sends, made from a publish's loose objects without `git pack-objects`.

A publish's repository holds the base as a pack (its own, or the store's through
`objects/info/alternates`) and, loose, only what `git apply`, `write-tree` and `commit-tree`
wrote: git writes an object loose only when no pack it sees holds it already. Every object
the base's pack holds is reachable from the base (it is the base's depth-1 fetch), so the
objects the new commit needs and the remote may lack (`pack-objects --revs new ^base`) are
exactly the loose ones. A pack of them, undeltified, is what the push carries
(gitformat-pack(5)).
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

__all__ = ["LooseObjectError", "loose_pack"]

_TYPES = {b"commit": 1, b"tree": 2, b"blob": 3, b"tag": 4}
_LOOSE = 38  # hex digits of a sha-1 after its two-digit directory


class LooseObjectError(Exception):
    """A loose object git wrote cannot be read back as one."""


def _entry(kind: int, data: bytes) -> bytes:
    size = len(data)
    head = bytearray()
    byte = (kind << 4) | (size & 0x0F)
    size >>= 4
    while size:
        head.append(byte | 0x80)
        byte, size = size & 0x7F, size >> 7
    head.append(byte)
    return bytes(head) + zlib.compress(data, 1)


def _read(path: Path, name: str) -> tuple[int, bytes]:
    raw = zlib.decompress(path.read_bytes())
    header, _, data = raw.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if kind not in _TYPES or not size.isdigit() or int(size) != len(data):
        raise LooseObjectError(f"loose object {name} has a bad header")
    if hashlib.sha1(raw, usedforsecurity=False).hexdigest() != name:
        raise LooseObjectError(f"loose object {name} does not hash to its name")
    return _TYPES[kind], data


def loose_pack(objects: Path) -> bytes:
    """A pack of every loose object under `objects` (a sha-1 repository's)."""
    entries = []
    for directory in sorted(objects.iterdir()):
        if len(directory.name) != 2 or not directory.is_dir():
            continue  # pack/, info/
        for path in sorted(directory.iterdir()):
            name = directory.name + path.name
            if len(path.name) != _LOOSE:
                continue  # a temporary file git left
            try:
                entries.append(_entry(*_read(path, name)))
            except (OSError, zlib.error) as exc:
                raise LooseObjectError(f"loose object {name}: {exc}") from None
    body = b"PACK" + struct.pack(">II", 2, len(entries)) + b"".join(entries)
    return body + hashlib.sha1(body, usedforsecurity=False).digest()
