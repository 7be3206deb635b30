"""Bounded capture of a step's output: the head and the tail are kept, the middle is counted.

A step may print gigabytes; memory stays within about twice the limit whatever it prints.
"""

from __future__ import annotations

__all__ = ["OutputCapture"]


class OutputCapture:
    """Keeps everything up to `limit` bytes; past that, the first and last `limit/2` bytes."""

    def __init__(self, limit: int) -> None:
        self._limit = max(limit, 0)
        self._head_cap = self._limit // 2
        self._tail_cap = self._limit - self._head_cap
        self._head = bytearray()
        self._tail = bytearray()
        self._overflowed = False
        self._total = 0

    @property
    def total(self) -> int:
        return self._total

    def feed(self, data: bytes) -> None:
        self._total += len(data)
        if not self._overflowed:
            if len(self._head) + len(data) <= self._limit:
                self._head += data
                return
            self._overflowed = True
            seen = bytes(self._head) + data
            self._head = bytearray(seen[: self._head_cap])
            rest = seen[self._head_cap :]
            self._tail = bytearray(rest[max(len(rest) - self._tail_cap, 0) :])
            return
        if not self._tail_cap:
            return
        self._tail += data
        # Trim only once the buffer doubled: trimming on every chunk would move the whole
        # tail for each read and make a gigabyte of output quadratic-ish in copies.
        excess = len(self._tail) - self._tail_cap
        if excess > self._tail_cap:
            del self._tail[:excess]

    def result(self) -> tuple[bytes, bytes, int]:
        """(head, tail, dropped): tail is empty unless the output exceeded the limit."""
        head = bytes(self._head)
        if not self._overflowed:
            return head, b"", 0
        tail = bytes(self._tail[max(len(self._tail) - self._tail_cap, 0) :])
        return head, tail, self._total - len(head) - len(tail)
