"""Running one step command to its end: one output pipe, a deadline, the process group killed.

Shared by every sandbox. The child is started in its own session (so its process group is
ours to kill) with stdin on /dev/null and stdout+stderr on one pipe that is read all the time,
so a step that prints a gigabyte neither blocks nor fills memory.

Limits are applied by `prlimit` (util-linux) wrapping the command rather than by
`resource.setrlimit` in a `preexec_fn`: the worker is threaded, and running Python between
fork and exec in a threaded process can deadlock on a lock another thread held at fork time.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import select
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from shoal.domain.clock import Clock
from shoal.executors.output import OutputCapture
from shoal.executors.sandbox import SandboxUnavailableError, StepLimits, StepRun

__all__ = ["rlimit_argv", "supervise"]

_READ_CHUNK = 1 << 20
_PIPE_SIZE = 1 << 20
_POLL_FALLBACK_S = 0.05  # how often to look for the child's exit when pidfds are unavailable


def rlimit_argv(prlimit: str, limits: StepLimits) -> list[str]:
    """`prlimit` options that set soft and hard limits alike, so the step cannot raise them."""
    return [
        prlimit,
        f"--as={limits.memory_bytes}",
        f"--fsize={limits.max_file_bytes}",
        f"--nofile={limits.max_open_files}",
        f"--nproc={limits.max_processes}",
        "--",
    ]


def supervise(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    limits: StepLimits,
    clock: Clock,
    pass_fds: Sequence[int] = (),
    kill_grace_s: float = 2.0,
    drain_s: float = 2.0,
) -> StepRun:
    """Run `argv` until it exits or `limits.timeout_s` passes, then kill its process group.

    The group is killed after a normal exit too: a step must not leave processes behind.
    """
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
    except OSError as exc:
        raise SandboxUnavailableError(f"cannot start the step: {exc.strerror}") from exc
    assert proc.stdout is not None
    with proc, _Watch(proc, OutputCapture(limits.max_output_bytes)) as watch:
        try:
            start = clock.monotonic()
            deadline = start + limits.timeout_s
            timed_out = not watch.until_exit(clock, deadline)
            if timed_out:
                _signal_group(proc.pid, signal.SIGTERM)
                watch.until_exit(clock, clock.monotonic() + kill_grace_s)
            # The leader is not reaped yet (alive or a zombie), so its pid, which is the
            # group id, cannot have been reused: this cannot hit an unrelated process.
            _signal_group(proc.pid, signal.SIGKILL)
            returncode = proc.wait()
        except BaseException:
            # An error or an interrupt here must not leave the step running unsupervised.
            _signal_group(proc.pid, signal.SIGKILL)
            raise
        duration = clock.monotonic() - start
        watch.until_eof(clock, clock.monotonic() + drain_s)
        head, tail, dropped = watch.capture.result()
    exit_code = None if timed_out else (returncode if returncode >= 0 else 128 - returncode)
    return StepRun(
        exit_code=exit_code,
        timed_out=timed_out,
        output_head=head,
        output_tail=tail,
        output_dropped=dropped,
        duration_s=duration,
    )


class _Watch:
    """Polls the output pipe and (via a pidfd) the child's exit in one loop."""

    def __init__(self, proc: subprocess.Popen[bytes], capture: OutputCapture) -> None:
        assert proc.stdout is not None
        self.capture = capture
        self._pid = proc.pid
        self._fd = proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        with contextlib.suppress(OSError):
            # Fewer, larger reads; best effort (the size is capped by fs.pipe-max-size).
            fcntl.fcntl(self._fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        self._pidfd: int | None
        try:
            self._pidfd = os.pidfd_open(proc.pid)
        except OSError:
            self._pidfd = None
        self._poller = select.poll()
        self._poller.register(self._fd, select.POLLIN)
        if self._pidfd is not None:
            self._poller.register(self._pidfd, select.POLLIN)
        self._pipe_open = True

    def __enter__(self) -> _Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self._forget_pidfd()

    def _forget_pidfd(self) -> None:
        # Once the child has exited its pidfd stays readable and would wake every later poll.
        if self._pidfd is not None:
            self._poller.unregister(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def until_exit(self, clock: Clock, deadline: float) -> bool:
        """Read output until the child exits (True) or the deadline passes (False)."""
        while not self._exited():
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                return False
            if self._pidfd is None:
                remaining = min(remaining, _POLL_FALLBACK_S)
            self._poll(remaining)
        self._forget_pidfd()
        return True

    def until_eof(self, clock: Clock, deadline: float) -> None:
        """Read what is left; stop at the deadline if something outside the group holds the pipe."""
        self._forget_pidfd()
        while self._pipe_open:
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                return
            self._poll(remaining)

    def _poll(self, timeout_s: float) -> None:
        for fd, _events in self._poller.poll(math.ceil(timeout_s * 1000)):
            if fd == self._fd:
                self._drain()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self._fd, _READ_CHUNK)
            except BlockingIOError:
                return
            if not chunk:
                self._pipe_open = False
                self._poller.unregister(self._fd)
                return
            self.capture.feed(chunk)

    def _exited(self) -> bool:
        # WNOWAIT: leave the child a zombie so its pid, and so its group id, stays reserved.
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        return os.waitid(os.P_PID, self._pid, flags) is not None


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
