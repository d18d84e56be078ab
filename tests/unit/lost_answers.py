"""AWS calls whose answer is lost, and a site on the emulated CloudFront (conftest's
``emulated_cloudfront``).

``lose_answer`` makes one call take effect and then fail its caller, as when AWS applied a
request but the answer never arrived: the task fails, Step Functions retries it, and the retry
must end as if the call had succeeded once.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from botocore.exceptions import ReadTimeoutError

from cfcd.local.faults import REGISTRY, Fault

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"


def create_primary(cloudfront: Any, reference: str = "site-primary") -> dict[str, Any]:
    """A live primary distribution serving /1.0.0 of an S3 origin (no OAC: no bucket policy work)."""
    created = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": reference,
            "Comment": "site",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "site",
                        "DomainName": "site.s3.us-east-1.amazonaws.com",
                        "OriginPath": "/1.0.0",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "site",
                "ViewerProtocolPolicy": "redirect-to-https",
                "CachePolicyId": CACHING_DISABLED,
            },
        }
    )
    return dict(created["Distribution"])


def lose_answer(client: Any, operation: str) -> None:
    """The next `operation` call of `client` takes effect, then its caller gets a read timeout."""
    event = f"after-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    lost: list[bool] = []

    def drop(**_: Any) -> None:
        if not lost:
            lost.append(True)
            raise ReadTimeoutError(endpoint_url=client.meta.endpoint_url)

    client.meta.events.register(event, drop)


def lose_dynamodb_update(*matching: str) -> None:
    """The next DynamoDB UpdateItem whose request holds every `matching` text takes effect, then
    answers 500, so that boto3 sends it again (moto with cfcd's patches installed)."""
    REGISTRY.add(
        Fault(
            service="dynamodb",
            operation="UpdateItem",
            error="InternalServerError",
            http_status=500,
            when="after",
            matching=list(matching),
        )
    )


def staging_distributions(cloudfront: Any) -> list[dict[str, Any]]:
    listed = cloudfront.list_distributions()["DistributionList"].get("Items", [])
    return [summary for summary in listed if summary.get("Staging")]


def policies(cloudfront: Any) -> list[dict[str, Any]]:
    listed = cloudfront.list_continuous_deployment_policies()["ContinuousDeploymentPolicyList"]
    return [item["ContinuousDeploymentPolicy"] for item in listed.get("Items", [])]


def refuse_once(client: Any, operation: str, code: str, http_status: int) -> None:
    """The next `operation` call of `client` is answered with error `code` without taking effect
    (the service refused it: throttled, invalid), as a 4xx answer from AWS means."""
    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    refused: list[bool] = []

    def refuse(**_: Any) -> tuple[Any, dict[str, Any]] | None:
        if refused:
            return None
        refused.append(True)
        answer = {"Error": {"Code": code, "Message": f"{code} (refused by the test)"}}
        return SimpleNamespace(status_code=http_status), {
            **answer,
            "ResponseMetadata": {"HTTPStatusCode": http_status},
        }

    client.meta.events.register(event, refuse)
