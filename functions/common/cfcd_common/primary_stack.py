"""Whether a CloudFormation stack made the primary distribution, and what that means for a promotion.

cfcd promotes through the CloudFront API; the stack's template still holds the old release, and
the next update of that stack sends its whole DistributionConfig again: the promotion is undone.
ValidateInput finds the stack and, when the release does not write `promotion.originPathParameter`
for the template to read, words the warning that the approval mail, the status mail and
`cfcd status` show (each one line through :func:`warning_lines`); the last two also warn when
RecordOriginPath could not write that parameter (the release still succeeds: it is promoted).

The stack is found with DescribeStackResources(PhysicalResourceId=<distribution id>), which
returns the resources "of the stack that the resource belongs to":
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResources.html
Not with the `aws:cloudformation:stack-name` tag: CloudFormation does not put its tags on
CloudFront distributions (docs silent; evidence:
https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/2126).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from cfcd_common.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

WARNING_FIELD = "stackUpdateWarning"
# "Required: Conditional" with no word on the answer when no stack holds the resource; AWS answers
# ValidationError "Stack for <id> does not exist" (docs silent: a known assumption).
_NO_STACK_ERROR = "ValidationError"


class PrimaryStack(BaseModel):
    """The stack holding the primary (recorded in the validated input as `primaryStack`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stackName: str
    stackId: str
    # None when the stack has more than the 100 resources DescribeStackResources returns and the
    # distribution is not among them: the stack is still the one holding it.
    logicalResourceId: str | None = None


def find_primary_stack(cloudformation: CloudFormationClient, distribution_id: str) -> PrimaryStack | None:
    """The live stack whose template made the distribution, or None."""
    try:
        resources = cloudformation.describe_stack_resources(PhysicalResourceId=distribution_id)[
            "StackResources"
        ]
    except ClientError as error:
        if error_code(error) == _NO_STACK_ERROR:
            return None
        raise
    if not resources:
        return None
    matching = [resource for resource in resources if resource.get("PhysicalResourceId") == distribution_id]
    if matching and str(matching[0].get("ResourceStatus", "")).startswith("DELETE_"):
        # A deleted stack (described for 90 days) or a retained resource: no stack manages it.
        return None
    described = matching[0] if matching else resources[0]
    return PrimaryStack(
        stackName=described["StackName"],
        stackId=described["StackId"],
        logicalResourceId=matching[0]["LogicalResourceId"] if matching else None,
    )


def stack_update_warning(
    distribution_id: str, stack: PrimaryStack | None, origin_path_parameter: str | None
) -> str | None:
    """What to tell people about a release that the primary's stack will undo, or None."""
    if stack is None or origin_path_parameter:
        return None
    return (
        f"{distribution_id} belongs to CloudFormation stack {stack.stackName}: its next update puts "
        "the template's origin path back and undoes this promotion. Before that update, set the "
        "template's origin path to the promoted one, or release with promotion.originPathParameter "
        "and have the template read that SSM parameter (README: Primaries managed as code)."
    )


def origin_path_warning(record: Mapping[str, Any]) -> str | None:
    """What to tell people when RecordOriginPath could not write (its noted failure), or None."""
    if record.get("recorded") is not False or not record.get("parameterName"):
        return None
    name, cause = record["parameterName"], str(record.get("cause") or "")
    try:
        message = json.loads(cause).get("errorMessage", cause)  # a Lambda error's cause is JSON
    except (ValueError, AttributeError):
        message = cause
    return (
        f"the SSM parameter {name} was not written ({record.get('error')}: {message}). The primary "
        "is promoted, but the next update of its stack puts the old release back until that "
        f"parameter holds the origin path now live: write it (aws ssm put-parameter --name {name} "
        "--type String --overwrite --value <origin path>; cfcd drift shows it), or release again."
    )


def release_warnings(state: Mapping[str, Any]) -> list[str]:
    """The warnings an execution's state (validated input onwards) carries, in workflow order."""
    record = state.get("originPathRecord")
    found = [state.get(WARNING_FIELD), origin_path_warning(record) if isinstance(record, Mapping) else None]
    return [warning for warning in found if isinstance(warning, str) and warning]


def release_warnings_in(state_json: str | None) -> list[str]:
    """:func:`release_warnings` of a state given as JSON text (an execution's output, ...)."""
    try:
        state: Any = json.loads(state_json or "null")
    except ValueError:
        return []
    return release_warnings(state) if isinstance(state, Mapping) else []


def warning_lines(warnings: Iterable[str | None]) -> list[str]:
    """Warnings as the lines a plain-text message adds (none without a warning)."""
    return [f"WARNING: {warning}" for warning in warnings if warning]
