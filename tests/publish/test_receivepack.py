"""receive-pack's answers as GitHub and git send them, read without the advertisement."""

from __future__ import annotations

import pytest

from shoal.github.push import BranchProtectedError, classify_push_failure
from shoal.publish.receivepack import Report, read_report, request_body
from shoal.publish.smarthttp import PktReader, ProtocolError

REF = "refs/heads/shoal/x"
SHA = "ab" * 20


def parse_report(answer: bytes, ref: str) -> Report:
    return read_report(PktReader(iter([answer]), float("inf")), ref)


def pkt(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


def banded(report: list[bytes], remote: tuple[bytes, ...] = (), fatal: bytes = b"") -> bytes:
    inner = b"".join(pkt(line) for line in report) + b"0000"
    out = b"".join(pkt(b"\x02" + line) for line in remote)
    out += pkt(b"\x01" + inner)
    if fatal:
        out += pkt(b"\x03" + fatal)
    return out + b"0000"


def test_the_request_is_one_command_then_the_pack() -> None:
    body = request_body("0" * 40, SHA, REF, b"PACK...")
    length = int(body[:4], 16)
    command = body[4:length]
    assert command.startswith(f"{'0' * 40} {SHA} {REF}\0".encode())
    assert b"report-status" in command and b"side-band-64k" in command
    assert body[length : length + 4] == b"0000"
    assert body.endswith(b"PACK...")


def test_an_accepted_update() -> None:
    report = parse_report(banded([b"unpack ok\n", f"ok {REF}\n".encode()]), REF)
    assert (report.unpack, report.ok, report.reason) == ("ok", True, "")


def test_a_refusal_reads_as_git_push_would_print_it() -> None:
    remote = (
        b"error: GH006: Protected branch update failed for refs/heads/shoal/x.\n",
        b"error: Changes must be made through a pull request.\n",
    )
    answer = banded([b"unpack ok\n", f"ng {REF} protected branch hook declined\n".encode()], remote)
    report = parse_report(answer, REF)
    assert not report.ok
    assert report.reason == "protected branch hook declined"
    error = classify_push_failure(report.as_git_says(SHA, "shoal/x"), 1)
    assert isinstance(error, BranchProtectedError)
    assert error.rules == ("pull request required",)


def test_without_side_bands_and_with_a_fatal_error() -> None:
    plain = pkt(b"unpack ok\n") + pkt(f"ng {REF} failed to update ref\n".encode()) + b"0000"
    report = parse_report(plain, REF)
    assert (report.ok, report.reason) == (False, "failed to update ref")
    fatal = parse_report(pkt(b"\x03" + b"the hook died\n") + b"0000", REF)
    assert (fatal.ok, fatal.fatal) == (False, "the hook died")


@pytest.mark.parametrize("answer", [b"<html>oops</html>", b"0003", b"00ffshort", b""])
def test_what_is_not_a_report_is_refused(answer: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_report(answer, REF)
