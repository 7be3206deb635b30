"""The last check before a GitHub write leaves: the caller (the reconciler) sets a gate for
the writes it makes, and every write passes through it once its rate-limit lease and write
turn are held, right before it is sent.

A gate is a context manager factory: entering it may refuse (the kill switch was set while
the write waited for its turn), and it stays entered while the request is sent, so the gate
can keep a hold from being set while the write is on its way. Git pushes pass through the
same gate (`shoal.publish.gitpush`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar

__all__ = ["Gate", "gated", "passing"]

Gate = Callable[[], AbstractContextManager[object]]

_gate: ContextVar[Gate | None] = ContextVar("shoal_github_write_gate", default=None)


@contextmanager
def gated(gate: Gate | None) -> Iterator[None]:
    """Writes made in this block (in this thread) pass through `gate`."""
    token = _gate.set(gate)
    try:
        yield
    finally:
        _gate.reset(token)


def passing() -> AbstractContextManager[object]:
    """Enter the current gate (nothing when none is set) for one write being sent."""
    gate = _gate.get()
    return gate() if gate is not None else nullcontext()
