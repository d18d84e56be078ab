"""The example staging stacks on moto's CloudFormation with the CloudFront resource types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cfcd.local import cloudfront, moto_patches
from tests.unit.aws_mock import mocked_aws
from tests.unit.lint import cfn_lint

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TEMPLATES = {
    "staging-header.yaml": {
        "Type": "SingleHeader",
        "SingleHeaderConfig": {"Header": "aws-cf-cd-env", "Value": "staging"},
    },
    "staging-weight.yaml": {
        "Type": "SingleWeight",
        "SingleWeightConfig": {
            "Weight": 0.15,
            "SessionStickinessConfig": {"IdleTTL": 300, "MaximumTTL": 600},
        },
    },
}


@pytest.fixture
def clients() -> Iterator[tuple[Any, Any]]:
    moto_patches.install()
    cloudfront.set_propagation_seconds(0)
    with mocked_aws():
        yield (
            boto3.client("cloudformation", region_name="us-east-1"),
            boto3.client("cloudfront", region_name="us-east-1"),
        )


def parameters(origin_path: str = "/2.0.0") -> list[dict[str, str]]:
    values = {
        "PrimaryDistributionId": "E2QWRUHAPOMQZL",
        "StaticResourceBucketName": "site-bucket",
        "OriginAccessControlId": "E1OACEXAMPLE",
        "OriginPath": origin_path,
    }
    return [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]


def outputs(cfn: Any, stack_name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_example_template_passes_cfn_lint(template: str) -> None:
    assert cfn_lint(EXAMPLES / template) == []


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_example_stack_creates_staging_distribution_and_policy(
    clients: tuple[Any, Any], template: str
) -> None:
    cfn, client = clients

    # When the example stack is created
    cfn.create_stack(
        StackName="staging", TemplateBody=(EXAMPLES / template).read_text(), Parameters=parameters()
    )

    # Then its outputs name a staging distribution serving the release and the policy routing to it
    assert cfn.describe_stacks(StackName="staging")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    out = outputs(cfn, "staging")
    staging = client.get_distribution(Id=out["StagingDistributionId"])["Distribution"]
    config = staging["DistributionConfig"]
    assert config["Staging"] is True
    origin = config["Origins"]["Items"][0]
    assert (origin["DomainName"], origin["OriginPath"], origin["OriginAccessControlId"]) == (
        "site-bucket.s3.us-east-1.amazonaws.com",
        "/2.0.0",
        "E1OACEXAMPLE",
    )
    assert config["DefaultCacheBehavior"]["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    policy = client.get_continuous_deployment_policy_config(Id=out["ContinuousDeploymentPolicyId"])[
        "ContinuousDeploymentPolicyConfig"
    ]
    assert policy["StagingDistributionDnsNames"]["Items"] == [staging["DomainName"]]
    assert policy["TrafficConfig"] == TEMPLATES[template]
    assert policy["Enabled"] is True


def test_stack_update_and_delete_go_through_the_same_backend(clients: tuple[Any, Any]) -> None:
    # Given the header stack serving /2.0.0
    cfn, client = clients
    body = (EXAMPLES / "staging-header.yaml").read_text()
    cfn.create_stack(StackName="staging", TemplateBody=body, Parameters=parameters())
    staging_id = outputs(cfn, "staging")["StagingDistributionId"]
    etag_before = client.get_distribution(Id=staging_id)["ETag"]

    # When it is updated to /3.0.0
    cfn.update_stack(StackName="staging", TemplateBody=body, Parameters=parameters("/3.0.0"))

    # Then the same staging distribution now serves /3.0.0, with a new ETag
    got = client.get_distribution_config(Id=staging_id)
    assert got["DistributionConfig"]["Origins"]["Items"][0]["OriginPath"] == "/3.0.0"
    assert got["ETag"] != etag_before
    assert outputs(cfn, "staging")["StagingDistributionId"] == staging_id

    # When the stack is deleted, Then the distribution and the policy are gone
    cfn.delete_stack(StackName="staging")
    assert client.list_distributions()["DistributionList"]["Quantity"] == 0
    assert client.list_continuous_deployment_policies()["ContinuousDeploymentPolicyList"]["Quantity"] == 0


def test_primary_example_passes_cfn_lint() -> None:
    assert cfn_lint(EXAMPLES / "primary.yaml") == []


def test_primary_example_stack_is_the_seed_site_reading_its_origin_path_from_ssm(
    clients: tuple[Any, Any],
) -> None:
    # Given the origin path in SSM
    cfn, client = clients
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/cfcd/site/origin-path", Value="/1.0.0", Type="String"
    )

    # When the primary example is deployed
    cfn.create_stack(
        StackName="site",
        TemplateBody=(EXAMPLES / "primary.yaml").read_text(),
        Parameters=[{"ParameterKey": "OriginPath", "ParameterValue": "/cfcd/site/origin-path"}],
    )

    # Then its distribution reads the bucket through the stack's origin access control at /1.0.0
    out = outputs(cfn, "site")
    config = client.get_distribution_config(Id=out["DistributionId"])["DistributionConfig"]
    origin = config["Origins"]["Items"][0]
    assert (origin["DomainName"], origin["OriginPath"], origin["OriginAccessControlId"]) == (
        f"{out['BucketName']}.s3.us-east-1.amazonaws.com",
        "/1.0.0",
        out["OriginAccessControlId"],
    )
    control = client.get_origin_access_control(Id=out["OriginAccessControlId"])["OriginAccessControl"]
    assert control["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    # And only that distribution may read the bucket
    policy = json.loads(
        boto3.client("s3", region_name="us-east-1").get_bucket_policy(Bucket=out["BucketName"])["Policy"]
    )
    (statement,) = policy["Statement"]
    assert statement["Condition"]["StringEquals"]["AWS:SourceArn"] == (
        f"arn:aws:cloudfront::123456789012:distribution/{out['DistributionId']}"
    )
