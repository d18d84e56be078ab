"""moto's CloudFormation, as the local cloud runs it: stack updates apply what the resolved properties
change, and stacks answer the calls ``cfcd drift`` and ValidateInput make.

moto picks the resources a stack update modifies from the template *text*: a resource whose
definition did not change is modified only when a parameter it names with ``Ref`` was given a
new value. An update that changes only what the template resolves to -- a new value behind an
``AWS::SSM::Parameter::Value<String>`` parameter (CloudFormation "always fetches the latest
value" of those on every update:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html),
a parameter used through ``Fn::Sub`` -- would end UPDATE_COMPLETE and leave the resource as it
was. :func:`update_resolved` also modifies every resource whose properties, resolved before and
after the update, differ, as CloudFormation does.

The other two complete moto's answers: DescribeStackResources by ``PhysicalResourceId`` ("the
associated resources of the stack that the resource belongs to",
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResources.html),
and DescribeStacks naming an SSM-typed parameter's key as ``ParameterValue`` and its value as
``ResolvedValue`` (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html;
moto put the value in ``ParameterValue``).

Plugged into moto by :mod:`cfcd.local.moto_patches`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.parsing import clean_json, parse_and_update_resource
from moto.cloudformation.responses import StackResourceDTO
from moto.core.responses import ActionResult

from cfcd.client.cfn_template import SSM_PARAMETER_TYPE_PREFIX


def _resolved_properties(resource_map: Any, definition: dict[str, Any]) -> Any:
    return clean_json(definition.get("Properties", {}), resource_map)


def update_resolved(
    original: Callable[..., None], resource_map: Any, template: dict[str, Any], parameters: Any = None
) -> None:
    """``ResourceMap.update``, then every unchanged definition whose resolved properties changed."""
    by_text = resource_map.build_resource_diff(template, parameters)
    old = resource_map._resource_json_map
    left_alone = [
        name
        for name, definition in template["Resources"].items()
        if name in old and name not in by_text["Modify"] and definition.get("Condition") is None
    ]
    # Resolved with the parameter values the stack has now (moto reloads them during the update).
    before = {name: _resolved_properties(resource_map, old[name]) for name in left_alone}
    original(resource_map, template, parameters)
    for name in left_alone:
        definition = template["Resources"][name]
        if _resolved_properties(resource_map, definition) != before[name]:
            resource_map._parsed_resources[name] = parse_and_update_resource(
                name,
                definition,
                resource_map,
                account_id=resource_map._account_id,
                region_name=resource_map._region_name,
            )


def validate_different_update(response: Any, incoming: Any, body: str, stack: Any) -> None:
    """UpdateStack's "No updates are to be performed.": the same template, every parameter the same
    value (a default counting as given) and every SSM-typed one resolving as before. moto compared
    the given values with the resolved ones, so a stack with an SSM-typed parameter never had "no
    updates". Judged, as moto does, only when the update gives a template and parameters."""
    if not incoming or body != stack.template:
        return
    declared = stack.template_dict.get("Parameters", {})
    before = {
        key: stack.resource_map.input_parameters.get(key, d.get("Default")) for key, d in declared.items()
    }
    after = {**before, **response._get_param_values(incoming, before)}
    if after == before and not _ssm_values_changed(stack):
        raise ValidationError(stack.name, message="No updates are to be performed.")


def _ssm_values_changed(stack: Any) -> bool:
    resource_map = stack.resource_map
    for key, declaration in stack.template_dict.get("Parameters", {}).items():
        if not str(declaration.get("Type", "")).startswith(SSM_PARAMETER_TYPE_PREFIX):
            continue
        name = resource_map.input_parameters.get(key, declaration.get("Default"))
        if resource_map.parse_ssm_parameter(
            name, declaration["Type"]
        ) != resource_map.resolved_parameters.get(key):
            return True
    return False


def created_resources(stack: Any) -> list[Any]:
    """The resources the stack really created. moto's ``stack_resources`` creates every resource
    it has not parsed yet, so reading it would provision a failed stack's resources anew."""
    resource_map = stack.resource_map
    parsed = resource_map._parsed_resources  # also holds the parameters and pseudo parameters
    return [parsed[logical_id] for logical_id in resource_map._resource_json_map if logical_id in parsed]


def stack_holding(backend: Any, physical_id: str) -> Any:
    """The live stack one of whose resources has this physical id."""
    for stack in backend.stacks.values():
        if stack.status.startswith("DELETE_"):
            continue
        if any(
            getattr(resource, "physical_resource_id", None) == physical_id
            for resource in created_resources(stack)
        ):
            return stack
    # What AWS answers (the docs are silent; a known assumption).
    raise ValidationError(physical_id, message=f"Stack for {physical_id} does not exist")


def describe_stack_resources(original: Callable[[Any], Any], response: Any) -> Any:
    """DescribeStackResources, by ``StackName`` (moto's own) or by ``PhysicalResourceId``."""
    physical_id = response._get_param("PhysicalResourceId")
    if physical_id is None:
        return original(response)
    if response._get_param("StackName"):
        # "A ValidationError is returned if you specify both StackName and PhysicalResourceId."
        raise ValidationError(message="Specify either StackName or PhysicalResourceId, not both")
    stack = stack_holding(response.cloudformation_backend, physical_id)
    logical_id = response._get_param("LogicalResourceId")
    resources = [
        resource
        for resource in created_resources(stack)
        if logical_id is None or getattr(resource, "logical_resource_id", None) == logical_id
    ]
    return ActionResult({"StackResources": [StackResourceDTO(stack, resource) for resource in resources]})


def parameter_list(stack: Any, listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DescribeStacks' parameters: an SSM-typed one as its key and its ResolvedValue."""
    declared = stack.template_dict.get("Parameters", {})
    given = stack.resource_map.input_parameters
    for entry in listed:
        declaration = declared.get(entry["ParameterKey"], {})
        if str(declaration.get("Type", "")).startswith(SSM_PARAMETER_TYPE_PREFIX):
            entry["ResolvedValue"] = entry["ParameterValue"]
            entry["ParameterValue"] = given.get(entry["ParameterKey"], declaration.get("Default"))
    return listed
