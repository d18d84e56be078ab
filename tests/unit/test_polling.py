"""The wait loops' interval: pollSeconds first, then a quarter of the time waited, at most two hours."""

from __future__ import annotations

import pytest

from cfcd_common.polling import MAX_INTERVAL_SECONDS, PolledCheck, next_wait_seconds

pytestmark = pytest.mark.unit

DAY = 86_400


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (0, 5),  # the first wait is pollSeconds
        (20, 5),  # a quarter of 20 s is below pollSeconds
        (30, 8),  # a quarter of 30 s, rounded up
        (400, 100),
        (995, 5),  # never past the deadline: the last check runs at it
        (1000, 1),
    ],
)
def test_the_interval_stretches_with_the_time_waited_and_never_passes_the_deadline(
    now: int, expected: int
) -> None:
    assert next_wait_seconds(poll_seconds=5, timeout_seconds=1000, deadline=1000, now=now) == expected


def test_the_interval_is_at_most_two_hours_unless_poll_seconds_is_longer() -> None:
    ten_hours_in = 10 * 3600
    assert next_wait_seconds(1, DAY, deadline=DAY, now=ten_hours_in) == MAX_INTERVAL_SECONDS == 7200
    assert next_wait_seconds(9000, 2 * DAY, deadline=2 * DAY, now=ten_hours_in) == 9000


def test_a_check_times_out_at_its_deadline_and_paces_from_the_loops_start() -> None:
    # Given a check of a loop that started at 1,000 with 600 s to go
    check = PolledCheck(executionArn="arn", pollSeconds=2, timeoutSeconds=600, deadline=1600)
    # Then 200 s in, the next check is 50 s away; at the deadline the loop is over
    assert check.next_wait_seconds(1200) == 50
    assert (check.timed_out(1599), check.timed_out(1600)) == (False, True)
