"""One parsed program per state machine definition, shared by its validation and all its executions.

moto's Step Functions interpreter parses the definition again (with ANTLR) at every execution, and
CreateStateMachine once more to validate it: about 0.25 s of CPU for cfcd's state machine each
time, the largest single cost of an execution in the local cloud. A parsed program holds no
execution's state: what an execution changes (retry attempts, backoff) lives in its own
``Environment``, keyed by each component's ``heap_key``. moto draws a heap key lazily and without a
lock, so every key is drawn here once, before the program is shared: two executions drawing one at
once would each keep its retries under a different key.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

# Executions started together (a batch of releases) wait for the first one's parse.
_parsing = threading.Lock()


def program_for(definition: str) -> Any:
    """The evaluation entry point of ``definition``, parsed once (moto's parser raises on bad ASL)."""
    with _parsing:
        return _parsed(definition)


@functools.lru_cache(maxsize=32)
def _parsed(definition: str) -> Any:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    program = AmazonStateLanguageParser.parse(definition)[0]
    _draw_heap_keys(program)
    return program


def _draw_heap_keys(root: Any) -> None:
    from moto.stepfunctions.parser.asl.component.component import Component
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, EvalComponent):
            _ = node.heap_key
        if isinstance(node, Component):
            pending.extend(vars(node).values())
        elif isinstance(node, list | tuple | set | frozenset):
            pending.extend(node)
        elif isinstance(node, dict):
            pending.extend(node.values())


def validated_once(moto_validate: Callable[[str], None]) -> Callable[[str], None]:
    """A replacement of moto's ``_validate_definition`` (a parse, at CreateStateMachine and
    UpdateStateMachine): the parse its executions will share. A definition that does not parse
    goes to moto's, which raises its ``InvalidDefinition``."""

    @functools.wraps(moto_validate)
    def validate(definition: str) -> None:
        try:
            program_for(definition)
        except Exception:
            moto_validate(definition)

    return validate


def evaluation_entrypoint(worker: Any) -> Any:
    """Replaces ``ExecutionWorker._get_evaluation_entrypoint``: the cached program."""
    return program_for(worker._evaluation_details.state_machine_details.definition)
