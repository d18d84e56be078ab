"""``--seed-site``: the seed article's site, ready for a release.

An S3 bucket with four releases (``1.0.0/`` ... ``4.0.0/``, each an ``index.html`` and the
``app.js`` it loads, so a viewer can fetch a page and its script), an origin access control, an
OAC-style bucket policy for the primary distribution, and the primary distribution serving
``/1.0.0`` with the managed CachingDisabled cache policy.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cfcd.local.sessions import LocalClients

CACHING_DISABLED_POLICY_ID = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
RELEASES = ("1.0.0", "2.0.0", "3.0.0", "4.0.0")
SCRIPT = "app.js"
BUCKET_NAME = "cfcd-seed-site"
ORIGIN_ID = "site-bucket"


class SeededSite(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    primary_distribution_id: str = Field(alias="primaryDistributionId")
    domain_name: str = Field(alias="domainName")
    bucket_name: str = Field(alias="bucketName")
    origin_access_control_id: str = Field(alias="originAccessControlId")


def release_page(release: str) -> str:
    major = release.split(".", 1)[0]
    return (
        "<!doctype html>\n"
        '<html lang="en">\n'
        f'<head><meta charset="utf-8"><title>App {release}</title>'
        f'<script src="/{SCRIPT}" defer></script></head>\n'
        f"<body><h1>v{major} App</h1><p>Release {release}</p></body>\n"
        "</html>\n"
    )


def release_script(release: str) -> str:
    return f'document.body.dataset.release = "{release}";\n'


def bucket_policy(bucket: str, account_id: str, distribution_ids: list[str]) -> str:
    """What the CloudFront console proposes for OAC: only these distributions may read."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowCloudFrontServicePrincipalReadOnly",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                    "Condition": {
                        "StringEquals": {
                            "AWS:SourceArn": [
                                f"arn:aws:cloudfront::{account_id}:distribution/{distribution_id}"
                                for distribution_id in distribution_ids
                            ]
                        }
                    },
                }
            ],
        }
    )


def seed_site(clients: LocalClients, bucket: str = BUCKET_NAME) -> SeededSite:
    region = clients.session.region_name
    s3 = clients.client("s3")
    cloudfront = clients.client("cloudfront")
    account_id = clients.client("sts").get_caller_identity()["Account"]

    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    for release in RELEASES:
        s3.put_object(
            Bucket=bucket,
            Key=f"{release}/index.html",
            Body=release_page(release).encode(),
            ContentType="text/html; charset=utf-8",
        )
        s3.put_object(
            Bucket=bucket,
            Key=f"{release}/{SCRIPT}",
            Body=release_script(release).encode(),
            ContentType="text/javascript; charset=utf-8",
        )

    oac = cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": f"{bucket}-oac",
            "Description": "cfcd seed site",
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]
    distribution = cloudfront.create_distribution(
        DistributionConfig=_primary_config(bucket, region, oac["Id"])
    )["Distribution"]
    s3.put_bucket_policy(Bucket=bucket, Policy=bucket_policy(bucket, account_id, [distribution["Id"]]))
    # The seeded site stands for a site already live before the story starts: viewers reach
    # a distribution only once it is Deployed.
    cloudfront.get_waiter("distribution_deployed").wait(
        Id=distribution["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 600}
    )
    return SeededSite(
        primary_distribution_id=distribution["Id"],
        domain_name=distribution["DomainName"],
        bucket_name=bucket,
        origin_access_control_id=oac["Id"],
    )


def _primary_config(bucket: str, region: str, oac_id: str) -> dict[str, Any]:
    return {
        "CallerReference": str(uuid.uuid4()),
        "Comment": "cfcd seed site (primary)",
        "Enabled": True,
        "DefaultRootObject": "index.html",
        "HttpVersion": "http2",
        "PriceClass": "PriceClass_100",
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": ORIGIN_ID,
                    "DomainName": f"{bucket}.s3.{region}.amazonaws.com",
                    "OriginPath": "/1.0.0",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": oac_id,
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": ORIGIN_ID,
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_DISABLED_POLICY_ID,
            "Compress": True,
            "AllowedMethods": {
                "Quantity": 2,
                "Items": ["GET", "HEAD"],
                "CachedMethods": {"Quantity": 2, "Items": ["GET", "HEAD"]},
            },
        },
    }
