"""CloudFront API errors, with the codes of the botocore model and CloudFront's own wording.

moto serializes a raised ``ServiceException`` as an XML error document and takes the HTTP status
from the error shape of the same name in the botocore model, so the code is all a client sees
besides the message (boto3 raises ``client.exceptions.<Code>``).
"""

from __future__ import annotations

from moto.core.exceptions import ServiceException

UNSUPPORTED_FOR_CONTINUOUS_DEPLOYMENT = (
    "One or more fields updated are not supported for continuous deployment."
)


class CloudFrontError(ServiceException):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def invalid_argument(message: str) -> CloudFrontError:
    return CloudFrontError("InvalidArgument", message)


def illegal_update(
    message: str = UNSUPPORTED_FOR_CONTINUOUS_DEPLOYMENT, *, fields: list[str] | None = None
) -> CloudFrontError:
    # CloudFront's message names no field; the emulator appends them to save a debugging session.
    suffix = f" (emulator: {', '.join(fields)})" if fields else ""
    return CloudFrontError("IllegalUpdate", message + suffix)


def invalid_if_match() -> CloudFrontError:
    return CloudFrontError(
        "InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource."
    )


def precondition_failed() -> CloudFrontError:
    return CloudFrontError(
        "PreconditionFailed",
        "The request failed because it didn't meet the preconditions in one or more request-header fields.",
    )


def no_such_distribution() -> CloudFrontError:
    return CloudFrontError("NoSuchDistribution", "The specified distribution does not exist.")


def no_such_policy() -> CloudFrontError:
    return CloudFrontError(
        "NoSuchContinuousDeploymentPolicy", "The specified continuous deployment policy does not exist."
    )


def no_such_invalidation() -> CloudFrontError:
    return CloudFrontError("NoSuchInvalidation", "The specified invalidation does not exist.")


def policy_in_use() -> CloudFrontError:
    return CloudFrontError(
        "ContinuousDeploymentPolicyInUse",
        "The specified continuous deployment policy is currently associated with a distribution.",
    )


def staging_in_use_by_policy() -> CloudFrontError:
    # CloudFront's own message, typo included.
    return CloudFrontError(
        "StagingDistributionInUse",
        "The specified staging distribution is currently used by a continuous deployment policy. "
        "Please the update policy before deleting.",
    )


def staging_cannot_be_disabled() -> CloudFrontError:
    return CloudFrontError(
        "StagingDistributionInUse",
        "The staging distribution is used by a continuous deployment policy and can't be disabled.",
    )


def too_many_invalidations(limit: int, kind: str) -> CloudFrontError:
    return CloudFrontError(
        "TooManyInvalidationsInProgress",
        f"Processing your request would cause the maximum number of {kind} in progress ({limit}) to be "
        "exceeded.",
    )


def batch_too_large(limit: int, kind: str) -> CloudFrontError:
    return CloudFrontError(
        "BatchTooLarge", f"Invalidation batch specified is too large: more than {limit} {kind}."
    )


def staging_already_has_policy() -> CloudFrontError:
    return CloudFrontError(
        "StagingDistributionInUse",
        "A continuous deployment policy for this staging distribution already exists.",
    )


def policy_already_exists(policy_id: str) -> CloudFrontError:
    return CloudFrontError(
        "ContinuousDeploymentPolicyAlreadyExists",
        f"A continuous deployment policy with this configuration already exists: {policy_id}",
    )


def too_many_policies(limit: int) -> CloudFrontError:
    return CloudFrontError(
        "TooManyContinuousDeploymentPolicies",
        f"You have reached the maximum number of continuous deployment policies ({limit}) for this account.",
    )


def too_many_staging_distributions(limit: int) -> CloudFrontError:
    return CloudFrontError(
        "TooManyDistributions",
        f"Processing your request would cause you to exceed the maximum number of staging distributions "
        f"allowed ({limit}).",
    )


def distribution_already_exists(distribution_id: str) -> CloudFrontError:
    return CloudFrontError(
        "DistributionAlreadyExists",
        "The caller reference that you are using to create a distribution is associated with another "
        f"distribution. Already exists: {distribution_id}",
    )


def distribution_not_disabled() -> CloudFrontError:
    return CloudFrontError(
        "DistributionNotDisabled", "The distribution you are trying to delete has not been disabled."
    )


def inconsistent_quantities(path: str) -> CloudFrontError:
    return CloudFrontError(
        "InconsistentQuantities", f"The value of Quantity and the size of Items don't match ({path})."
    )


def cname_already_exists(alias: str) -> CloudFrontError:
    return CloudFrontError(
        "CNAMEAlreadyExists",
        f"One or more of the CNAMEs you provided are already associated with a different resource: {alias}",
    )


def no_such_origin() -> CloudFrontError:
    return CloudFrontError("NoSuchOrigin", "One or more of your origins or origin groups do not exist.")


def no_such_cache_policy(policy_id: str) -> CloudFrontError:
    return CloudFrontError("NoSuchCachePolicy", f"The cache policy does not exist: {policy_id}")


def missing_body() -> CloudFrontError:
    return CloudFrontError(
        "MissingBody",
        "This operation requires a body. Ensure that the body is present and the Content-Type header is set.",
    )
