"""Claim sizing: idle threads always get work; short runs are claimed ahead, within a bound on
how long a claimed run waits for a thread; long or untimed runs are never claimed ahead."""

from __future__ import annotations

import pytest

from trax.workers.claim_sizing import ClaimSizer


def test_until_a_run_was_timed_only_idle_threads_are_filled() -> None:
    sizer = ClaimSizer(4)

    assert sizer.ahead() == 0
    assert sizer.limit(running=0, waiting=0) == 4
    assert sizer.limit(running=3, waiting=0) == 1
    assert sizer.limit(running=4, waiting=0) == 0


def test_short_runs_are_claimed_ahead_as_many_as_finish_within_the_wait_bound() -> None:
    sizer = ClaimSizer(2, max_wait=0.01, max_ahead=64)
    sizer.observe(0.001)  # 1 ms a run: two threads finish 20 in 10 ms

    assert sizer.ahead() == 20
    assert sizer.limit(running=0, waiting=0) == 22


def test_claims_ahead_are_capped() -> None:
    sizer = ClaimSizer(2, max_wait=0.01, max_ahead=64)
    sizer.observe(0.000_01)

    assert sizer.ahead() == 64


def test_runs_longer_than_the_wait_bound_are_not_claimed_ahead() -> None:
    sizer = ClaimSizer(4, max_wait=0.01)
    sizer.observe(5.0)

    assert sizer.ahead() == 0
    assert sizer.limit(running=4, waiting=0) == 0
    assert sizer.limit(running=2, waiting=0) == 2


def test_the_mean_follows_the_durations_seen() -> None:
    sizer = ClaimSizer(2, max_wait=0.01)
    sizer.observe(0.001)
    for _ in range(200):  # the work turned slow: claiming ahead stops
        sizer.observe(1.0)

    assert sizer.ahead() == 0


def test_a_half_full_buffer_waits_but_starving_threads_never_do() -> None:
    sizer = ClaimSizer(2, max_wait=0.01, max_ahead=64)
    sizer.observe(0.000_1)  # ahead = 64

    # 40 runs still wait for the two busy threads: not worth a round trip yet.
    assert sizer.limit(running=2, waiting=40) == 0
    # The buffer ran below half: top it up.
    assert sizer.limit(running=2, waiting=20) == 44
    # A thread is idle and nothing waits: claim at once, however little the room.
    assert sizer.limit(running=1, waiting=0) == 65


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency must be >= 1; got 0"):
        ClaimSizer(0)
