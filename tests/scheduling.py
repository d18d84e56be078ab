"""The order in which pytest-xdist hands out the work of `make test` (see tests/conftest.py).

A release test (e2e, faults, statemachine) mostly waits on its local cloud: propagation, polls,
bakes. A unit test keeps a core busy. xdist hands out the module batches first, biggest first,
then every single test in file order: so the single release tests all ran at once, in the middle
of the run, and the CPU sat a third idle for a minute while the single unit tests waited behind
them. The batches keep xdist's order; the single release tests are spread evenly over the first
part of the single unit tests, and the run ends on unit tests, which leave no long tail.
"""

from __future__ import annotations

from collections.abc import Sequence

RELEASE_TEST_DIRS = ("tests/e2e/", "tests/faults/", "tests/statemachine/")
# The release tests are spread over this share of the unit tests, the rest run after them.
SPREAD_OVER = 0.75


def is_release_test(scope: str) -> bool:
    return scope.startswith(RELEASE_TEST_DIRS)


def work_order(scopes: Sequence[str], sizes: dict[str, int]) -> list[str]:
    """``scopes`` (xdist's work units, in its order; ``sizes``: tests in each) in the order to hand
    them out: the batches, then the single unit tests with the single release tests among them."""
    batches = [scope for scope in scopes if sizes[scope] > 1]
    releases = [scope for scope in scopes if sizes[scope] == 1 and is_release_test(scope)]
    units = [scope for scope in scopes if sizes[scope] == 1 and not is_release_test(scope)]
    return batches + spread(releases, units, SPREAD_OVER)


def spread(few: Sequence[str], many: Sequence[str], over: float) -> list[str]:
    """``many`` in order, with ``few`` (in order) placed at even steps over its first ``over`` share."""
    span = max(1, round(len(many) * over))
    step = span / len(few) if few else 0.0
    order: list[str] = []
    placed = 0
    for index, scope in enumerate(many):
        while placed < len(few) and placed * step <= index:
            order.append(few[placed])
            placed += 1
        order.append(scope)
    return order + list(few[placed:])
