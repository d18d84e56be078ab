"""One deployment per primary distribution: a conditional write in the shared table.

Item: pk = "lock#<primaryDistributionId>", executionArn, acquiredAt, expiresAt (the table's TTL
attribute). A lock whose expiresAt has passed is free, so a crashed execution cannot block
releases forever; re-acquiring with the same executionArn succeeds (a retried AcquireLock).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from cfcd_common.aws import error_code
from cfcd_common.errors import DeploymentInProgress

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def lock_key(primary_distribution_id: str) -> str:
    return f"lock#{primary_distribution_id}"


def acquire_lock(
    dynamodb: DynamoDBClient, table: str, primary_id: str, execution_arn: str, now: int, expires_at: int
) -> None:
    try:
        dynamodb.put_item(
            TableName=table,
            Item={
                "pk": {"S": lock_key(primary_id)},
                "executionArn": {"S": execution_arn},
                "acquiredAt": {"N": str(now)},
                "expiresAt": {"N": str(expires_at)},
            },
            ConditionExpression="attribute_not_exists(pk) OR expiresAt < :now OR executionArn = :me",
            ExpressionAttributeValues={":now": {"N": str(now)}, ":me": {"S": execution_arn}},
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        holder = dynamodb.get_item(
            TableName=table, Key={"pk": {"S": lock_key(primary_id)}}, ConsistentRead=True
        )
        owner = holder.get("Item", {}).get("executionArn", {}).get("S", "another execution")
        raise DeploymentInProgress(
            f"primaryDistributionId: {primary_id} is being deployed by {owner}; wait for it to end"
        ) from None


def release_lock(dynamodb: DynamoDBClient, table: str, primary_id: str, execution_arn: str) -> bool:
    """Delete the lock if this execution holds it. False when it had expired or was taken over."""
    try:
        dynamodb.delete_item(
            TableName=table,
            Key={"pk": {"S": lock_key(primary_id)}},
            ConditionExpression="executionArn = :me",
            ExpressionAttributeValues={":me": {"S": execution_arn}},
        )
    except ClientError as error:
        if error_code(error) != "ConditionalCheckFailedException":
            raise
        return False
    return True
