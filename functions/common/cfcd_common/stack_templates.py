"""What ValidateInput can tell about a staging stack template before anything is created.

A template given inline (`templateBody`) must declare the outputs cfcd reads after the stack is
complete; finding out then would leave a stack (and maybe a staging distribution) behind for a
release that could never work. A `templateUrl` is only read by CloudFormation: CheckStack catches
a missing output there (StackFailed).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from cfcd_common.errors import InvalidInput
from cfcd_common.models import StackStaging, Traffic

STAGING_DISTRIBUTION_OUTPUT = "StagingDistributionId"
POLICY_OUTPUT = "ContinuousDeploymentPolicyId"


class _CloudFormationYaml(yaml.SafeLoader):
    """Reads CloudFormation's short intrinsic tags (!Ref, !Sub, ...) as plain values."""


def _ignore_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


_CloudFormationYaml.add_multi_constructor("!", _ignore_tag)


def parse_template(body: str, loader: type[yaml.SafeLoader] = _CloudFormationYaml) -> dict[str, Any]:
    """A JSON or YAML template as a mapping; ValueError saying why when it is not one. `loader`
    decides what the intrinsic tags become (cfcd.client.cfn_template evaluates them)."""
    try:
        template = json.loads(body)
    except ValueError:
        try:
            template = yaml.load(body, Loader=loader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as error:
            raise ValueError(f"neither JSON nor YAML ({error})") from None
    if not isinstance(template, dict):
        raise ValueError("not a CloudFormation template (no top-level mapping)")
    return template


def template_outputs(body: str) -> set[str]:
    """The output names a JSON or YAML template declares; InvalidInput if it is neither."""
    try:
        template = parse_template(body)
    except ValueError as error:
        raise InvalidInput(f"staging.templateBody: {error}") from None
    outputs = template.get("Outputs") or {}
    return {str(name) for name in outputs} if isinstance(outputs, dict) else set()


def check_template_body(staging: StackStaging, traffic: Traffic | None) -> None:
    """Refuse an inline template that cannot give cfcd a staging distribution (or a policy)."""
    if staging.templateBody is None:
        return
    outputs = template_outputs(staging.templateBody)
    if STAGING_DISTRIBUTION_OUTPUT not in outputs:
        raise InvalidInput(f"staging.templateBody: the template has no {STAGING_DISTRIBUTION_OUTPUT} output")
    if traffic is None and POLICY_OUTPUT not in outputs:
        raise InvalidInput(f"traffic: required when the staging template has no {POLICY_OUTPUT} output")
