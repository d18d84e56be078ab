"""EnableContinuousDeployment and an SSE-KMS site bucket (issue 13, item 14): fail early, naming the
key and the statement, instead of a staging that answers 403 and a ProbeFailed."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from cfcd_common.errors import KmsKeyDeniesStaging
from cfcd_common.kms_access import decrypt_statement, require_staging_can_decrypt

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"
PRIMARY = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2QWRUHAPOMQZL"
STAGING = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E3STAGINGCOPY1"
BUCKET = "site-bucket"


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def kms(aws: None) -> Any:
    return boto3.client("kms", region_name="us-east-1")


def encrypt_with(s3: Any, key: str | None) -> None:
    default: dict[str, str] = {"SSEAlgorithm": "aws:kms"}
    if key is not None:
        default["KMSMasterKeyID"] = key
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": default}]},
    )


def key_with_policy(kms: Any, *statements: dict[str, Any]) -> dict[str, Any]:
    root = {
        "Sid": "Root",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [root, *statements]})
    metadata: dict[str, Any] = kms.create_key(Policy=policy)["KeyMetadata"]
    return metadata


def test_a_key_whose_policy_names_only_the_primary_fails_naming_the_key_and_the_statement(
    s3: Any, kms: Any
) -> None:
    # Given the bucket encrypts with a customer managed key that lets only the primary decrypt
    key = key_with_policy(kms, decrypt_statement([PRIMARY]))
    encrypt_with(s3, key["Arn"])

    # When EnableContinuousDeployment checks the bucket, Then it fails before writing anything
    with pytest.raises(KmsKeyDeniesStaging) as raised:
        require_staging_can_decrypt(s3, kms, [BUCKET], PRIMARY, STAGING)
    message = str(raised.value)
    assert key["Arn"] in message and STAGING in message
    assert json.dumps(decrypt_statement([PRIMARY, STAGING])) in message
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_policy(Bucket=BUCKET)


@pytest.mark.parametrize("key", [None, "alias/aws/s3"], ids=["default aws:kms", "named aws/s3"])
def test_the_aws_managed_key_cannot_serve_a_staging_distribution(s3: Any, kms: Any, key: str | None) -> None:
    encrypt_with(s3, key)
    with pytest.raises(KmsKeyDeniesStaging, match="AWS managed key"):
        require_staging_can_decrypt(s3, kms, [BUCKET], PRIMARY, STAGING)


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"AWS:SourceArn": [PRIMARY, STAGING]}},
        {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/*"}},
        None,
    ],
    ids=["both named", "wildcard", "no condition"],
)
def test_a_key_that_lets_staging_decrypt_passes(s3: Any, kms: Any, condition: Any) -> None:
    statement = decrypt_statement([PRIMARY, STAGING])
    if condition is None:
        del statement["Condition"]
    else:
        statement["Condition"] = condition
    key = key_with_policy(kms, statement)
    encrypt_with(s3, key["KeyId"])

    assert require_staging_can_decrypt(s3, kms, [BUCKET], PRIMARY, STAGING) == [key["Arn"]]


def test_an_sse_s3_bucket_needs_no_key(s3: Any, kms: Any) -> None:
    s3.put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    assert require_staging_can_decrypt(s3, kms, [BUCKET], PRIMARY, STAGING) == []
