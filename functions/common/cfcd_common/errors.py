"""Errors the state machine routes on.

Lambda reports an unhandled exception as `errorType` = the class name, so each class name below
is an error name the ASL matches in `Retry`/`Catch` and the name an execution fails with.
"""


class CfcdError(Exception):
    """Base of every error the workflow names."""


class InvalidInput(CfcdError):
    """The execution input breaks the contract; the message names the field and the rule."""


class DeploymentInProgress(CfcdError):
    """Another execution holds the lock of this primary distribution."""


class StackFailed(CfcdError):
    """The staging stack ended in a failed or rolled-back state."""


class DeployTimeout(CfcdError):
    """A wait (stack, Deployed, invalidation) passed its deadline."""


class KmsKeyDeniesStaging(CfcdError):
    """The site bucket's KMS key would not let the staging distribution decrypt; the message names
    the key and the key policy statement to add."""


class ProbeFailed(CfcdError):
    """The staging release did not pass the probe before probeTimeoutSeconds."""


class AnalysisFailed(CfcdError):
    """A step of a progressive release failed its analysis: staging's 5xx error rate, a named alarm
    in ALARM, or too few requests to judge; the message names the step, the metric or alarm, and
    staging's and the primary's values."""


class PromotionFailed(CfcdError):
    """CloudFront refused to copy the staging config onto the primary."""


class VerifyFailed(CfcdError):
    """After promotion the primary does not serve the new release."""


class OriginPathNotRecorded(CfcdError):
    """promotion.originPathParameter cannot take the promoted origin path. Never ends an execution:
    the promoted release succeeds with a warning (RecordOriginPath's Catch)."""


class UnexpectedError(CfcdError):
    """Anything else a task raised (AccessDenied, a bug); the cause keeps the original error.

    The state machine also names this way every failure that carries no cfcd name (Lambda.Unknown,
    States.TaskFailed, ...) before it ends the execution.
    """


class TransientAwsError(CfcdError):
    """AWS throttled or failed server-side after boto3's own retries; the ASL retries with backoff."""


# Names raised by other parts: the approval function's SendTaskFailure and the ASL's own mapping
# of States.Timeout on RequestApproval and of a failed rollback.
DEPLOYMENT_REJECTED = "DeploymentRejected"
APPROVAL_TIMED_OUT = "ApprovalTimedOut"
# DisableContinuousDeployment itself failed: the policy may still send viewers to staging.
ROLLBACK_FAILED = "RollbackFailed"

WORKFLOW_ERROR_NAMES: tuple[str, ...] = (
    "InvalidInput",
    "DeploymentInProgress",
    "StackFailed",
    "DeployTimeout",
    "KmsKeyDeniesStaging",
    "ProbeFailed",
    "AnalysisFailed",
    DEPLOYMENT_REJECTED,
    APPROVAL_TIMED_OUT,
    "PromotionFailed",
    "VerifyFailed",
    ROLLBACK_FAILED,
    # AWS kept throttling or failing past every retry.
    "TransientAwsError",
    "UnexpectedError",
)
