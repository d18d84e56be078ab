"""boto3 plumbing shared by the tasks: client settings, transient-error mapping, the clock."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from cfcd_common.errors import CfcdError, TransientAwsError, UnexpectedError

# boto3 retries throttling and 5xx a few times itself; what still fails surfaces as
# TransientAwsError so the state machine retries with a longer backoff.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, user_agent_extra="cfcd")
# For a write that must happen at most once and has no idempotency token (an SNS Publish, an SES
# mail): boto3 would resend it after a 5xx or a timeout, when AWS may have applied it already.
# total_max_attempts counts the first request; max_attempts would count retries only (1 = resend once).
# https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html
SINGLE_ATTEMPT_CONFIG = CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))

TRANSIENT_ERROR_CODES = frozenset(
    {
        "Throttling",
        "Throttled",  # SNS
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServiceError",
        "InternalServerError",
    }
)

P = ParamSpec("P")
R = TypeVar("R")


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_transient(error: ClientError) -> bool:
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return error_code(error) in TRANSIENT_ERROR_CODES or status >= 500


def refused_by_service(error: Exception) -> bool:
    """AWS answered with a 4xx error (throttled, invalid, denied): the request was not applied.

    Anything else (a 5xx, a timeout, a dropped connection) leaves it unknown whether AWS applied
    the request before the answer was lost.
    """
    if not isinstance(error, ClientError):
        return False
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return 400 <= status < 500


def named_task_errors(handler: Callable[P, R]) -> Callable[P, R]:
    """Let a task fail only with a name the state machine knows.

    Throttling, 5xx and connection failures become TransientAwsError (retried by the ASL); any
    other exception that is not already a named CfcdError (AccessDenied, a bug, a malformed AWS
    answer) becomes UnexpectedError with the original type and message as its cause, so an
    execution never ends with a bare `ClientError` or `KeyError`.
    """

    @functools.wraps(handler)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        except CfcdError:
            raise
        except ClientError as error:
            if is_transient(error):
                raise TransientAwsError(f"{error_code(error)}: {error}") from error
            raise UnexpectedError(f"ClientError {error_code(error)}: {error}") from error
        except (ConnectionError, HTTPClientError) as error:
            raise TransientAwsError(str(error)) from error
        except Exception as error:
            raise UnexpectedError(f"{type(error).__name__}: {error}") from error

    return wrapper


def now() -> int:
    """Epoch seconds; the one clock every deadline is computed and compared with."""
    return int(time.time())


def deadline_after(seconds: int) -> int:
    return now() + seconds
