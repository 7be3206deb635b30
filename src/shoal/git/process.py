"""Running one git process to its end, bounded: a deadline, and a cap on what it prints.

Not `subprocess.run`: its timeout kills only the process it started (git's helpers, such as
`git-remote-http` or `pack-objects`, live on and keep the pipes open), and it collects all
of the output in memory however large. Here git runs in a session of its own, so the whole
group is killed at the deadline, and stdout is read as it comes: past `max_output_bytes`
the group is killed too. stderr is only git's explanation: its first 64 KiB are kept.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

__all__ = ["MAX_OUTPUT_BYTES", "CommandRunner", "Completed", "OutputLimitError", "run"]

MAX_OUTPUT_BYTES = 128 << 20
_MAX_STDERR_BYTES = 64 << 10
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes


class OutputLimitError(Exception):
    """git printed more than the caller allowed; it was killed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"git printed more than {limit} bytes and was killed")
        self.limit = limit


class CommandRunner(Protocol):
    """Runs one command to its end; raises TimeoutError after `timeout_s` (`run` is the
    real one; tests give a recording or scripted runner)."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        stdin: bytes | None,
        timeout_s: float,
    ) -> Completed: ...


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    stdin: bytes | None = None,
    timeout_s: float | None = None,
    max_output_bytes: int | None = MAX_OUTPUT_BYTES,
    sink: Callable[[bytes], None] | None = None,
) -> Completed:
    """Run `argv` to its end and return its exit code and output.

    `sink` receives stdout chunk by chunk instead of `Completed.stdout` (output too large to
    hold); `max_output_bytes` still bounds it (None: only the deadline does). Raises
    TimeoutError past `timeout_s`, OutputLimitError past `max_output_bytes` (the process
    group killed either way) and OSError when the command cannot start.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    with process:
        try:
            stdout, stderr = _communicate(process, stdin, deadline, max_output_bytes, sink)
            returncode = process.wait(timeout=_left(deadline))
        except BaseException:
            _kill(process)
            raise
    return Completed(returncode, stdout, stderr)


def _left(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("git ran past its deadline and was killed")
    return left


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _communicate(
    process: subprocess.Popen[bytes],
    stdin: bytes | None,
    deadline: float | None,
    max_output_bytes: int | None,
    sink: Callable[[bytes], None] | None,
) -> tuple[bytes, bytes]:
    pipes = _Pipes(process, stdin or b"", max_output_bytes, sink)
    with selectors.DefaultSelector() as selector:
        if process.stdin is not None:
            if stdin:
                os.set_blocking(process.stdin.fileno(), False)
                selector.register(process.stdin, selectors.EVENT_WRITE)
            else:
                process.stdin.close()
        assert process.stdout is not None and process.stderr is not None
        selector.register(process.stdout, selectors.EVENT_READ)
        selector.register(process.stderr, selectors.EVENT_READ)
        while selector.get_map():
            for key, _ in selector.select(_left(deadline)):
                stream: IO[bytes] = key.fileobj  # type: ignore[assignment]
                done = pipes.feed(stream) if stream is process.stdin else pipes.drain(stream)
                if done:
                    selector.unregister(stream)
                    if stream is process.stdin:
                        stream.close()
    return bytes(pipes.out), bytes(pipes.err)


class _Pipes:
    """The three pipes of one process: what is left to write, what was read."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        stdin: bytes,
        max_output_bytes: int | None,
        sink: Callable[[bytes], None] | None,
    ) -> None:
        self._process = process
        self._data = memoryview(stdin)
        self._written = 0
        self._max = max_output_bytes
        self._sink = sink
        self._size = 0
        self.out = bytearray()
        self.err = bytearray()

    def feed(self, stream: IO[bytes]) -> bool:
        """Write the next chunk of stdin; True once all of it is written."""
        try:
            self._written += os.write(
                stream.fileno(), self._data[self._written : self._written + _CHUNK]
            )
        except BlockingIOError:
            return False
        except BrokenPipeError:  # git stopped reading: it has what it needs
            return True
        return self._written >= len(self._data)

    def drain(self, stream: IO[bytes]) -> bool:
        """Read what stdout or stderr has; True at its end."""
        chunk = os.read(stream.fileno(), _CHUNK)
        if not chunk:
            return True
        if stream is self._process.stderr:
            self.err += chunk[: max(_MAX_STDERR_BYTES - len(self.err), 0)]
            return False
        self._size += len(chunk)
        if self._max is not None and self._size > self._max:
            raise OutputLimitError(self._max)
        if self._sink is not None:
            self._sink(chunk)
        else:
            self.out += chunk
        return False
