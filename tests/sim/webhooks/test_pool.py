"""The delivery pool: each key's jobs in order, different keys at once, a bounded queue."""

from __future__ import annotations

import threading
import time

from shoal_sim.webhooks.pool import DeliveryPool


def test_keys_run_in_order_and_side_by_side() -> None:
    pool = DeliveryPool(workers=4)
    seen: dict[int, list[int]] = {0: [], 1: [], 2: [], 3: []}
    running = 0
    most = 0
    lock = threading.Lock()

    def job(key: int, n: int) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.002)
        seen[key].append(n)
        with lock:
            running -= 1

    try:
        for n in range(40):
            for key in seen:
                pool.submit(key, lambda key=key, n=n: job(key, n))
        assert pool.wait_idle(10)
    finally:
        pool.close()
    assert all(order == list(range(40)) for order in seen.values())
    assert most > 1  # four keys, four workers: more than one job ran at a time
    assert pool.pending == 0


def test_one_key_never_runs_twice_at_once() -> None:
    pool = DeliveryPool(workers=4)
    inside = threading.Lock()
    overlaps = 0

    def job() -> None:
        nonlocal overlaps
        if not inside.acquire(blocking=False):
            overlaps += 1
            return
        time.sleep(0.001)
        inside.release()

    try:
        for _ in range(50):
            pool.submit(7, job)
        assert pool.wait_idle(10)
    finally:
        pool.close()
    assert overlaps == 0


def test_a_full_queue_makes_the_caller_wait() -> None:
    pool = DeliveryPool(workers=1, limit=2)
    gate = threading.Event()
    pool.submit(1, gate.wait)
    pool.submit(2, lambda: None)
    third = threading.Thread(target=pool.submit, args=(3, lambda: None))
    try:
        third.start()
        third.join(0.2)
        assert third.is_alive()  # two jobs pending: no room until one finishes
        gate.set()
        third.join(5)
        assert not third.is_alive()
        assert pool.wait_idle(5)
    finally:
        gate.set()
        pool.close()


def test_a_failing_job_does_not_stop_its_key() -> None:
    pool = DeliveryPool(workers=2)
    ran: list[str] = []

    def fail() -> None:
        raise RuntimeError("boom")

    try:
        pool.submit(1, fail)
        pool.submit(1, lambda: ran.append("next"))
        assert pool.wait_idle(5)
    finally:
        pool.close()
    assert ran == ["next"]
