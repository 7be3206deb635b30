"""OutputCapture: what is kept of a step's output, fed in chunks of any size."""

from __future__ import annotations

import pytest

from shoal.executors.output import OutputCapture


def capture(limit: int, chunks: list[bytes]) -> tuple[bytes, bytes, int]:
    out = OutputCapture(limit)
    for chunk in chunks:
        out.feed(chunk)
    assert out.total == sum(map(len, chunks))
    return out.result()


@pytest.mark.parametrize(
    ("limit", "chunks", "expected"),
    [
        (10, [], (b"", b"", 0)),
        (10, [b"abc", b"def"], (b"abcdef", b"", 0)),
        (10, [b"0123456789"], (b"0123456789", b"", 0)),
        (10, [b"0123456789a"], (b"01234", b"6789a", 1)),
        (10, [b"012", b"3456789abcdef"], (b"01234", b"bcdef", 6)),
        (10, [b"0"] * 25, (b"00000", b"00000", 15)),
        (10, [bytes([i]) for i in range(30)], (bytes(range(5)), bytes(range(25, 30)), 20)),
        (11, [b"x" * 20], (b"x" * 5, b"x" * 6, 9)),
        (1, [b"ab"], (b"", b"b", 1)),
        (0, [b"abc"], (b"", b"", 3)),
    ],
    ids=[
        "nothing",
        "fits",
        "exactly-the-limit",
        "one-over",
        "head-filled-from-a-later-chunk",
        "many-small-chunks",
        "tail-is-the-last-bytes",
        "odd-limit-gives-the-tail-the-extra-byte",
        "limit-one",
        "limit-zero-drops-everything",
    ],
)
def test_capture(limit: int, chunks: list[bytes], expected: tuple[bytes, bytes, int]) -> None:
    assert capture(limit, chunks) == expected


def test_large_stream_keeps_exact_head_and_tail() -> None:
    data = bytes(i % 251 for i in range(3_000_000))
    chunks = [data[i : i + 65_536] for i in range(0, len(data), 65_536)]
    head, tail, dropped = capture(100_000, chunks)
    assert head == data[:50_000]
    assert tail == data[-50_000:]
    assert dropped == len(data) - 100_000
