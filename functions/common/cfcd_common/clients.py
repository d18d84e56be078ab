"""The AWS clients of the Lambda functions: each made on first use, then kept for the sandbox's life.

Made on first use, not at import: building a client (loading its service model) was most of a
handler's init, which Lambda runs before the first event. Handlers call these when they run and
pass the clients to plain functions, so a test hands in its own with
`monkeypatch.setattr(clients, "cloudfront", lambda: stubbed_client)`.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3

from cfcd_common.aws import CLIENT_CONFIG, SINGLE_ATTEMPT_CONFIG

CLOUDFRONT_METRICS_REGION = "us-east-1"

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sesv2 import SESV2Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient


@cache
def cloudfront() -> CloudFrontClient:
    return boto3.client("cloudfront", config=CLIENT_CONFIG)


@cache
def cloudformation() -> CloudFormationClient:
    return boto3.client("cloudformation", config=CLIENT_CONFIG)


@cache
def cloudfront_metrics() -> CloudWatchClient:
    """CloudWatch where CloudFront's metrics are: us-east-1, whatever region cfcd runs in.
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/programming-cloudwatch-metrics.html
    """
    return boto3.client("cloudwatch", region_name=CLOUDFRONT_METRICS_REGION, config=CLIENT_CONFIG)


@cache
def cloudwatch() -> CloudWatchClient:
    """CloudWatch of the region cfcd runs in: the alarms a progressive release watches."""
    return boto3.client("cloudwatch", config=CLIENT_CONFIG)


@cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=CLIENT_CONFIG)


@cache
def dynamodb_table(name: str) -> Table:
    return boto3.resource("dynamodb", config=CLIENT_CONFIG).Table(name)


@cache
def kms() -> KMSClient:
    return boto3.client("kms", config=CLIENT_CONFIG)


@cache
def s3() -> S3Client:
    return boto3.client("s3", config=CLIENT_CONFIG)


@cache
def secretsmanager() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=CLIENT_CONFIG)


@cache
def sesv2_single_attempt() -> SESV2Client:
    """For the approval mail: sent at most once (cfcd_common.approvals.send_once)."""
    return boto3.client("sesv2", config=SINGLE_ATTEMPT_CONFIG)


@cache
def sns() -> SNSClient:
    return boto3.client("sns", config=CLIENT_CONFIG)


@cache
def sns_single_attempt() -> SNSClient:
    """For the approval mail: sent at most once (cfcd_common.approvals.send_once)."""
    return boto3.client("sns", config=SINGLE_ATTEMPT_CONFIG)


@cache
def ssm() -> SSMClient:
    return boto3.client("ssm", config=CLIENT_CONFIG)


@cache
def stepfunctions() -> SFNClient:
    return boto3.client("stepfunctions", config=CLIENT_CONFIG)
