"""The order in which `make test`'s workers are handed their work (tests/scheduling.py)."""

from __future__ import annotations

import pytest

from tests.scheduling import spread, work_order

pytestmark = pytest.mark.unit


def test_batches_keep_their_order_and_single_release_tests_are_spread_over_the_single_unit_tests() -> None:
    # Given xdist's work units: batches by size, then single tests in file order
    units = {
        "tests/unit/local/test_edge.py": 56,
        "tests/faults/test_bad_inputs.py": 37,
        "tests/faults/test_lost_responses.py": 21,
        "tests/e2e/test_demo.py::test_story": 1,
        "tests/e2e/test_scenarios.py::test_timeout": 1,
        "tests/statemachine/test_release.py::test_header": 1,
        **{f"tests/unit/test_task.py::test_{number}": 1 for number in range(8)},
    }

    # When they are put in the order to hand them out
    order = work_order(list(units), units)

    # Then the batches come first as xdist put them, and the single release tests sit among the
    # single unit tests, one every two, within their first three quarters
    assert order == [
        "tests/unit/local/test_edge.py",
        "tests/faults/test_bad_inputs.py",
        "tests/faults/test_lost_responses.py",
        "tests/e2e/test_demo.py::test_story",
        "tests/unit/test_task.py::test_0",
        "tests/unit/test_task.py::test_1",
        "tests/e2e/test_scenarios.py::test_timeout",
        "tests/unit/test_task.py::test_2",
        "tests/unit/test_task.py::test_3",
        "tests/statemachine/test_release.py::test_header",
        *[f"tests/unit/test_task.py::test_{number}" for number in range(4, 8)],
    ]


@pytest.mark.parametrize(("few", "many"), [(0, 5), (3, 0), (5, 2), (7, 7)])
def test_spreading_keeps_every_unit_once_and_each_list_in_its_order(few: int, many: int) -> None:
    # Given two lists, When the first is spread over the second
    firsts = [f"f{number}" for number in range(few)]
    seconds = [f"s{number}" for number in range(many)]
    order = spread(firsts, seconds, 0.75)

    # Then every unit is there once, each list in its own order
    assert sorted(order) == sorted(firsts + seconds)
    assert [scope for scope in order if scope.startswith("f")] == firsts
    assert [scope for scope in order if scope.startswith("s")] == seconds
