"""What every cfcd Lambda handler does around its own work, in one decorator.

`@task_handler()` gives a handler the Powertools Logger (with the Lambda context and a correlation
id), the Tracer's handler segment, Metrics flushed at the end, and errors the state machine can
route on (`named_task_errors`). The Powertools objects below are made once per sandbox and are
configured by the POWERTOOLS_* variables of the template's Globals, not in code.

A handler reads its environment the one way `cfcd_common.settings` gives, when it runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from cfcd_common.aws import named_task_errors

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# A handler that records no metric, or fails before it does, has nothing to flush: no warning for it.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

# Where a handler's event carries its correlation id (a JMESPath):
EXECUTION_ARN = "executionArn"  # every task payload of the state machine
STATUS_CHANGE_EXECUTION_ARN = "detail.executionArn"  # EventBridge "Execution Status Change" events
FUNCTION_URL_REQUEST_ID = correlation_paths.LAMBDA_FUNCTION_URL  # the approval page's requests

R = TypeVar("R")
Handler = Callable[[dict[str, Any], LambdaContext], R]


def task_handler(
    correlation_id_path: str = EXECUTION_ARN, *, carries_secrets: bool = False
) -> Callable[[Handler[R]], Handler[R]]:
    """Decorate a `lambda_handler(event, context)`.

    `carries_secrets`: the event or the answer holds a secret (RequestApproval's task token, the
    approval page's link signature and form token): the event is never logged, whatever
    POWERTOOLS_LOGGER_LOG_EVENT says, and the answer never goes into the trace.
    """

    def decorate(handler: Handler[R]) -> Handler[R]:
        measured = metrics.log_metrics(named_task_errors(handler))
        traced = tracer.capture_lambda_handler(measured, capture_response=False if carries_secrets else None)
        contextual: Handler[R] = logger.inject_lambda_context(
            traced, correlation_id_path=correlation_id_path, log_event=False if carries_secrets else None
        )
        return contextual

    return decorate
