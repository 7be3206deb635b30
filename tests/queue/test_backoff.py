"""Backoff: the exponential ceiling, its cap, and full jitter below it."""

from __future__ import annotations

import random

import pytest

from shoal.domain.backoff import Backoff


class _FixedDraw(random.Random):
    """A generator whose every draw is `value`, to pin the jitter."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self._value = value

    def random(self) -> float:
        return self._value


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "ceiling"),
    [
        (1, 2.0, 600.0, 2.0),
        (2, 2.0, 600.0, 4.0),
        (5, 2.0, 600.0, 32.0),
        (9, 2.0, 600.0, 512.0),
        (10, 2.0, 600.0, 600.0),
        (50, 2.0, 600.0, 600.0),
        (10_000, 2.0, 600.0, 600.0),
        (0, 2.0, 600.0, 2.0),
        (3, 0.5, 1.0, 1.0),
    ],
    ids=[
        "first-retry-is-base",
        "second-doubles",
        "fifth",
        "just-below-cap",
        "reaches-cap",
        "stays-capped",
        "huge-attempt-does-not-overflow",
        "attempt-zero-counts-as-first",
        "small-cap",
    ],
)
def test_ceiling_grows_exponentially_up_to_the_cap(
    attempt: int, base: float, cap: float, ceiling: float
) -> None:
    assert Backoff(base, cap, random.Random(1)).ceiling_s(attempt) == ceiling


@pytest.mark.parametrize(
    ("draw", "expected"),
    [(0.0, 0.0), (0.25, 8.0), (0.5, 16.0), (0.999, 31.968)],
    ids=["lowest-draw-retries-now", "quarter", "half", "highest-draw-near-ceiling"],
)
def test_jitter_scales_the_ceiling_by_the_draw(draw: float, expected: float) -> None:
    assert Backoff(2.0, 600.0, _FixedDraw(draw)).delay_s(5) == pytest.approx(expected)


def test_jittered_delays_stay_within_bounds_and_spread_out() -> None:
    backoff = Backoff(1.0, 30.0, random.Random(42))
    for attempt in range(1, 40):
        ceiling = backoff.ceiling_s(attempt)
        delays = [backoff.delay_s(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # Full jitter: retries of tasks that failed together do not come back in step.
        assert min(delays) < 0.1 * ceiling
        assert max(delays) > 0.9 * ceiling


@pytest.mark.parametrize(
    ("base", "cap"), [(0.0, 10.0), (1.0, 0.0), (-1.0, 10.0)], ids=["zero-base", "zero-cap", "neg"]
)
def test_rejects_non_positive_settings(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        Backoff(base, cap, random.Random(1))
