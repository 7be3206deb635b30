"""Background delivery workers: a pool of threads over one bounded queue, where jobs with
the same key run one at a time, in submission order.

GitHub delivers asynchronously, concurrently, and never inside the request that caused an
event. Any free worker takes the oldest job of a key no other worker is running, so a slow
receiver for one repository holds up only that repository's later webhooks, each repository's
webhooks still arrive in causal order, and a burst across many repositories is delivered by
every worker at once. The queue is bounded: past `limit` jobs waiting, the caller (the request
that caused the event) waits for room instead of the simulator growing without end.

`queue.Queue` has no per-key ordering and `concurrent.futures` no bound, hence this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]

WORKERS = 8
LIMIT = 10_000


class DeliveryPool:
    def __init__(self, workers: int = WORKERS, limit: int = LIMIT) -> None:
        self._workers = workers
        self._limit = limit
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # a key became ready, or stopping
        self._room = threading.Condition(self._lock)  # a job finished
        self._idle = threading.Condition(self._lock)  # nothing is pending any more
        # A key is in `_jobs` while it has a job waiting or running, and in `_ready` while
        # it has a job waiting and none running.
        self._jobs: dict[int, deque[Job]] = {}
        self._ready: deque[int] = deque()
        self._pending = 0  # submitted and not finished
        self.stopping = threading.Event()

    def _start(self) -> None:
        # Started on first use, so simulators that never deliver own no threads.
        for n in range(self._workers):
            thread = threading.Thread(target=self._run, name=f"shoal-sim-webhooks-{n}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def submit(self, key: int, job: Job) -> None:
        """Queue `job` after every job of `key` submitted before it; waits while the queue
        is full."""
        with self._lock:
            while self._pending >= self._limit and not self.stopping.is_set():
                self._room.wait()
            if self.stopping.is_set():
                return
            if not self._threads:
                self._start()
            self._pending += 1
            queued = self._jobs.get(key)
            if queued is None:
                self._jobs[key] = deque([job])
                self._ready.append(key)
                self._work.notify()
            else:
                queued.append(job)  # runs once the key's earlier jobs are done

    def _take(self) -> tuple[int, Job] | None:
        with self._lock:
            while not self._ready and not self.stopping.is_set():
                self._work.wait()
            if self.stopping.is_set():
                return None
            key = self._ready.popleft()
            return key, self._jobs[key].popleft()

    def _done(self, key: int) -> None:
        with self._lock:
            self._pending -= 1
            self._room.notify()
            if self._jobs[key]:
                self._ready.append(key)
                self._work.notify()
            else:
                del self._jobs[key]
            if self._pending == 0:
                self._idle.notify_all()

    def _run(self) -> None:
        while (taken := self._take()) is not None:
            key, job = taken
            try:
                job()
            except Exception:
                log.exception("webhook delivery job failed")
            finally:
                self._done(key)

    def wait_idle(self, timeout: float) -> bool:
        """True once every submitted job has finished; False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return True

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def close(self, timeout: float = 5.0) -> None:
        """Stop: running jobs finish (within `timeout`), waiting ones are dropped."""
        with self._lock:
            self.stopping.set()
            self._work.notify_all()
            self._room.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
