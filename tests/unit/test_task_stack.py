"""DeployStagingStack and CheckStack on moto's CloudFormation and the emulated CloudFront."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cfcd_common.errors import DeployTimeout, StackFailed, UnexpectedError
from functions.check_stack import app as check_app
from functions.deploy_stack import app as deploy_app
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, use_client
from tests.unit.lost_answers import create_primary

pytestmark = pytest.mark.unit

STAGING_STACK_ROLE_ARN = "arn:aws:iam::123456789012:role/cfcd-StagingStackRole-XMPL"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def staging_template(outputs: dict[str, str]) -> str:
    # moto's CloudFormation has no CloudFront: an SSM parameter stands in, the outputs are what matter.
    return json.dumps(
        {
            "Parameters": {"OriginPath": {"Type": "String"}},
            "Resources": {
                "Marker": {
                    "Type": "AWS::SSM::Parameter",
                    "Properties": {"Name": "/cfcd/staging", "Type": "String", "Value": {"Ref": "OriginPath"}},
                }
            },
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
    )


def deploy_event(body: str, origin_path: str = "/2.0.0") -> dict[str, Any]:
    return {
        "executionArn": EXECUTION_ARN,
        "staging": {
            "mode": "stack",
            "stackName": "site-staging",
            "templateBody": body,
            "templateUrl": None,
            "parameters": {"OriginPath": origin_path},
        },
        "deployTimeoutSeconds": 60,
    }


PRIMARY_ID = "E2QWRUHAPOMQZL"


@pytest.fixture
def cloudformation(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client("cloudformation", region_name="us-east-1")
    use_client(monkeypatch, "cloudformation", client)
    monkeypatch.setenv("STAGING_STACK_ROLE_ARN", STAGING_STACK_ROLE_ARN)
    return client


@pytest.fixture
def site(emulated_cloudfront: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A primary and a staging distribution of the same config, as a staging stack would make it."""
    use_client(monkeypatch, "cloudfront", emulated_cloudfront)
    primary = create_primary(emulated_cloudfront)
    etag = emulated_cloudfront.get_distribution(Id=primary["Id"])["ETag"]
    staging = emulated_cloudfront.copy_distribution(
        PrimaryDistributionId=primary["Id"], Staging=True, IfMatch=etag, CallerReference="stack-made"
    )["Distribution"]
    return primary["Id"], staging["Id"]


def check_event(deadline: int = 2**31, primary_id: str = PRIMARY_ID) -> dict[str, Any]:
    return {
        "executionArn": EXECUTION_ARN,
        "primaryDistributionId": primary_id,
        "stackName": "site-staging",
        "pollSeconds": 10,
        "timeoutSeconds": 200,
        "deadline": deadline,
    }


def stack_role(cloudformation: Any) -> str | None:
    role: str | None = cloudformation.describe_stacks(StackName="site-staging")["Stacks"][0].get("RoleARN")
    return role


def test_a_new_stack_is_created_and_its_outputs_name_the_staging_side(
    cloudformation: Any, site: tuple[str, str], lambda_context: FakeLambdaContext
) -> None:
    primary_id, staging_id = site
    body = staging_template({"StagingDistributionId": staging_id, "ContinuousDeploymentPolicyId": "cd-1"})
    started = deploy_app.lambda_handler(deploy_event(body), lambda_context)
    assert started["operation"] == "create"
    assert started["stackName"] == "site-staging"
    checked = check_app.lambda_handler(check_event(primary_id=primary_id), lambda_context)
    assert checked == {
        "done": True,
        "status": "CREATE_COMPLETE",
        "stagingDistributionId": staging_id,
        "policyId": "cd-1",
        "nextWaitSeconds": 0,
    }


def test_an_existing_stack_is_updated_and_an_unchanged_one_is_fine(
    cloudformation: Any, site: tuple[str, str], lambda_context: FakeLambdaContext
) -> None:
    primary_id, staging_id = site
    body = staging_template({"StagingDistributionId": staging_id})
    deploy_app.lambda_handler(deploy_event(body, "/1.0.0"), lambda_context)
    updated = deploy_app.lambda_handler(deploy_event(body, "/2.0.0"), lambda_context)
    assert updated["operation"] == "update"
    value = cloudformation.describe_stacks(StackName="site-staging")["Stacks"][0]["Parameters"][0][
        "ParameterValue"
    ]
    assert value == "/2.0.0"
    assert check_app.lambda_handler(check_event(primary_id=primary_id), lambda_context)["policyId"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("PriceClass", "PriceClass_100"), ("HttpVersion", "http1.1"), ("IsIPV6Enabled", False)],
)
def test_a_staging_distribution_differing_from_the_primary_in_a_locked_field_is_stack_failed(
    cloudformation: Any,
    site: tuple[str, str],
    emulated_cloudfront: Any,
    lambda_context: FakeLambdaContext,
    field: str,
    value: Any,
) -> None:
    # Given the staging stack made a staging distribution that differs from the primary in a
    # field CloudFront refuses to change while a policy is attached (and promotion would copy)
    primary_id, staging_id = site
    current = emulated_cloudfront.get_distribution_config(Id=staging_id)
    emulated_cloudfront.update_distribution(
        Id=staging_id,
        IfMatch=current["ETag"],
        DistributionConfig={**current["DistributionConfig"], field: value},
    )
    deploy_app.lambda_handler(
        deploy_event(staging_template({"StagingDistributionId": staging_id})), lambda_context
    )
    # When CheckStack sees the stack complete, Then the release fails naming the field, before
    # any policy sends a viewer to staging
    with pytest.raises(StackFailed, match=f"differs from the primary {primary_id} in {field} "):
        check_app.lambda_handler(check_event(primary_id=primary_id), lambda_context)


def test_a_stack_update_cloudfront_refuses_while_the_policy_is_attached_is_stack_failed_naming_the_field(
    cloudformation: Any, emulated_cloudfront: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given the example header stack of a primary, its policy attached (an earlier release)
    primary = create_primary(emulated_cloudfront)
    body = (EXAMPLES / "staging-header.yaml").read_text()

    def event(price_class: str) -> dict[str, Any]:
        parameters = {
            "PrimaryDistributionId": primary["Id"],
            "StaticResourceBucketName": "site",
            "OriginAccessControlId": "E1OACEXAMPLE",
            "OriginPath": "/2.0.0",
            "PriceClass": price_class,
        }
        return {**deploy_event(body), "staging": {**deploy_event(body)["staging"], "parameters": parameters}}

    deploy_app.lambda_handler(event("PriceClass_All"), lambda_context)
    [output] = [
        o
        for o in cloudformation.describe_stacks(StackName="site-staging")["Stacks"][0]["Outputs"]
        if o["OutputKey"] == "ContinuousDeploymentPolicyId"
    ]
    current = emulated_cloudfront.get_distribution_config(Id=primary["Id"])
    emulated_cloudfront.update_distribution(
        Id=primary["Id"],
        IfMatch=current["ETag"],
        DistributionConfig={
            **current["DistributionConfig"],
            "ContinuousDeploymentPolicyId": output["OutputValue"],
        },
    )

    # When the next release's stack changes the staging distribution's price class, Then
    # CloudFront's refusal ends the release as StackFailed, naming the field and what may change
    with pytest.raises(StackFailed, match=r"UpdateStack refused: IllegalUpdate: .*PriceClass.*change only"):
        deploy_app.lambda_handler(event("PriceClass_100"), lambda_context)


def test_cloudformation_acts_with_the_staging_stack_role_on_create_and_update(
    cloudformation: Any, lambda_context: FakeLambdaContext
) -> None:
    # Given the function's StagingStackRole (the function's own role has no CloudFront rights)
    body = staging_template({"StagingDistributionId": "E3STAGINGXMPL1"})

    # When the staging stack is created
    deploy_app.lambda_handler(deploy_event(body, "/1.0.0"), lambda_context)

    # Then CloudFormation was told to act with that role
    assert stack_role(cloudformation) == STAGING_STACK_ROLE_ARN

    # And given a stack associated with another role (made by hand, or before the role was passed)
    cloudformation.update_stack(
        StackName="site-staging",
        TemplateBody=body,
        Parameters=[{"ParameterKey": "OriginPath", "ParameterValue": "/1.5.0"}],
        RoleARN="arn:aws:iam::123456789012:role/someone-else",
    )

    # When the next release updates it, Then the update names the staging stack role again
    assert deploy_app.lambda_handler(deploy_event(body, "/2.0.0"), lambda_context)["operation"] == "update"
    assert stack_role(cloudformation) == STAGING_STACK_ROLE_ARN


def test_without_the_staging_stack_role_nothing_is_deployed(
    cloudformation: Any, lambda_context: FakeLambdaContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a function whose environment lost STAGING_STACK_ROLE_ARN
    monkeypatch.delenv("STAGING_STACK_ROLE_ARN")

    # When a release deploys its staging stack, Then it fails naming the variable, and no stack exists
    with pytest.raises(UnexpectedError, match="STAGING_STACK_ROLE_ARN: Field required"):
        deploy_app.lambda_handler(deploy_event(staging_template({})), lambda_context)
    assert cloudformation.list_stacks()["StackSummaries"] == []


def test_a_stack_without_the_staging_output_is_stack_failed(
    cloudformation: Any, lambda_context: FakeLambdaContext
) -> None:
    deploy_app.lambda_handler(deploy_event(staging_template({"Other": "x"})), lambda_context)
    with pytest.raises(StackFailed, match="no StagingDistributionId output"):
        check_app.lambda_handler(check_event(), lambda_context)


def describe(status: str, reason: str = "") -> dict[str, Any]:
    stack: dict[str, Any] = {
        "StackName": "site-staging",
        "CreationTime": "2025-01-01T00:00:00Z",
        "StackStatus": status,
    }
    if reason:
        stack["StackStatusReason"] = reason
    return {"Stacks": [stack]}


@pytest.mark.parametrize(
    ("status", "at", "expected"),
    [
        ("CREATE_IN_PROGRESS", 100, {"done": False, "nextWaitSeconds": 25}),
        ("CREATE_IN_PROGRESS", 200, DeployTimeout),
        ("ROLLBACK_COMPLETE", 100, StackFailed),
        ("UPDATE_ROLLBACK_IN_PROGRESS", 100, StackFailed),
        ("CREATE_FAILED", 100, StackFailed),
    ],
)
def test_check_stack_waits_until_the_deadline_and_fails_on_rollback(
    aws: None, status: str, at: int, expected: Any
) -> None:
    client = boto3.client("cloudformation", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_response(
        "describe_stacks", describe(status, "Resource creation cancelled"), {"StackName": "site-staging"}
    )
    request = check_app.CheckStackRequest.model_validate(check_event(deadline=200))
    # Nothing is complete: CloudFront is not asked
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    with stubber, Stubber(cloudfront):
        if isinstance(expected, dict):
            outcome = check_app.check_stack(client, cloudfront, request, at)
            assert outcome.model_dump(include=set(expected)) == expected
        else:
            with pytest.raises(expected):
                check_app.check_stack(client, cloudfront, request, at)


def test_a_rolled_back_stack_is_not_updated(cloudformation: Any, lambda_context: FakeLambdaContext) -> None:
    stubber = Stubber(cloudformation)
    stubber.add_response("describe_stacks", describe("ROLLBACK_COMPLETE"), {"StackName": "site-staging"})
    request = deploy_app.DeployStackRequest.model_validate(deploy_event(staging_template({})))
    with stubber, pytest.raises(StackFailed, match="delete it first"):
        deploy_app.start_stack(cloudformation, request, STAGING_STACK_ROLE_ARN)
