"""``cfcd drift``: what a distribution's CloudFormation stack would set on it, against what it has.

A promotion changes the primary through the CloudFront API; the stack that made the primary
still describes the old config, and its next update sends that config again. This reads, and
changes nothing:

1. the stack holding the distribution (DescribeStackResources by physical id,
   :func:`cfcd_common.primary_stack.find_primary_stack`);
2. its template as CloudFormation deploys it (GetTemplate, stage ``Processed``: after transforms)
   and its parameters (DescribeStacks), an SSM-typed one read from Parameter Store now: the next
   update "always fetches the latest value"
   (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html),
   so ``ResolvedValue``, the value of the last update, is not what it would set;
3. the distribution's ``DistributionConfig`` with its intrinsic functions evaluated, in the API's
   shape (:mod:`cfcd.client.cloudfront_cfn`, the mapping the local cloud's CloudFormation uses);
4. every field the template sets, compared with GetDistributionConfig.

Fields the template leaves out are not compared (CloudFormation would set CloudFront's defaults
there). What cannot be evaluated here (a ``Fn::GetAtt`` cfcd does not know, ``NoEcho``
parameters, dynamic references, properties the mapping lacks) is listed as not compared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from cfcd.client.cfn_template import (
    SSM_PARAMETER_TYPE_PREFIX,
    IntrinsicResolver,
    ResourceState,
    TemplateError,
    parse_template,
)
from cfcd.client.cloudfront_cfn import distribution_config_from_cfn, skipping_unsupported
from cfcd.client.errors import CfcdError
from cfcd_common.primary_stack import find_primary_stack

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_ssm import SSMClient

DISTRIBUTION_TYPE = "AWS::CloudFront::Distribution"
# A value this module could not evaluate: the field holding it is listed, not compared.
UNRESOLVED = "\u27e8unresolved\u27e9 "
_STACK_ARN = re.compile(r"^arn:(?P<partition>[^:]+):cloudformation:(?P<region>[^:]+):(?P<account>\d+):stack/")
# Which key tells the items of a list apart (origins by Id, cache behaviors by PathPattern, ...).
_ITEM_KEYS = ("Id", "PathPattern", "ErrorCode", "EventType", "HeaderName")


class DriftError(CfcdError):
    """Drift could not be worked out (no stack, AWS refused a read, a template cfcd cannot read)."""

    exit_code = 2


@dataclass(frozen=True)
class Difference:
    path: str
    stack: Any  # what the template sets (None: the template has it, the distribution does not)
    live: Any  # what the distribution has (None: it lacks it)


@dataclass(frozen=True)
class DriftReport:
    distribution_id: str
    stack_name: str
    logical_resource_id: str
    differences: list[Difference]
    compared: int  # fields compared
    not_compared: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.differences)


@dataclass(frozen=True)
class DriftClients:
    cloudformation: CloudFormationClient
    cloudfront: CloudFrontClient
    ssm: SSMClient


def _bucket_attributes(name: str, partition: str, region: str) -> dict[str, str]:
    # AWS::S3::Bucket return values:
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html#aws-resource-s3-bucket-return-values
    return {
        "Arn": f"arn:{partition}:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
    }


def _known_attributes(resource_type: str, physical_id: str, partition: str, region: str) -> dict[str, str]:
    """The GetAtt values a distribution's properties commonly use, from the physical id alone."""
    if resource_type == "AWS::S3::Bucket":
        return _bucket_attributes(physical_id, partition, region)
    if resource_type.startswith("AWS::CloudFront::"):
        return {"Id": physical_id}  # origin access controls, cache and other policies, ...
    return {}


class _StackResolver(IntrinsicResolver):
    """Values it cannot know become UNRESOLVED markers instead of errors."""

    def __init__(self, *args: Any, exports: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._exports = exports

    def unknown_attribute(self, logical_id: str, attribute: str) -> Any:
        return f"{UNRESOLVED}Fn::GetAtt {logical_id}.{attribute}"

    def _functions(self) -> dict[str, Any]:
        return {**super()._functions(), "Fn::ImportValue": self._import_value}

    def _import_value(self, argument: Any) -> str:
        name = str(self.resolve(argument))
        return self._exports.get(name, f"{UNRESOLVED}Fn::ImportValue {name}")


def check_drift(clients: DriftClients, distribution_id: str) -> DriftReport:
    try:
        return _check_drift(clients, distribution_id)
    except (ClientError, BotoCoreError) as error:
        raise DriftError(f"cannot work out the drift of {distribution_id}: {error}") from error
    except TemplateError as error:
        raise DriftError(f"cannot evaluate the stack's template for {distribution_id}: {error}") from error


def _check_drift(clients: DriftClients, distribution_id: str) -> DriftReport:
    stack = find_primary_stack(clients.cloudformation, distribution_id)
    if stack is None:
        raise DriftError(f"{distribution_id} belongs to no CloudFormation stack of this region")
    match = _STACK_ARN.match(stack.stackId)
    if match is None:
        raise DriftError(f"unexpected stack id {stack.stackId}")
    resources = _stack_resources(clients.cloudformation, stack.stackId)
    logical_id = stack.logicalResourceId or next(
        (name for name, (_, physical) in resources.items() if physical == distribution_id), None
    )
    if logical_id is None:
        raise DriftError(f"{distribution_id} is not among the resources of stack {stack.stackName}")
    template = parse_template(
        clients.cloudformation.get_template(StackName=stack.stackId, TemplateStage="Processed")[
            "TemplateBody"
        ]
    )
    described = clients.cloudformation.describe_stacks(StackName=stack.stackId)["Stacks"][0]
    not_compared: list[str] = []
    resolver = _StackResolver(
        _parameter_values(clients.ssm, template.get("Parameters", {}), described.get("Parameters", [])),
        template.get("Conditions", {}),
        template.get("Mappings", {}),
        match["region"],
        stack.stackName,
        account_id=match["account"],
        stack_id=stack.stackId,
        exports=_exports(clients.cloudformation),
    )
    for name, (resource_type, physical_id) in resources.items():
        attributes = _known_attributes(resource_type, physical_id, match["partition"], match["region"])
        resolver.resources[name] = ResourceState(ref=physical_id, attributes=attributes)
    definition = template.get("Resources", {}).get(logical_id, {})
    if definition.get("Type") != DISTRIBUTION_TYPE:
        raise DriftError(f"{logical_id} of stack {stack.stackName} is not an {DISTRIBUTION_TYPE}")
    cfn_config = resolver.resolve(definition.get("Properties", {}).get("DistributionConfig", {}))
    live: dict[str, Any] = dict(
        clients.cloudfront.get_distribution_config(Id=distribution_id)["DistributionConfig"]
    )
    with skipping_unsupported() as skipped:
        expected = distribution_config_from_cfn(cfn_config, live["CallerReference"])
    not_compared += [f"{name} (not mapped by cfcd)" for name in skipped]
    comparison = _Comparison()
    comparison.compare("DistributionConfig", expected, live)
    return DriftReport(
        distribution_id=distribution_id,
        stack_name=stack.stackName,
        logical_resource_id=logical_id,
        differences=comparison.differences,
        compared=comparison.compared,
        not_compared=not_compared + comparison.not_compared,
    )


def _stack_resources(cloudformation: CloudFormationClient, stack_id: str) -> dict[str, tuple[str, str]]:
    """Logical id -> (type, physical id), every page (DescribeStackResources stops at 100)."""
    resources: dict[str, tuple[str, str]] = {}
    kwargs: dict[str, Any] = {"StackName": stack_id}
    while True:
        page = cloudformation.list_stack_resources(**kwargs)
        for summary in page["StackResourceSummaries"]:
            if summary.get("PhysicalResourceId"):
                resources[summary["LogicalResourceId"]] = (
                    summary["ResourceType"],
                    summary["PhysicalResourceId"],
                )
        if not page.get("NextToken"):
            return resources
        kwargs["NextToken"] = page["NextToken"]


def _exports(cloudformation: CloudFormationClient) -> dict[str, str]:
    exports: dict[str, str] = {}
    kwargs: dict[str, Any] = {}
    while True:
        page = cloudformation.list_exports(**kwargs)
        exports |= {export["Name"]: export["Value"] for export in page.get("Exports", [])}
        if not page.get("NextToken"):
            return exports
        kwargs["NextToken"] = page["NextToken"]


def _parameter_values(ssm: SSMClient, declared: Mapping[str, Any], described: list[Any]) -> dict[str, Any]:
    """Each parameter's value as the stack's next update would read it."""
    given = {parameter["ParameterKey"]: parameter.get("ParameterValue", "") for parameter in described}
    values: dict[str, Any] = {}
    for name, declaration in declared.items():
        value: Any = given.get(name, declaration.get("Default", ""))
        kind = str(declaration.get("Type", "String"))
        if declaration.get("NoEcho") and value == "****":
            value = f"{UNRESOLVED}NoEcho parameter {name}"
        elif kind.startswith(SSM_PARAMETER_TYPE_PREFIX):
            value = ssm.get_parameter(Name=str(value))["Parameter"]["Value"]
        if "List" in kind and UNRESOLVED not in str(value):
            value = [item.strip() for item in str(value).split(",")]
        values[name] = value
    return values


class _Comparison:
    """Walks what the template sets; every leaf is compared with the live config."""

    def __init__(self) -> None:
        self.differences: list[Difference] = []
        self.not_compared: list[str] = []
        self.compared = 0

    def compare(self, path: str, expected: Any, live: Any) -> None:
        if _unresolved(expected):
            self.not_compared.append(f"{path} ({_reasons(expected)})")
        elif isinstance(expected, dict):
            live_fields = live if isinstance(live, dict) else {}
            if "Quantity" in expected:  # the API's lists: {Quantity, Items} and sometimes more
                self._compare_items(
                    f"{path}.Items", expected.get("Items") or [], live_fields.get("Items") or []
                )
            for key, value in expected.items():
                if key not in ("Quantity", "Items"):
                    self.compare(f"{path}.{key}", value, live_fields.get(key))
        else:
            self.compared += 1
            if expected != live:
                self.differences.append(Difference(path, expected, live))

    def _compare_items(self, path: str, expected: list[Any], live: list[Any]) -> None:
        key = _item_key(expected + live)
        if key is None and any(_unresolved(item) for item in expected):
            self.not_compared.append(f"{path} ({'; '.join(filter(None, map(_reasons, expected)))})")
        elif key is None:
            self.compared += 1
            if sorted(map(repr, expected)) != sorted(map(repr, live)):  # order carries no meaning here
                self.differences.append(Difference(path, expected, live))
        else:
            self._compare_by_key(path, key, expected, live)

    def _compare_by_key(self, path: str, key: str, expected: list[Any], live: list[Any]) -> None:
        live_by_key = {item.get(key): item for item in live}
        for item in expected:
            self.compare(f"{path}[{item.get(key)}]", item, live_by_key.pop(item.get(key), None))
        for extra_key, item in live_by_key.items():
            self.compared += 1
            self.differences.append(Difference(f"{path}[{extra_key}]", None, item))


def _item_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    return next((key for key in _ITEM_KEYS if all(key in item for item in items)), None)


def _unresolved(value: Any) -> bool:
    return bool(_reasons(value))


def _reasons(value: Any) -> str:
    """Why a value cannot be compared ("" when it can): the markers and dynamic references in it."""
    if isinstance(value, str):
        if UNRESOLVED in value:
            return value.split(UNRESOLVED, 1)[1]
        return "a dynamic reference" if "{{resolve:" in value else ""
    return ""


def describe(report: DriftReport) -> list[str]:
    """The report as lines for a person."""
    where = f"stack {report.stack_name} ({report.logical_resource_id})"
    if report.drifted:
        lines = [f"{report.distribution_id} differs from what {where} would set:"]
        lines += [
            f"  {difference.path}: stack {_show(difference.stack)}, live {_show(difference.live)}"
            for difference in report.differences
        ]
    else:
        lines = [f"{report.distribution_id} is what {where} would set ({report.compared} fields compared)."]
    lines += [f"  not compared: {note}" for note in report.not_compared]
    return lines


def _show(value: Any) -> str:
    return "(absent)" if value is None else repr(value) if not isinstance(value, str) else f'"{value}"'
