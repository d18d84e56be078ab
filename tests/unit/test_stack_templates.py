"""ValidateInput's look at an inline staging template: the outputs cfcd reads must be declared."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from cfcd_common.errors import InvalidInput
from cfcd_common.models import HeaderTraffic, StackStaging, Traffic, WeightTraffic
from cfcd_common.stack_templates import check_template_body, template_outputs
from functions.validate_input import app as validate_app
from tests.unit.conftest import EXECUTION_ARN, ROOT

pytestmark = pytest.mark.unit

HEADER = HeaderTraffic(type="SingleHeader", header="aws-cf-cd-env", value="staging")
WEIGHT = WeightTraffic(type="SingleWeight", weight=0.1)

# Every short intrinsic form a hand-written staging template uses, scalar, list and mapping nodes.
YAML_WITH_SHORT_TAGS = textwrap.dedent(
    """\
    AWSTemplateFormatVersion: 2010-09-09
    Parameters:
      OriginPath: {Type: String}
      UseLogs: {Type: String, Default: "no"}
    Conditions:
      WithLogs: !Equals [!Ref UseLogs, "yes"]
    Resources:
      StagingDistribution:
        Type: AWS::CloudFront::Distribution
        Properties:
          DistributionConfig:
            Staging: true
            Comment: !Sub
              - "staging of ${Path}"
              - Path: !Ref OriginPath
            Logging: !If [WithLogs, {Bucket: logs.s3.amazonaws.com}, !Ref AWS::NoValue]
            Origins:
              - Id: site
                DomainName: !Join [".", [!Ref AWS::StackName, s3, amazonaws, com]]
                OriginPath: !Ref OriginPath
    Outputs:
      StagingDistributionId:
        Value: !Ref StagingDistribution
      StagingDomainName:
        Value: !GetAtt StagingDistribution.DomainName
      ContinuousDeploymentPolicyId:
        Value: !GetAtt [Policy, Id]
    """
)


def stack_staging(body: str) -> StackStaging:
    return StackStaging(mode="stack", stackName="my-site-staging", templateBody=body)


def json_template(*outputs: str) -> str:
    return json.dumps(
        {
            "Resources": {"StagingDistribution": {"Type": "AWS::CloudFront::Distribution"}},
            "Outputs": {name: {"Value": {"Ref": "StagingDistribution"}} for name in outputs},
        }
    )


def test_a_json_template_lists_its_outputs() -> None:
    body = json_template("StagingDistributionId", "ContinuousDeploymentPolicyId")

    assert template_outputs(body) == {"StagingDistributionId", "ContinuousDeploymentPolicyId"}


def test_a_yaml_template_with_short_intrinsic_tags_is_read() -> None:
    # Given CloudFormation YAML that PyYAML's SafeLoader alone refuses (!Ref, !Sub, !GetAtt, ...)
    # When its outputs are read
    outputs = template_outputs(YAML_WITH_SHORT_TAGS)
    # Then every output is found
    assert outputs == {"StagingDistributionId", "StagingDomainName", "ContinuousDeploymentPolicyId"}


@pytest.mark.parametrize("example", ["staging-header.yaml", "staging-weight.yaml"])
@pytest.mark.parametrize("traffic", [None, HEADER], ids=["policy-from-template", "with-traffic"])
def test_the_shipped_examples_pass(example: str, traffic: Traffic | None) -> None:
    body = (ROOT / "examples" / example).read_text()

    check_template_body(stack_staging(body), traffic)  # no InvalidInput

    assert {"StagingDistributionId", "ContinuousDeploymentPolicyId"} <= template_outputs(body)


@pytest.mark.parametrize("traffic", [None, HEADER, WEIGHT], ids=["no-traffic", "header", "weight"])
@pytest.mark.parametrize(
    "body",
    [
        json_template("ContinuousDeploymentPolicyId"),
        json.dumps({"Resources": {}}),
        YAML_WITH_SHORT_TAGS.replace("StagingDistributionId:", "DistributionId:"),
    ],
    ids=["json-policy-only", "json-no-outputs", "yaml-renamed-output"],
)
def test_a_template_without_the_staging_distribution_output_is_invalid_input(
    body: str, traffic: Traffic | None
) -> None:
    with pytest.raises(InvalidInput, match=r"^staging\.templateBody: .*no StagingDistributionId output"):
        check_template_body(stack_staging(body), traffic)


def test_without_a_policy_output_traffic_is_required() -> None:
    # Given a template that makes a staging distribution but no continuous deployment policy
    body = json_template("StagingDistributionId")
    # When no traffic is given, Then nobody could make the policy: refused, naming the field
    with pytest.raises(InvalidInput, match=r"^traffic: required .*ContinuousDeploymentPolicyId"):
        check_template_body(stack_staging(body), None)
    # And with traffic cfcd makes the policy itself, so the template is fine
    check_template_body(stack_staging(body), WEIGHT)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "just some words",
        "- a\n- list\n",
        "[1, 2, 3]",
        '"a JSON string"',
        "Outputs: [unclosed",
        "{\n  'Outputs': {\n",
        "Resources:\n\tTabbed: true\n",
    ],
    ids=["empty", "scalar", "yaml-list", "json-list", "json-string", "bad-yaml", "bad-json", "tab-indent"],
)
def test_a_body_that_is_not_a_template_is_invalid_input(body: str) -> None:
    with pytest.raises(InvalidInput, match=r"^staging\.templateBody: "):
        check_template_body(stack_staging(body), HEADER)


def test_a_template_url_is_left_to_cloudformation() -> None:
    staging = StackStaging(
        mode="stack", stackName="my-site-staging", templateUrl="https://b.s3.amazonaws.com/t"
    )

    check_template_body(staging, None)  # nothing to read here: CheckStack catches a missing output


def test_validate_input_refuses_the_template_before_any_aws_call() -> None:
    # Given a client that fails the test if ValidateInput ever reaches CloudFront
    class NoCloudFront:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"CloudFront {name} called for an input that is already invalid")

    body = json_template("ContinuousDeploymentPolicyId")
    raw = {
        "primaryDistributionId": "E2QWRUHAPOMQZL",
        "staging": {"mode": "stack", "stackName": "my-site-staging", "templateBody": body},
        "probe": {"path": "/index.html", "expect": {"status": 200, "bodyContains": "v2"}},
    }
    request = validate_app.ValidateRequest(executionArn=EXECUTION_ARN, executionName="release-2", input=raw)
    # When it validates, Then the missing output is reported as the input's fault
    with pytest.raises(InvalidInput, match=r"^staging\.templateBody: .*StagingDistributionId"):
        validate_app.validate(NoCloudFront(), request)  # type: ignore[arg-type]
