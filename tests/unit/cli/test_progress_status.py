"""`cfcd status` of a progressive release: the step, its weight, the bake left, the latest analysis."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cfcd.cli.render import render
from cfcd.client.execution_view import build_view

pytestmark = pytest.mark.unit

DEFINITION = json.loads((Path(__file__).parents[3] / "statemachine" / "deployment.asl.json").read_text())
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
BAKE_STARTED = int(T0.timestamp()) + 100
EXECUTION = {
    "executionArn": "arn:aws:states:us-east-1:1:execution:cfcd:r1",
    "name": "r1",
    "status": "RUNNING",
    "startDate": T0,
}


def exited(name: str, output: dict[str, Any], seconds: int) -> dict[str, Any]:
    return {
        "type": "TaskStateExited",
        "timestamp": T0 + timedelta(seconds=seconds),
        "stateExitedEventDetails": {"name": name, "output": json.dumps(output)},
    }


def progress(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"progress": {"stepCount": 3, "current": len(steps) - 1, "done": False, "steps": steps}}


FIRST_PASSED = {
    "number": 1,
    "weight": 0.01,
    "bakeSeconds": 60,
    "startedAt": BAKE_STARTED - 100,
    "bakeStartedAt": BAKE_STARTED - 90,
    "passedAt": BAKE_STARTED - 30,
}
SECOND_BAKING = {
    "number": 2,
    "weight": 0.05,
    "bakeSeconds": 300,
    "startedAt": BAKE_STARTED - 10,
    "bakeStartedAt": BAKE_STARTED,
    "analyses": [
        {
            "at": 0,
            "stagingRequests": 0,
            "stagingErrorRate": 0.0,
            "primaryRequests": 0,
            "primaryErrorRate": 0.0,
        },
        {
            "at": 120,
            "stagingRequests": 412,
            "stagingErrorRate": 0.0024,
            "primaryRequests": 7830,
            "primaryErrorRate": 0.0011,
        },
    ],
}


def test_a_baking_step_shows_its_weight_the_bake_left_and_both_error_rates() -> None:
    # Given a release in its second step's bake, analysed 120 s in; the first step passed
    events = [
        exited("ValidateInput", progress([]), 1),
        exited("AnalyseStep", progress([FIRST_PASSED, {**SECOND_BAKING, "analyses": []}]), 101),
        exited("AnalyseStep", progress([FIRST_PASSED, SECOND_BAKING]), 221),
    ]
    # When it is shown 130 s into the bake
    view = build_view(DEFINITION, EXECUTION, events, now=datetime.fromtimestamp(BAKE_STARTED + 130, UTC))
    # Then the latest progress is the one shown, as a line and in the JSON
    text = render(view, colour=False)
    assert (
        "progressive: step 2 of 3, weight 0.05: baking, 2m 50s left; 5xx staging 0.24 % of 412 requests, "
        "primary 0.11 % of 7830 (last 120 s)"
    ) in text
    shown = view.model_dump(mode="json")["progress"]
    assert (shown["step"], shown["steps"], shown["weight"], shown["state"], shown["passed"]) == (
        2,
        3,
        0.05,
        "baking",
        1,
    )
    assert shown["bake_seconds_left"] == 170
    assert shown["latest"]["stagingErrorRate"] == 0.0024 and shown["latest"]["primaryRequests"] == 7830


def test_a_step_waiting_for_its_weight_to_deploy_and_a_release_without_steps() -> None:
    deploying = {**SECOND_BAKING, "bakeStartedAt": None, "analyses": []}
    view = build_view(
        DEFINITION, EXECUTION, [exited("SetStepWeight", progress([FIRST_PASSED, deploying]), 100)]
    )
    assert view.progress is not None and view.progress.state == "deploying"
    assert "progressive: step 2 of 3, weight 0.05: deploying" in render(view, colour=False)
    # A release without steps shows no progress line (ValidateInput's empty progress is not one)
    plain = build_view(DEFINITION, EXECUTION, [exited("ValidateInput", progress([]), 1)])
    assert plain.progress is None and "progressive" not in render(plain, colour=False)
