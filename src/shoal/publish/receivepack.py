"""A push over smart HTTP in one request: `POST git-receive-pack` without the ref
advertisement.

`git push` first asks what the branch holds (`GET info/refs?service=git-receive-pack`), then
sends its ref update and pack. Shoal usually knows already: a branch it never pushed does
not exist yet, and one it pushed is at the sha it leases. The ref update names that old
value and the server applies it only while the branch still holds it (compare and swap), so
the advertisement would only repeat what the update checks anyway: one request instead of
two per push. When the branch is not where Shoal thought, the update is refused as a whole
and the caller falls back to `git push`, which reads the advertisement and decides as usual.

Hand-written because no git client sends a push without reading the advertisement first
(`git push`, dulwich's `send_pack`). What is written here is the part of git's protocol a
single-ref push needs (gitprotocol-pack(5), gitprotocol-http(5)): one command pkt-line with
the `report-status`, `side-band-64k` and `quiet` capabilities, the pack made by
`git pack-objects`, and the answer: the report (`unpack ok`, `ok <ref>` or `ng <ref>
<reason>`) in band 1, GitHub's `remote:` messages in band 2, a fatal error in band 3.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

__all__ = ["Report", "ReportError", "Response", "parse_report", "request_body", "send"]

ZERO = "0" * 40
_MAX_RESPONSE_BYTES = 1 << 20
_MAX_MESSAGES = 50
# GitHub serves git's smart HTTP to clients that say they speak git (dulwich does the same).
_USER_AGENT = "git/shoal"


class ReportError(Exception):
    """The answer is not a receive-pack report."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    request_id: str | None
    content: bytes


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


def _pkt(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


def request_body(old: str, new: str, ref: str, pack: bytes) -> bytes:
    """One ref update (`old` -> `new` on `ref`), its capabilities, and the pack."""
    command = f"{old} {new} {ref}\0report-status side-band-64k quiet agent=shoal\n"
    return _pkt(command.encode()) + b"0000" + pack


def _packets(data: bytes) -> list[bytes | None]:
    """pkt-lines up to the end of `data`; None for a flush-pkt."""
    packets: list[bytes | None] = []
    at = 0
    while at < len(data):
        try:
            size = int(data[at : at + 4], 16)
        except ValueError:
            raise ReportError(f"not a pkt-line at byte {at}") from None
        if size == 0:
            packets.append(None)
            at += 4
            continue
        if size < 4 or at + size > len(data):
            raise ReportError(f"a pkt-line of {size} bytes at byte {at} does not fit")
        packets.append(data[at + 4 : at + size])
        at += size
    return packets


def parse_report(content: bytes, ref: str) -> Report:
    """receive-pack's answer, multiplexed on side bands or not."""
    packets = [p for p in _packets(content) if p is not None]
    report, remote, fatal = b"", [], ""
    if packets and packets[0].startswith(b"unpack "):
        report = b"".join(_pkt(p) for p in packets)  # no side bands
    else:
        for packet in packets:
            band, data = packet[:1], packet[1:]
            if band == b"\x01":
                report += data
            elif band == b"\x02":
                remote.append(data)
            elif band == b"\x03":
                fatal = data.decode("utf-8", "replace").strip()
    lines = [p.decode("utf-8", "replace").rstrip("\n") for p in _packets(report) if p is not None]
    messages = [
        line.strip()
        for chunk in b"".join(remote).decode("utf-8", "replace").splitlines()
        if (line := chunk.split("\r")[-1]).strip()
    ][:_MAX_MESSAGES]
    if not lines or not lines[0].startswith("unpack "):
        if fatal:
            return Report("fatal", False, fatal, tuple(messages), fatal)
        raise ReportError("the answer has no unpack status")
    unpack = lines[0].removeprefix("unpack ")
    for line in lines[1:]:
        status, _, rest = line.partition(" ")
        name, _, reason = rest.partition(" ")
        if name == ref and status in ("ok", "ng"):
            return Report(unpack, status == "ok", reason, tuple(messages), fatal)
    return Report(unpack, False, "no status for the ref", tuple(messages), fatal)


def send(url: str, authorization: SecretStr, body: bytes, *, timeout_s: float) -> Response:
    """POST `body` to `url` (`.../owner/repo.git/git-receive-pack`). Raises httpx's errors
    for a failed exchange and TimeoutError when the answer takes longer than `timeout_s`."""
    headers = {
        "content-type": "application/x-git-receive-pack-request",
        "accept": "application/x-git-receive-pack-result",
        "authorization": authorization.get_secret_value(),
        "user-agent": _USER_AGENT,
    }
    deadline = time.monotonic() + timeout_s
    # trust_env off: like Shoal's git, this ignores the machine's proxies and .netrc.
    with (
        httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=False) as client,
        client.stream("POST", url, content=body, headers=headers) as response,
    ):
        content = bytearray()
        for chunk in response.iter_bytes():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the push took longer than {timeout_s:g} s")
            content += chunk
            if len(content) > _MAX_RESPONSE_BYTES:
                break
        return Response(
            response.status_code,
            response.headers.get("x-github-request-id"),
            bytes(content[:_MAX_RESPONSE_BYTES]),
        )
