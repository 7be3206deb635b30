"""The execution log: one file per execution, each step framed by a header and a footer.

```
==> step bump
<output, or its head, a "[... N bytes of output dropped ...]" marker and its tail>
<== exit 0 in 0.12s
==> step lint skipped: condition was false
```

Everything written here is already redacted. The file never grows past its cap: what does
not fit is replaced by one closing marker.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["ExecutionLog", "format_duration"]

_TRUNCATED = "\n[... log truncated: it reached its limit of {limit} bytes ...]\n"


def format_duration(seconds: float) -> str:
    """Go-style durations: 0.25s, 30s, 5m0s, 1h30m0s."""
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds != int(seconds) else f"{int(seconds)}s"
    whole = math.floor(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s" if hours else f"{minutes}m{secs}s"


class ExecutionLog:
    """Appends to `path`, keeping the file at most `max_bytes` long."""

    def __init__(self, path: Path, *, max_bytes: int) -> None:
        self.path = path
        self._marker = _TRUNCATED.format(limit=max_bytes).encode()
        # Room is kept for the marker so that the capped file still says it was capped.
        self._budget = max(max_bytes - len(self._marker), 0)
        self._written = 0
        self._full = False
        self._file: IO[bytes] = path.open("wb")

    def __enter__(self) -> ExecutionLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def write(self, data: bytes) -> None:
        if self._full or not data:
            return
        room = self._budget - self._written
        if len(data) > room:
            self._file.write(data[:room])
            self._file.write(self._marker)
            self._written += room + len(self._marker)
            self._full = True
            return
        self._file.write(data)
        self._written += len(data)

    def line(self, text: str) -> None:
        self.write(text.encode("utf-8", errors="backslashreplace") + b"\n")

    def step_output(self, head: bytes, tail: bytes, dropped: int) -> None:
        self.write(head)
        if dropped or tail:
            if head and not head.endswith(b"\n"):
                self.write(b"\n")
            self.line(f"[... {dropped} bytes of output dropped ...]")
            self.write(tail)
        last = tail or head
        if last and not last.endswith(b"\n"):
            self.write(b"\n")
