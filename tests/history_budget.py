"""The most history events a release can write, worked out from the state machine definition.

Step Functions ends an execution at its 25,000th history event, past every Catch
(cfcd.local.stepfunctions_quotas enforces it on the local cloud). The model walks the ASL:

- Events per state visit, as an execution history shows them (tests/faults/test_quotas.py
  measures them on the local cloud): a Task (``lambda:invoke``) writes TaskStateEntered,
  TaskScheduled, TaskStarted, TaskSucceeded or TaskFailed, TaskStateExited; a
  ``.waitForTaskToken`` Task also TaskSubmitted. Each retry adds TaskFailed, TaskScheduled,
  TaskStarted (and TaskSubmitted); a Task may retry the sum of its retriers' MaxAttempts. Choice,
  Wait and Pass write entered and exited; Fail writes FailStateEntered. The execution adds
  ExecutionStarted and how it ended.
- A wait loop (a cycle: its check Task, a Choice, a Wait) runs its check at most
  :func:`max_checks` times: the Wait must read the check's ``nextWaitSeconds``
  (cfcd_common.polling), and the check names the ``timing`` fields that pace it
  (``pollSeconds.$``, ``timeoutSeconds.$``). A loop whose Wait waits anything else is refused.
  A bake loop (its check takes ``analysis.$``) waits ``analysis.intervalSeconds``, unstretched;
  the contract bounds its checks instead (``models.MAX_ANALYSES_PER_STEP``).
- A cycle through several wait loops (the steps of a progressive release) is entered through one
  state and runs once per item of the contract list its Task iterates (``steps.$``), at most
  that list's contract bound; inside it, without its way back to the entry, only wait loops.
- The release's worst case is the longest path from StartAt to an end over success and Catch
  edges, each loop counted once at its worst (a cycle of steps: each step at its worst), plus
  the execution's two events.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import annotated_types

from cfcd.local.faults import STEP_FUNCTIONS_HISTORY_LIMIT
from cfcd_common.models import MAX_ANALYSES_PER_STEP, MAX_STEPS, Timing
from cfcd_common.polling import next_wait_seconds

HISTORY_LIMIT = STEP_FUNCTIONS_HISTORY_LIMIT
TASK_EVENTS = 5
CALLBACK_TASK_EVENTS = 6
RETRY_EVENTS = 3
CALLBACK_RETRY_EVENTS = 4
STATE_EVENTS = {"Choice": 2, "Wait": 2, "Pass": 2, "Fail": 1, "Succeed": 2}
EXECUTION_EVENTS = 2
DEFAULT_MAX_ATTEMPTS = 3  # ASL's MaxAttempts when a retrier leaves it out
CALLBACK = ".waitForTaskToken"
NEXT_WAIT = "nextWaitSeconds"
BAKE = "analysis.$"  # the check of a bake loop takes the release's analysis settings
STEPS = "steps.$"  # the Task a cycle of steps runs once per step takes the list

Definition = Mapping[str, Any]


class UnpacedLoop(AssertionError):
    """A wait loop whose Wait does not take its time from its check: its history is unbounded."""


def contract_timing() -> dict[str, int]:
    """The timing the contract allows that writes the most: the shortest poll, the longest timeouts,
    the most steps.

    Keyed by the path a Task's Parameters read them from (``$.timing.pollSeconds``,
    ``$.traffic.steps``).
    """
    timing = {}
    for name, field in Timing.model_fields.items():
        bounds = {type(rule): rule for rule in field.metadata}
        if name == "pollSeconds":
            timing[f"$.timing.{name}"] = int(bounds[annotated_types.Ge].ge)
        else:
            timing[f"$.timing.{name}"] = int(bounds[annotated_types.Le].le)
    timing["$.traffic.steps"] = MAX_STEPS
    return timing


@cache
def max_checks(poll_seconds: int, timeout_seconds: int) -> int:
    """The most checks one wait loop makes: every check and wait ends at once (slower ones only
    push the loop further along its stretched schedule, so they check less)."""
    now, checks = 0, 1
    while now < timeout_seconds:
        now += next_wait_seconds(poll_seconds, timeout_seconds, timeout_seconds, now)
        checks += 1
    return checks


def retries(state: Mapping[str, Any]) -> int:
    return sum(int(retrier.get("MaxAttempts", DEFAULT_MAX_ATTEMPTS)) for retrier in state.get("Retry", []))


def state_events(state: Mapping[str, Any], with_retries: bool = True) -> int:
    """The most events one visit of ``state`` writes."""
    if state["Type"] != "Task":
        return STATE_EVENTS[state["Type"]]
    callback = str(state["Resource"]).endswith(CALLBACK)
    tries = retries(state) if with_retries else 0
    if callback:
        return CALLBACK_TASK_EVENTS + tries * CALLBACK_RETRY_EVENTS
    return TASK_EVENTS + tries * RETRY_EVENTS


def success_edges(state: Mapping[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    return targets + ([state["Default"]] if "Default" in state else [])


def all_edges(state: Mapping[str, Any]) -> list[str]:
    return success_edges(state) + [catcher["Next"] for catcher in state.get("Catch", [])]


def _cycles(states: Mapping[str, Any], names: Collection[str]) -> list[frozenset[str]]:
    """The cycles (states of ``names`` reaching each other, two or more) over success edges between
    ``names``, in the definition's order."""

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += [target for target in success_edges(states[name]) if target in names]
        return seen

    found: list[frozenset[str]] = []
    for name in (name for name in states if name in names):
        cycle = frozenset(other for other in reachable(name) if name in reachable(other))
        if len(cycle) >= 2 and cycle not in found:
            found.append(cycle)
    return found


@dataclass(frozen=True)
class Loop:
    states: frozenset[str]
    check: str
    wait: str
    checks: int  # the most checks it makes
    per_check: int  # events of one check and its Choice (retries included unless left out)
    per_wait: int  # events of one Wait

    @property
    def events(self) -> int:
        return self.checks * self.per_check + (self.checks - 1) * self.per_wait


@dataclass(frozen=True)
class StepCycle:
    """The steps of a progressive release: wait loops run again for each step."""

    states: frozenset[str]
    entry: str  # where the cycle is entered: every step begins there
    repeats: int  # the most steps
    loops: tuple[Loop, ...]


def _paced(
    states: Mapping[str, Any], cycle: frozenset[str], timing: Mapping[str, int], with_retries: bool
) -> Loop:
    waits = [member for member in cycle if states[member]["Type"] == "Wait"]
    checks = [member for member in cycle if states[member]["Type"] == "Task"]
    if len(waits) != 1 or len(checks) != 1:
        raise UnpacedLoop(f"a loop needs one check and one Wait: {sorted(cycle)}")
    wait, check = states[waits[0]], states[checks[0]]
    if wait.get("SecondsPath") != f"{check['ResultPath']}.{NEXT_WAIT}":
        raise UnpacedLoop(
            f"{waits[0]} does not wait as long as {checks[0]} says ({check['ResultPath']}.{NEXT_WAIT})"
        )
    payload = check["Parameters"]["Payload"]
    if BAKE in payload:
        count = MAX_ANALYSES_PER_STEP
    else:
        count = max_checks(timing[payload["pollSeconds.$"]], timing[payload["timeoutSeconds.$"]])
    per_check = sum(state_events(states[member], with_retries) for member in cycle if member != waits[0])
    return Loop(cycle, checks[0], waits[0], count, per_check, state_events(wait))


def _cycles_of(
    definition: Definition, timing: Mapping[str, int], with_retries: bool
) -> tuple[list[Loop], list[StepCycle]]:
    states = definition["States"]
    plain: list[Loop] = []
    stepped: list[StepCycle] = []
    for cycle in _cycles(states, states.keys()):
        if sum(states[member]["Type"] == "Wait" for member in cycle) == 1:
            plain.append(_paced(states, cycle, timing, with_retries))
            continue
        entries = {
            target
            for name, state in states.items()
            if name not in cycle
            for target in all_edges(state)
            if target in cycle
        }
        tasks = [
            member
            for member in cycle
            if states[member]["Type"] == "Task" and STEPS in states[member]["Parameters"]["Payload"]
        ]
        if len(entries) != 1 or len(tasks) != 1:
            raise UnpacedLoop(
                f"a cycle through several loops needs one way in and one Task taking {STEPS}: {sorted(cycle)}"
            )
        [entry] = entries
        inner = tuple(_paced(states, loop, timing, with_retries) for loop in _cycles(states, cycle - {entry}))
        repeats = timing[states[tasks[0]]["Parameters"]["Payload"][STEPS]]
        stepped.append(StepCycle(cycle, entry, repeats, inner))
    return plain, stepped


def loops(definition: Definition, timing: Mapping[str, int], with_retries: bool = True) -> list[Loop]:
    """Every wait loop of ``definition`` (those of each step too), at its worst under ``timing``
    (values by ASL path)."""
    plain, stepped = _cycles_of(definition, timing, with_retries)
    return plain + [loop for cycle in stepped for loop in cycle.loops]


def step_cycles(
    definition: Definition, timing: Mapping[str, int], with_retries: bool = True
) -> list[StepCycle]:
    return _cycles_of(definition, timing, with_retries)[1]


def _longest(
    node_of: Mapping[str, str], weight: Mapping[str, int], start: str, edges: Callable[[str], Iterable[str]]
) -> int:
    """The heaviest path from ``start`` over the nodes states were collapsed into (a DAG)."""

    @cache
    def longest(node: str) -> int:
        members = [name for name, owner in node_of.items() if owner == node]
        successors = {
            node_of[target] for member in members for target in edges(member) if node_of[target] != node
        }
        return weight[node] + max((longest(successor) for successor in successors), default=0)

    return longest(start)


def step_events(definition: Definition, cycle: StepCycle, with_retries: bool = True) -> int:
    """The most events one step writes: from the cycle's entry until it would begin again."""
    states = definition["States"]
    node_of = {name: name for name in cycle.states}
    weight = {name: state_events(states[name], with_retries) for name in cycle.states}
    for loop in cycle.loops:
        node_of.update(dict.fromkeys(loop.states, loop.check))
        weight[loop.check] = loop.events
    return _longest(
        node_of,
        weight,
        cycle.entry,
        lambda name: [t for t in success_edges(states[name]) if t in cycle.states and t != cycle.entry],
    )


def worst_case_events(
    definition: Definition,
    timing: Mapping[str, int],
    *,
    with_retries: bool = True,
    avoid: frozenset[str] = frozenset(),
) -> int:
    """The most events one execution writes under ``timing``, leaving the ``avoid`` states out."""
    states = definition["States"]
    node_of = {name: name for name in states}
    weight = {name: state_events(state, with_retries) for name, state in states.items()}
    plain, stepped = _cycles_of(definition, timing, with_retries)
    for loop in plain:
        node_of.update(dict.fromkeys(loop.states, loop.check))
        weight[loop.check] = loop.events
    for cycle in stepped:
        node_of.update(dict.fromkeys(cycle.states, cycle.entry))
        weight[cycle.entry] = cycle.repeats * step_events(definition, cycle, with_retries)
    return EXECUTION_EVENTS + _longest(
        node_of,
        weight,
        node_of[definition["StartAt"]],
        lambda name: [target for target in all_edges(states[name]) if target not in avoid],
    )
