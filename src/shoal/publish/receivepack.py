"""A push in one request: `POST git-receive-pack` without the ref advertisement.

Shoal usually knows what the branch holds: a branch it never pushed does not exist yet, and
one it pushed is at the sha it leases. The ref update names that old value and the server
applies it only while the branch still holds it (compare and swap), so the advertisement
would only repeat what the update checks anyway. When the branch is not where Shoal thought,
the update is refused as a whole and the caller falls back to `git push`, which reads the
advertisement and decides as usual.

What is sent: one command pkt-line with the `report-status`, `side-band-64k` and `quiet`
capabilities, then the pack of the new objects (`packs`). What comes back: the report (`unpack
ok`, `ok <ref>` or `ng <ref> <reason>`) in band 1, GitHub's `remote:` messages in band 2, a
fatal error in band 3 (gitprotocol-pack(5)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shoal.publish.smarthttp import DELIM, FLUSH_PKT, PktReader, ProtocolError, pkt

__all__ = ["ZERO", "Report", "read_report", "request_body"]

ZERO = "0" * 40
_MAX_MESSAGES = 50
_MAX_REPORT_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class Report:
    """What receive-pack said about one push."""

    unpack: str  # "ok", or why the pack was not accepted
    ok: bool  # the ref was updated
    reason: str  # why not ("" when ok)
    remote: tuple[str, ...] = field(default=())  # GitHub's `remote:` lines (band 2)
    fatal: str = ""  # band 3

    def as_git_says(self, sha: str, branch: str) -> str:
        """The report in the words `git push` would print, for `classify_push_failure`."""
        lines = [f"remote: {line}" for line in self.remote]
        if self.fatal:
            lines.append(f"remote: fatal: {self.fatal}")
        if self.unpack != "ok":
            lines.append(f"error: remote unpack failed: {self.unpack}")
        reason = self.reason or (f"unpacker error: {self.unpack}" if self.unpack != "ok" else "")
        lines.append(f" ! [remote rejected] {sha} -> {branch} ({reason or 'no reason given'})")
        lines.append("error: failed to push some refs")
        return "\n".join(lines)


def request_body(old: str, new: str, ref: str, pack: bytes) -> bytes:
    """One ref update (`old` -> `new` on `ref`), its capabilities, and the pack."""
    command = f"{old} {new} {ref}\0report-status side-band-64k quiet agent=shoal\n"
    return pkt(command.encode()) + FLUSH_PKT + pack


def _payloads(reader: PktReader) -> list[bytes]:
    payloads, size = [], 0
    while (packet := reader.read()) is not None:
        if packet is DELIM:
            raise ProtocolError("a delimiter packet in a push report")
        assert isinstance(packet, bytes)
        size += len(packet)
        if size > _MAX_REPORT_BYTES:
            raise ProtocolError("the push report is too large")
        payloads.append(packet)
    return payloads


def read_report(reader: PktReader, ref: str) -> Report:
    """receive-pack's answer about `ref`, multiplexed on side bands or not."""
    packets = _payloads(reader)
    remote: list[bytes] = []
    fatal = ""
    if packets and packets[0].startswith(b"unpack "):
        lines = packets  # no side bands
    else:
        report = b""
        for packet in packets:
            band, data = packet[:1], packet[1:]
            if band == b"\x01":
                report += data
            elif band == b"\x02":
                remote.append(data)
            elif band == b"\x03":
                fatal = data.decode("utf-8", "replace").strip()
        lines = _payloads(PktReader(iter([report]), float("inf"))) if report else []
    messages = [
        line.strip()
        for chunk in b"".join(remote).decode("utf-8", "replace").splitlines()
        if (line := chunk.split("\r")[-1]).strip()
    ][:_MAX_MESSAGES]
    said = [line.decode("utf-8", "replace").rstrip("\n") for line in lines]
    if not said or not said[0].startswith("unpack "):
        if fatal:
            return Report("fatal", False, fatal, tuple(messages), fatal)
        raise ProtocolError("the answer has no unpack status")
    unpack = said[0].removeprefix("unpack ")
    for line in said[1:]:
        status, _, rest = line.partition(" ")
        name, _, reason = rest.partition(" ")
        if name == ref and status in ("ok", "ng"):
            return Report(unpack, status == "ok", reason, tuple(messages), fatal)
    return Report(unpack, False, "no status for the ref", tuple(messages), fatal)
