"""Builders for botocore Stubber responses of the CloudFront calls moto lacks.

Stubber checks every request against the real service model and every response against its
output shape, so these dicts are what CloudFront sends, not what we wish it sent.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

import boto3
from botocore.stub import Stubber

ACCOUNT = "123456789012"
PRIMARY_ID = "E2QWRUHAPOMQZL"
STAGING_ID = "E3STAGINGXMPL1"
POLICY_ID = "cd1a2b3c-1111-2222-3333-444455556666"
BUCKET = "my-site-content"
OAC_ID = "E3OACEXAMPLE01"
NOW = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def stubbed_cloudfront() -> tuple[Any, Stubber]:
    client = boto3.client("cloudfront", region_name="us-east-1")
    return client, Stubber(client)


def distribution_config(
    origin_path: str = "/1.0.0", *, caller_reference: str = "primary-ref", staging: bool = False, **extra: Any
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "CallerReference": caller_reference,
        "Aliases": {"Quantity": 0} if staging else {"Quantity": 1, "Items": ["www.example.com"]},
        "DefaultRootObject": "index.html",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "site",
                    "DomainName": f"{BUCKET}.s3.us-east-1.amazonaws.com",
                    "OriginPath": origin_path,
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": OAC_ID,
                }
            ],
        },
        "DefaultCacheBehavior": {"TargetOriginId": "site", "ViewerProtocolPolicy": "redirect-to-https"},
        "Comment": "my site",
        "Enabled": True,
        "Staging": staging,
    }
    config.update(extra)
    return config


def distribution(distribution_id: str, config: dict[str, Any], status: str = "Deployed") -> dict[str, Any]:
    return {
        "Distribution": {
            "Id": distribution_id,
            "ARN": f"arn:aws:cloudfront::{ACCOUNT}:distribution/{distribution_id}",
            "Status": status,
            "LastModifiedTime": NOW,
            "InProgressInvalidationBatches": 0,
            "DomainName": f"{distribution_id.lower()}.cloudfront.net",
            "ActiveTrustedSigners": {"Enabled": False, "Quantity": 0},
            "DistributionConfig": copy.deepcopy(config),
        },
        "ETag": f"ETAG-{distribution_id}-{status}",
    }


def config_response(config: dict[str, Any], etag: str) -> dict[str, Any]:
    return {"DistributionConfig": copy.deepcopy(config), "ETag": etag}


def header_traffic_config() -> dict[str, Any]:
    return {"Type": "SingleHeader", "SingleHeaderConfig": {"Header": "aws-cf-cd-env", "Value": "staging"}}


def policy_config(
    enabled: bool, traffic: dict[str, Any] | None = None, domain: str | None = None
) -> dict[str, Any]:
    return {
        "StagingDistributionDnsNames": {
            "Quantity": 1,
            "Items": [domain or f"{STAGING_ID.lower()}.cloudfront.net"],
        },
        "Enabled": enabled,
        "TrafficConfig": traffic or header_traffic_config(),
    }


def policy_config_response(config: dict[str, Any], etag: str = "ETAG-POLICY") -> dict[str, Any]:
    return {"ContinuousDeploymentPolicyConfig": copy.deepcopy(config), "ETag": etag}


def policy_response(config: dict[str, Any], etag: str = "ETAG-POLICY-2") -> dict[str, Any]:
    return {
        "ContinuousDeploymentPolicy": {
            "Id": POLICY_ID,
            "LastModifiedTime": NOW,
            "ContinuousDeploymentPolicyConfig": copy.deepcopy(config),
        },
        "ETag": etag,
    }
