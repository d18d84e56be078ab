"""The SAM template as CloudFormation gets it, so cfn-lint checks the IAM actions SAM writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cfcd.local import sam_transform
from tests.unit.lint import cfn_lint

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
FUNCTION = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.handler
      Runtime: python3.12
      Policies:
        - Statement:
            - Effect: Allow
              Action: {action}
              Resource: "*"
"""


def transform(source: Path, output: Path, *parameters: str) -> dict[str, object]:
    assert sam_transform.main([str(source), str(output), *parameters]) == 0
    document: dict[str, object] = json.loads(output.read_text())
    return document


def test_a_misspelled_action_in_a_sam_policy_is_found_once_transformed(tmp_path: Path) -> None:
    # Given a SAM function whose inline policy names an action CloudFront does not have
    (tmp_path / "code").mkdir()
    source = tmp_path / "template.yaml"
    source.write_text(FUNCTION.format(action="cloudfront:GetDistributionz"))

    # When the SAM source is linted, Then cfn-lint lets it pass
    assert cfn_lint(source) == []
    # When the transformed template is linted, Then the action is reported
    document = transform(source, tmp_path / "build" / "template.json")
    found = "\n".join(cfn_lint(tmp_path / "build" / "template.json"))
    assert "W3037" in found and "getdistributionz" in found
    assert "AWS::Serverless::Function" not in json.dumps(document)


def test_the_project_template_passes_cfn_lint_once_transformed(tmp_path: Path) -> None:
    # SiteBucketName has no default: CloudFormation (and the transform) needs a value.
    transform(
        ROOT / "template.yaml", tmp_path / "template.json", "--parameter", "SiteBucketName=example-site"
    )

    assert cfn_lint(tmp_path / "template.json") == []
