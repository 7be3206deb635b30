"""A concurrency slot of the governor, held for the length of one GitHub call."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

__all__ = ["Lease"]


class Lease:
    """A concurrency slot; release it when the call's response is done (idempotent)."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
