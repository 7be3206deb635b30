"""The execution log's pieces: durations as people read them, and the size cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.execution.logs import ExecutionLog, format_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.5, "0.5s"), (30, "30s"), (30.0, "30s"), (60, "1m0s"), (300, "5m0s"), (5400, "1h30m0s")],
    ids=["fraction", "seconds", "float-seconds", "minute", "five-minutes", "hour-and-half"],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_output_without_final_newline_is_closed_before_the_footer(tmp_path: Path) -> None:
    with ExecutionLog(tmp_path / "log.txt", max_bytes=1000) as log:
        log.step_output(b"head", b"tail", 10)
        log.line("<== exit 0")
    assert (tmp_path / "log.txt").read_bytes() == (
        b"head\n[... 10 bytes of output dropped ...]\ntail\n<== exit 0\n"
    )


def test_cap_keeps_the_start_and_says_it_cut(tmp_path: Path) -> None:
    with ExecutionLog(tmp_path / "log.txt", max_bytes=200) as log:
        log.line("a" * 50)
        log.write(b"b" * 500)
        log.line("never")
    data = (tmp_path / "log.txt").read_bytes()
    assert len(data) == 200
    assert data.startswith(b"a" * 50 + b"\nbbb")
    assert data.endswith(b"\n[... log truncated: it reached its limit of 200 bytes ...]\n")
