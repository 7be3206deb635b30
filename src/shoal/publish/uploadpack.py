"""A shallow fetch of one commit in one request: `POST git-upload-pack` in protocol v2.

The publish wants exactly the base commit and its tree (depth 1), which it names by sha, so
the capability advertisement `git fetch` asks for first (`GET info/refs`) teaches it nothing:
the `fetch` command goes out alone (gitprotocol-v2(5)). The answer's `shallow-info` section
names the commits whose parents were left out (they go to the repository's `shallow` file),
and its `packfile` section carries the pack in band 1 (progress in band 2, a fatal error in
band 3); an `ERR` packet anywhere is the server's refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from shoal.publish.smarthttp import DELIM, DELIM_PKT, FLUSH_PKT, PktReader, ProtocolError, pkt

__all__ = ["PROTOCOL", "FetchRefusedError", "Fetched", "read_pack", "request_body"]

PROTOCOL = "version=2"
_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SECTIONS_SKIPPED = (b"acknowledgments\n", b"wanted-refs\n", b"packfile-uris\n")


class FetchRefusedError(Exception):
    """The server refused the fetch (an `ERR` packet or band 3), in its words."""


@dataclass(frozen=True, slots=True)
class Fetched:
    shallow: tuple[str, ...]  # commits whose parents the pack leaves out
    pack_bytes: int


def request_body(want: str) -> bytes:
    """`fetch` of `want` alone, at depth 1, without progress."""
    return b"".join(
        (
            pkt(b"command=fetch\n"),
            pkt(b"agent=shoal\n"),
            DELIM_PKT,
            pkt(b"no-progress\n"),
            pkt(b"ofs-delta\n"),
            pkt(f"want {want}\n".encode()),
            pkt(b"deepen 1\n"),
            pkt(b"done\n"),
            FLUSH_PKT,
        )
    )


def _text(packet: bytes) -> str:
    return packet.decode("utf-8", "replace").strip()


def _refused(packet: bytes) -> None:
    if packet.startswith(b"ERR "):
        raise FetchRefusedError(_text(packet[4:]))


def read_pack(reader: PktReader, sink: Callable[[bytes], object], *, max_bytes: int) -> Fetched:
    """Read the answer to `request_body`, handing the pack to `sink` chunk by chunk."""
    shallow: list[str] = []
    while True:
        section = reader.read()
        if section is None:
            raise ProtocolError("the answer ended before its packfile")
        if section is DELIM:
            continue
        assert isinstance(section, bytes)
        _refused(section)
        if section == b"shallow-info\n":
            while isinstance(line := reader.read(), bytes):
                _refused(line)
                kind, _, oid = _text(line).partition(" ")
                if kind == "shallow":
                    # Written to the `shallow` file, one a line (and kept in the store).
                    if not _OID.fullmatch(oid):
                        raise ProtocolError(f"a shallow line that names no commit: {line[:60]!r}")
                    shallow.append(oid)
            continue
        if section in _SECTIONS_SKIPPED:
            while isinstance(reader.read(), bytes):
                pass
            continue
        if section != b"packfile\n":
            raise ProtocolError(f"an unexpected section {section[:40]!r}")
        return Fetched(tuple(shallow), _pack(reader, sink, max_bytes))


def _pack(reader: PktReader, sink: Callable[[bytes], object], max_bytes: int) -> int:
    size = 0
    while (packet := reader.read()) is not None:
        if not isinstance(packet, bytes) or not packet:
            raise ProtocolError("a packfile packet without a band")
        _refused(packet)
        band, data = packet[:1], packet[1:]
        if band == b"\x01":
            size += len(data)
            if size > max_bytes:
                raise ProtocolError(f"the pack is larger than {max_bytes >> 20} MiB")
            sink(data)
        elif band == b"\x03":
            raise FetchRefusedError(_text(data))
    return size
