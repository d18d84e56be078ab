"""Properties of the state machine graph: rollback, lock release, retries, bounded loops."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from cfcd_common.errors import WORKFLOW_ERROR_NAMES
from cfcd_common.formatting import ROLLBACK_NOTE
from tests.unit.conftest import load_asl

pytestmark = pytest.mark.unit

STATES: dict[str, dict[str, Any]] = load_asl()["States"]
ENABLE = "EnableContinuousDeployment"
ROLLBACK = "DisableContinuousDeployment"
LAMBDA_TRANSIENT = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def function_of(name: str) -> str | None:
    state = STATES[name]
    if state["Type"] != "Task":
        return None
    return str(state["Parameters"]["FunctionName"]).removeprefix("${").removesuffix("FunctionArn}")


RELEASES = {name for name in STATES if function_of(name) == "ReleaseLock"}
ROLLBACK_CHECK = "CheckRollback"
CLEANUP = RELEASES | {ROLLBACK, ROLLBACK_CHECK}
# Runs after the promotion: its failure must neither roll back nor skip the invalidation; it is
# kept apart and ends the release as OriginPathNotRecorded (its own test below).
RECORD_ORIGIN_PATH = "RecordOriginPath"


def success_edges(name: str) -> list[str]:
    state = STATES[name]
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [state["Default"]] if "Default" in state else []
    return targets


def catch_edges(name: str) -> list[str]:
    return [catcher["Next"] for catcher in STATES[name].get("Catch", [])]


def reachable(starts: Iterable[str], edges: Any, avoid: frozenset[str] | set[str] = frozenset()) -> set[str]:
    seen: set[str] = set()
    todo = [start for start in starts if start not in avoid]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [target for target in edges(name) if target not in avoid and target not in seen]
    return seen


def all_edges(name: str) -> list[str]:
    return success_edges(name) + catch_edges(name)


def first_non_pass(name: str) -> str:
    while STATES[name]["Type"] == "Pass":
        name = STATES[name]["Next"]
    return name


def is_ending(name: str) -> bool:
    state = STATES[name]
    return state["Type"] in {"Succeed", "Fail"} or bool(state.get("End"))


def test_every_state_is_reachable() -> None:
    assert reachable([load_asl()["StartAt"]], all_edges) == set(STATES)


def test_every_task_after_enabling_the_policy_rolls_back_on_any_failure() -> None:
    # Given every Task on the way from EnableContinuousDeployment to the end of a release
    after_enable = reachable([ENABLE], success_edges, avoid=CLEANUP)
    tasks = [name for name in after_enable if STATES[name]["Type"] == "Task" and name != RECORD_ORIGIN_PATH]
    assert {ENABLE, "RequestApproval", "Promote", "VerifyPrimary"} <= set(tasks)
    for name in tasks:
        # Then States.ALL is caught and every catcher leads to the rollback through no other Task
        catchers = STATES[name].get("Catch", [])
        assert any("States.ALL" in c["ErrorEquals"] for c in catchers), f"{name} lets a failure through"
        for catcher in catchers:
            assert first_non_pass(catcher["Next"]) == ROLLBACK, f"{name}: {catcher} skips the rollback"


def test_approval_timeout_and_rejection_roll_back_with_their_own_error_names() -> None:
    catchers = {tuple(c["ErrorEquals"]): c for c in STATES["RequestApproval"]["Catch"]}
    timed_out = STATES[catchers[("States.Timeout",)]["Next"]]
    assert timed_out["Type"] == "Pass" and timed_out["Parameters"]["Error"] == "ApprovalTimedOut"
    assert timed_out["ResultPath"] == "$.error" and timed_out["Next"] == ROLLBACK
    assert catchers[("DeploymentRejected",)]["Next"] == ROLLBACK
    assert STATES["RequestApproval"]["TimeoutSecondsPath"] == "$.approval.timeoutSeconds"


def test_every_ending_after_acquiring_the_lock_passes_through_release_lock() -> None:
    # Given every state after a successful AcquireLock, walking success and Catch edges
    after_lock = reachable(success_edges("AcquireLock"), all_edges)
    assert after_lock >= RELEASES
    # When the ReleaseLock states are taken out of the graph
    without_release = reachable(success_edges("AcquireLock"), all_edges, avoid=RELEASES)
    # Then no ending is left
    assert [name for name in without_release if is_ending(name)] == []
    # And no Task in between can fail past a Catch, no Choice can fall through
    for name in without_release:
        state = STATES[name]
        if state["Type"] == "Task":
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name
        if state["Type"] == "Choice":
            assert "Default" in state, name


def test_the_original_error_survives_rollback_and_is_the_executions_error() -> None:
    for name, state in STATES.items():
        for catcher in state.get("Catch", []):
            # The first failure lands in $.error; failures while cleaning up go elsewhere.
            expected = "$.error" if name not in CLEANUP | {RECORD_ORIGIN_PATH} else None
            if expected:
                assert catcher["ResultPath"] == expected, name
            else:
                assert catcher["ResultPath"] != "$.error", name
        if state["Type"] == "Task" and name in CLEANUP:
            assert state.get("ResultPath") != "$.error"
    failed = STATES["DeploymentFailed"]
    assert failed["Type"] == "Fail"
    assert (failed["ErrorPath"], failed["CausePath"]) == ("$.error.Error", "$.error.Cause")


def test_every_task_retries_named_transient_errors_with_backoff() -> None:
    for name, state in STATES.items():
        if state["Type"] != "Task":
            continue
        retriers = state.get("Retry", [])
        named = {error for retrier in retriers for error in retrier["ErrorEquals"]}
        assert "States.ALL" not in named, name
        assert LAMBDA_TRANSIENT | {"TransientAwsError"} <= named, name
        for retrier in retriers:
            assert retrier["BackoffRate"] > 1 and retrier["MaxAttempts"] >= 2, name


def strongly_connected(names: list[str]) -> list[set[str]]:
    loops = []
    for name in names:
        component = {
            other for other in reachable([name], success_edges) if name in reachable([other], success_edges)
        }
        if len(component) > 1 and component not in loops:
            loops.append(component)
    return loops


def test_every_loop_has_a_deadline_and_waits_as_long_as_the_input_says() -> None:
    loops = strongly_connected(list(STATES))
    # stack, Deployed, probe, promotion, starting the invalidation, invalidation, rollback Deployed,
    # and the progressive steps (each step's Deployed wait and its bake, which ends with the bake
    # or at timing.probeTimeoutSeconds: cfcd_common.progressive)
    assert len(loops) == 8
    for loop in loops:
        deadline_checks = [
            name
            for name in loop
            if STATES[name]["Type"] == "Task" and "deadline.$" in STATES[name]["Parameters"]["Payload"]
        ]
        assert deadline_checks, f"loop without a deadline: {sorted(loop)}"
        waits = [STATES[name] for name in loop if STATES[name]["Type"] == "Wait"]
        assert waits and all("SecondsPath" in wait and "Seconds" not in wait for wait in waits), loop


def holds_on_a_happy_path(rule: dict[str, Any], facts: dict[str, Any]) -> bool:
    """Does a Choice rule hold when every check passes at once, for these input facts?"""
    if "And" in rule:
        return all(holds_on_a_happy_path(condition, facts) for condition in rule["And"])
    variable = rule["Variable"]
    if "StringEquals" in rule:
        return bool(facts[variable] == rule["StringEquals"])
    if "IsNull" in rule:  # optional fields a happy release leaves out
        return (facts.get(variable) is None) is bool(rule["IsNull"])
    return bool(rule["BooleanEquals"])  # done / ready: true at the first check


def happy_path(mode: str, approval: str = "manual") -> list[str]:
    """States a release enters when every check succeeds at the first try."""
    facts = {"$.staging.mode": mode, "$.approval.mode": approval, "$.promotion.originPathParameter": None}
    path, name = [], load_asl()["StartAt"]
    while True:
        path.append(name)
        state = STATES[name]
        if is_ending(name):
            return path
        if state["Type"] == "Choice":
            held = (rule["Next"] for rule in state["Choices"] if holds_on_a_happy_path(rule, facts))
            name = next(held, state["Default"])  # Step Functions takes the first rule that holds
        else:
            name = state["Next"]


def test_a_happy_release_takes_few_transitions() -> None:
    copy_path = happy_path("copy")
    assert copy_path[-1] == "ReleaseLock"
    assert {ENABLE, "ProbeStaging", "RequestApproval", "Promote", "InvalidateCache", "VerifyPrimary"} <= set(
        copy_path
    )
    assert len(copy_path) <= 20, copy_path
    # Stack mode adds its own wait (CheckStack and its Choice).
    assert len(happy_path("stack")) <= len(copy_path) + 2
    # Automatic approval skips RequestApproval and nothing else.
    assert happy_path("copy", approval="auto") == [name for name in copy_path if name != "RequestApproval"]


def test_every_state_has_a_comment_for_the_console() -> None:
    assert [name for name, state in STATES.items() if not state.get("Comment")] == []


def test_every_failure_ends_with_a_cfcd_error_name() -> None:
    # Given the Choice in front of DeploymentFailed
    named = STATES["NamedError?"]
    listed = {rule["StringEquals"] for rule in named["Choices"][0]["Or"]}
    # Then it lets exactly the cfcd names through and renames everything else UnexpectedError
    assert listed == set(WORKFLOW_ERROR_NAMES)
    assert named["Choices"][0]["Next"] == "DeploymentFailed"
    assert STATES[named["Default"]]["Parameters"]["Error"] == "UnexpectedError"
    # And every path to DeploymentFailed passes through it
    into_failed = [name for name in STATES if "DeploymentFailed" in all_edges(name)]
    assert into_failed == ["NamedError?", "UnexpectedError"]
    # And a failed rollback is named as such, keeping the release's error in the cause
    assert catch_edges(ROLLBACK) == ["RollbackFailed"]
    assert STATES["RollbackFailed"]["Parameters"]["Error"] == "RollbackFailed"


def test_a_rollback_ends_only_once_the_primary_is_deployed_with_the_policy_off() -> None:
    # Given the rollback: the policy disabled, then the primary checked until Deployed
    assert STATES[ROLLBACK]["Next"] == ROLLBACK_CHECK
    check = STATES[ROLLBACK_CHECK]
    assert function_of(ROLLBACK_CHECK) == "CheckDeployed"
    assert check["Parameters"]["Payload"]["distributionIds.$"] == "States.Array($.primaryDistributionId)"
    assert check["Parameters"]["Payload"]["deadline.$"] == "$.rollback.deadline"
    # Then the lock is freed (and the execution ends) only after the check saw it Deployed, or
    # after the check gave up, which the cause then says
    rollback_path = reachable([ROLLBACK], success_edges, avoid=RELEASES)
    into_release = {name for name in rollback_path if set(success_edges(name)) & RELEASES}
    assert into_release == {"RollbackComplete"}
    [gave_up] = catch_edges(ROLLBACK_CHECK)
    assert STATES[gave_up]["Next"] in RELEASES
    for note in ("RollbackComplete", gave_up):
        state = STATES[note]
        # The release's error name stays, its cause gains the note the status mail and CLI read
        assert state["Parameters"]["Error.$"] == "$.error.Error" and state["ResultPath"] == "$.error"
        assert state["Parameters"]["Cause.$"].startswith(f"States.Format('{{}}{ROLLBACK_NOTE}")


def test_a_failed_origin_path_record_is_noted_and_the_promoted_release_goes_on() -> None:
    # Given the write of promotion.originPathParameter, right after every promotion
    assert STATES["Promote"]["Next"] == "RecordOriginPath?"
    choice = STATES["RecordOriginPath?"]
    assert choice["Choices"][0] == {
        "Variable": "$.promotion.originPathParameter",
        "IsNull": True,
        "Next": "CheckPromotion",
    }
    assert choice["Default"] == RECORD_ORIGIN_PATH
    assert STATES[RECORD_ORIGIN_PATH]["Next"] == "CheckPromotion"
    # Then its failure neither rolls back nor skips invalidating and verifying: it is noted where
    # the record goes, for the warning, and the release goes on
    [catcher] = STATES[RECORD_ORIGIN_PATH]["Catch"]
    assert catcher["ErrorEquals"] == ["States.ALL"]
    noted = STATES[catcher["Next"]]
    assert catcher["ResultPath"] == noted["ResultPath"] == STATES[RECORD_ORIGIN_PATH]["ResultPath"]
    assert noted["Type"] == "Pass" and noted["Parameters"]["recorded"] is False
    assert noted["Next"] == "CheckPromotion"
