"""The deployed stack against an attacker and an outage (issue 13, items 8-14), read from
template.yaml and its SAM transform (what CloudFormation deploys)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cfcd.local.deploy import transformed
from tests.unit.conftest import ROOT, TEMPLATE_PATH, load_template

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def deployed() -> dict[str, Any]:
    """The template after the SAM transform, with a site bucket given."""
    template, _, _ = transformed(TEMPLATE_PATH, "us-east-1", {"SiteBucketName": "example-site"})
    return template


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in resource["Properties"].get("Policies", []):
        document = policy.get("PolicyDocument", policy)
        found += document.get("Statement", [])
    return found


def test_the_site_bucket_is_required_and_the_only_bucket_any_role_may_touch(deployed: dict[str, Any]) -> None:
    # Given the template's site bucket parameter
    parameter = load_template()["Parameters"]["SiteBucketName"]

    # Then it has no default (CloudFormation asks for it) and no empty value passes
    assert "Default" not in parameter
    assert not re.fullmatch(parameter["AllowedPattern"], "")
    # and no role of the stack names every bucket
    assert "s3:::*" not in json.dumps(deployed)
    role = deployed["Resources"]["EnablePolicyFunctionRole"]
    s3 = [s for s in statements(role) if any(str(a).startswith("s3:") for a in _listed(s["Action"]))]
    assert [s["Resource"] for s in s3] == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${SiteBucketName}"}]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("function", ["CleanupReleaseFunction", "NotifyStatusFunction"])
def test_the_asynchronous_functions_never_drop_a_failed_event(
    deployed: dict[str, Any], function: str
) -> None:
    resources = deployed["Resources"]
    queue = {"Fn::GetAtt": ["FailedEventsQueue", "Arn"]}

    # Then a failed invocation goes to the queue after Lambda's retries
    assert resources[function]["Properties"]["DeadLetterConfig"] == {"TargetArn": queue}
    [invoke_config] = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        and r["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert invoke_config["MaximumRetryAttempts"] == 2
    # and an event EventBridge could not deliver goes there too, after a bounded retry
    [rule] = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
    ]
    [target] = rule["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": queue}
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 24 * 3600
    # and an alarm watches the queue
    alarm = resources["FailedEventsAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailedEventsQueue", "QueueName"]}}
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_the_public_approval_function_has_a_small_reserved_concurrency(deployed: dict[str, Any]) -> None:
    parameter = load_template()["Parameters"]["ApprovalReservedConcurrency"]
    reserved = deployed["Resources"]["ApprovalFunction"]["Properties"]["ReservedConcurrentExecutions"]

    # A small default (accounts keep 100 unreserved), 0 reserving nothing rather than disabling it
    assert 1 <= parameter["Default"] <= 10
    assert reserved == {
        "Fn::If": [
            "ReservesApprovalConcurrency",
            {"Ref": "ApprovalReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }


@pytest.mark.parametrize("resource", ["DeploymentTable", "ApprovalSigningSecret"])
def test_the_table_and_the_signing_secret_survive_deletion_and_replacement(resource: str) -> None:
    declared = load_template()["Resources"][resource]
    assert (declared.get("DeletionPolicy"), declared.get("UpdateReplacePolicy")) == ("Retain", "Retain")


def test_the_execution_index_projects_no_task_token() -> None:
    [index] = load_template()["Resources"]["DeploymentTable"]["Properties"]["GlobalSecondaryIndexes"]
    projection = index["Projection"]
    assert projection["ProjectionType"] in ("KEYS_ONLY", "INCLUDE")
    assert "taskToken" not in projection.get("NonKeyAttributes", [])


def test_the_signing_key_rotates_and_links_outlive_no_two_rotations() -> None:
    template = load_template()
    schedule = template["Resources"]["ApprovalSigningSecretRotation"]["Properties"]
    assert schedule["SecretId"] == {"Ref": "ApprovalSigningSecret"}
    assert schedule["RotationLambdaARN"] == {"Fn::GetAtt": ["SigningKeyRotationFunction", "Arn"]}
    # A link lives at most 7 days (approval.timeoutSeconds) and is checked with two keys: rotations
    # must be further apart than that.
    assert template["Parameters"]["SigningKeyRotationDays"]["MinValue"] > 7


def test_lint_scans_the_transformed_template_and_justifies_each_suppression() -> None:
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "checkov" in lint and "build/template.transformed.json" in lint
    config = (ROOT / ".checkov.yaml").read_text().splitlines()
    skips = [line for line in config if re.match(r"\s*-\s*CKV", line)]
    assert skips, "no suppression listed"
    for line in skips:
        assert "#" in line and len(line.split("#", 1)[1].strip()) > 20, f"unjustified: {line}"


def test_enable_continuous_deployment_may_read_the_buckets_encryption_and_key() -> None:
    role = load_template()["Resources"]["EnablePolicyFunction"]["Properties"]["Policies"][0]["Statement"]
    actions = {action for statement in role for action in _listed(statement["Action"])}
    assert {"s3:GetEncryptionConfiguration", "kms:DescribeKey", "kms:GetKeyPolicy"} <= actions
