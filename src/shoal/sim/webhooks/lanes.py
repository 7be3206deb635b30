"""Background delivery workers: jobs with the same key run in submission order.

GitHub delivers asynchronously and never inside the request that caused an event. A few
lanes, each one thread with a FIFO queue, keep each repository's webhooks in causal order
while a slow receiver for one repository does not hold up every other one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]


class Lanes:
    def __init__(self, count: int = 4) -> None:
        self._count = count
        self._queues: list[queue.Queue[Job | None]] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self.stopping = threading.Event()

    def _start(self) -> None:
        # Started on first use, so simulators that never deliver own no threads.
        for n in range(self._count):
            q: queue.Queue[Job | None] = queue.Queue()
            thread = threading.Thread(
                target=self._run, args=(q,), name=f"shoal-sim-webhooks-{n}", daemon=True
            )
            self._queues.append(q)
            self._threads.append(thread)
            thread.start()

    def submit(self, key: int, job: Job) -> None:
        with self._lock:
            if self.stopping.is_set():
                return
            if not self._threads:
                self._start()
            self._pending += 1
            lane = self._queues[key % self._count]
        lane.put(job)

    def _run(self, q: queue.Queue[Job | None]) -> None:
        while (job := q.get()) is not None:
            try:
                job()
            except Exception:
                log.exception("webhook delivery job failed")
            finally:
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once every submitted job has finished; False if ``timeout`` passed first."""
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
        with self._lock:
            self.stopping.set()
            threads, queues = list(self._threads), list(self._queues)
        for q in queues:
            q.put(None)
        for thread in threads:
            thread.join(timeout)
