"""GetExecutionHistory as AWS pages it: ``maxResults``, ``reverseOrder`` and ``nextToken``.

moto answers every GetExecutionHistory with the whole history, oldest first, whatever the
request asks. AWS (https://docs.aws.amazon.com/step-functions/latest/apireference/API_GetExecutionHistory.html):

- ``maxResults``: at most that many events per call; "The default is 100 and the maximum allowed
  page size is 1000. A value of 0 uses the default." A larger value is refused (its range is
  0-1000 in the API model): ``ValidationException``.
- ``reverseOrder``: the newest events first.
- ``nextToken``: given when more events are left; the next call passes it with "all other
  arguments unchanged". A token that is not one (or was made for another execution or order) is
  refused with ``InvalidToken`` (HTTP 400).

So code that reads only the first page, or trusts the order it asked for, behaves here as it will
on AWS. The token is opaque to callers; here it holds the position of the next event counted
from the oldest one, which stays right while the execution appends events between two pages.
Known deviation: ``includeExecutionData=false`` is not honoured (cfcd never asks for it).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import Any

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def get_execution_history(response: Any) -> Any:
    """Replaces ``StepFunctionResponse.get_execution_history``."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.exceptions import ValidationException

    execution_arn = str(response._get_param("executionArn"))
    max_results = response._get_int_param("maxResults") or DEFAULT_PAGE_SIZE
    if not 0 < max_results <= MAX_PAGE_SIZE:
        raise ValidationException(
            f"1 validation error detected: Value '{max_results}' at 'maxResults' failed to satisfy "
            f"constraint: Member must have value less than or equal to {MAX_PAGE_SIZE}"
        )
    reverse = bool(response._get_bool_param("reverseOrder", False))
    execution = response.stepfunction_backend.describe_execution(execution_arn)
    environment = execution.exec_worker.env  # None until the execution has started
    event_manager = environment.event_manager if environment is not None else None
    token = response._get_param("nextToken")
    return ActionResult(history_page(event_manager, execution_arn, max_results, reverse, token))


def history_page(
    event_manager: Any, execution_arn: str, max_results: int, reverse: bool, next_token: str | None
) -> dict[str, Any]:
    """One page of the execution's events (``event_manager`` is None before it has started)."""
    if event_manager is None:
        return {"events": []}
    with event_manager._mutex:  # moto appends under it; copy only the page, not the history
        history = event_manager._history_event_list
        count = len(history)
        if next_token is None:
            start = count - 1 if reverse else 0
        else:
            start = _position(next_token, execution_arn, reverse, count)
        if reverse:
            end = max(start - max_results, -1)
            page = [history[index] for index in range(start, end, -1)]
            more = end >= 0
        else:
            end = min(start + max_results, count)
            page = history[start:end]
            more = end < count
        events = copy.deepcopy(page)
    answer: dict[str, Any] = {"events": events}
    if more:
        answer["nextToken"] = _token(execution_arn, reverse, end)
    return answer


def _token(execution_arn: str, reverse: bool, position: int) -> str:
    payload = {"executionArn": execution_arn, "reverseOrder": reverse, "position": position}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _position(token: str, execution_arn: str, reverse: bool, count: int) -> int:
    from moto.stepfunctions.exceptions import InvalidToken

    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        position = payload["position"]
        matches = payload["executionArn"] == execution_arn and payload["reverseOrder"] == reverse
    except (ValueError, binascii.Error, KeyError, TypeError):
        raise InvalidToken("not a token GetExecutionHistory gave") from None
    if not matches or not isinstance(position, int) or not 0 <= position < count:
        raise InvalidToken("made for another execution or order; keep all other arguments unchanged")
    return position
