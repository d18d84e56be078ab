"""Can the staging distribution decrypt the site bucket's objects (SSE-KMS)?

Behind Origin Access Control, CloudFront reads SSE-KMS objects only if the KMS key's policy lets
the service principal `cloudfront.amazonaws.com` call `kms:Decrypt` for the distribution, named in
an `AWS:SourceArn` condition; the AWS managed key `aws/s3` cannot be given such a statement (its
policy is AWS's). https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
(section "SSE-KMS"). A staging distribution is another distribution: the key policy must name it
too, or staging answers 403 and the probe fails for a reason it cannot tell.

The bucket's default encryption (GetBucketEncryption,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketEncryption.html) says whether it uses
KMS and which key (an id, an alias or an ARN; none means `aws/s3`). Known assumptions (the docs are
silent): objects are encrypted with the bucket's default key; only Allow statements are read (a
Deny or a grant could still change the answer).
"""

from __future__ import annotations

import fnmatch
import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from cfcd_common.aws import error_code
from cfcd_common.errors import KmsKeyDeniesStaging

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client

KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
AWS_MANAGED_S3_KEY = "alias/aws/s3"
CLOUDFRONT_PRINCIPAL = "cloudfront.amazonaws.com"
_EQUALS = frozenset({"stringequals", "arnequals", "stringequalsignorecase"})
_LIKE = frozenset({"stringlike", "arnlike"})


def bucket_kms_key(s3: S3Client, bucket: str) -> str | None:
    """The KMS key the bucket encrypts new objects with by default; None for SSE-S3 (AES256)."""
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as error:
        if error_code(error) == "ServerSideEncryptionConfigurationNotFoundError":
            return None
        raise
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm") in KMS_ALGORITHMS:
            return default.get("KMSMasterKeyID") or AWS_MANAGED_S3_KEY
    return None


def decrypt_statement(distribution_arns: list[str]) -> dict[str, Any]:
    """The key policy statement of the CloudFront docs, naming these distributions."""
    return {
        "Sid": "AllowCloudFrontServicePrincipalSSE-KMS",
        "Effect": "Allow",
        "Principal": {"Service": CLOUDFRONT_PRINCIPAL},
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arns}},
    }


def require_staging_can_decrypt(
    s3: S3Client, kms: KMSClient, buckets: list[str], primary_arn: str, staging_arn: str
) -> list[str]:
    """Raise KmsKeyDeniesStaging when a bucket's KMS key would refuse the staging distribution;
    returns the keys checked (ARNs)."""
    checked: list[str] = []
    for bucket in buckets:
        key = bucket_kms_key(s3, bucket)
        if key is None:
            continue
        statement = json.dumps(decrypt_statement([primary_arn, staging_arn]))
        if key == AWS_MANAGED_S3_KEY or key.endswith(f":{AWS_MANAGED_S3_KEY}"):
            raise _aws_managed(bucket, key, statement)
        metadata = kms.describe_key(KeyId=key)["KeyMetadata"]
        if metadata.get("KeyManager") == "AWS":
            raise _aws_managed(bucket, metadata["Arn"], statement)
        policy = json.loads(kms.get_key_policy(KeyId=metadata["KeyId"], PolicyName="default")["Policy"])
        if not allows_decrypt(policy, staging_arn):
            raise KmsKeyDeniesStaging(
                f"bucket {bucket} encrypts with KMS key {metadata['Arn']}, whose key policy does not let "
                f"the staging distribution {staging_arn} decrypt (it would answer 403). Add this "
                f"statement to the key policy (or the staging ARN to its AWS:SourceArn list): {statement}"
            )
        checked.append(metadata["Arn"])
    return checked


def _aws_managed(bucket: str, key: str, statement: str) -> KmsKeyDeniesStaging:
    return KmsKeyDeniesStaging(
        f"bucket {bucket} encrypts with the AWS managed key {key}, whose policy cannot let CloudFront "
        "decrypt: the staging distribution would answer 403. Use SSE-S3, or a customer managed key "
        f"whose key policy has this statement: {statement}"
    )


def allows_decrypt(policy: dict[str, Any], distribution_arn: str) -> bool:
    """Does an Allow statement let CloudFront call kms:Decrypt for this distribution?"""
    return any(
        _statement_allows(statement, distribution_arn) for statement in _listed(policy.get("Statement"))
    )


def _statement_allows(statement: dict[str, Any], distribution_arn: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    services = _listed(principal.get("Service")) if isinstance(principal, dict) else _listed(principal)
    if CLOUDFRONT_PRINCIPAL not in services and "*" not in services:
        return False
    actions = [str(action).lower() for action in _listed(statement.get("Action"))]
    if not any(fnmatch.fnmatchcase("kms:decrypt", action) for action in actions):
        return False
    for operator, conditions in (statement.get("Condition") or {}).items():
        for key, values in conditions.items():
            if key.lower() != "aws:sourcearn":
                continue  # e.g. AWS:SourceAccount: this account's distributions meet it
            allowed = [str(value) for value in _listed(values)]
            if operator.lower() in _EQUALS and distribution_arn not in allowed:
                return False
            if operator.lower() in _LIKE and not any(
                fnmatch.fnmatchcase(distribution_arn, p) for p in allowed
            ):
                return False
    return True


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
