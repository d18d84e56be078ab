"""CloudFormation templates read and evaluated offline: the short intrinsic tags and the functions.

Shared by the local cloud's deployer (:mod:`cfcd.local.deploy`, which creates ``template.yaml``'s
resources itself) and ``cfcd drift`` (which works out what a stack's template sets on a
distribution, against AWS too): so it needs nothing from the ``local`` extra.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from cfcd_common import stack_templates

Json = Any
# CloudFormation-supplied parameter types whose value names an SSM parameter, resolved to its value:
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html
SSM_PARAMETER_TYPE_PREFIX = "AWS::SSM::Parameter::Value<"


class TemplateError(ValueError):
    """A template that cannot be read, or an intrinsic function that cannot be evaluated."""


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation's short intrinsic tags (!Ref, !GetAtt, ...)."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> Json:
    name = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
    value: Json
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def parse_template(body: str | Mapping[str, Json]) -> dict[str, Json]:
    """A template from its JSON or YAML text (GetTemplate's ``TemplateBody``, which boto3 already
    decodes when it is JSON), intrinsic tags as their ``Fn::`` form."""
    if isinstance(body, Mapping):
        return dict(body)
    try:
        return stack_templates.parse_template(body, _CfnLoader)
    except ValueError as error:
        raise TemplateError(f"the template: {error}") from None


class _NoValue:
    """``AWS::NoValue``: the property disappears."""


NO_VALUE = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class ResourceState:
    ref: str
    attributes: dict[str, Json] = field(default_factory=dict)


class IntrinsicResolver:
    """Evaluates Ref, GetAtt, Sub, If, Join, Select, Split, FindInMap and the condition functions."""

    def __init__(
        self,
        parameters: Mapping[str, Json],
        conditions: Mapping[str, Json],
        mappings: Mapping[str, Json],
        region: str,
        stack_name: str,
        *,
        account_id: str,
        stack_id: str | None = None,
    ) -> None:
        stack_id = stack_id or f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local"
        self.pseudo: dict[str, Json] = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::StackName": stack_name,
            "AWS::StackId": stack_id,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        self.parameters = dict(parameters)
        self.resources: dict[str, ResourceState] = {}
        self._condition_definitions = dict(conditions)
        self._condition_values: dict[str, bool] = {}
        self._mappings = dict(mappings)

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            self._condition_values[name] = bool(self.resolve(self._condition_definitions[name]))
        return self._condition_values[name]

    def resolve(self, value: Json) -> Json:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            handler = self._functions().get(key)
            if handler is not None:
                return handler(argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Json], Json]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::If": self._if,
            "Fn::Join": lambda arg: str(self.resolve(arg[0])).join(str(v) for v in self.resolve(arg[1])),
            "Fn::Select": lambda arg: self.resolve(arg[1])[int(self.resolve(arg[0]))],
            "Fn::Split": lambda arg: str(self.resolve(arg[1])).split(str(self.resolve(arg[0]))),
            "Fn::Equals": lambda arg: self.resolve(arg[0]) == self.resolve(arg[1]),
            "Fn::Not": lambda arg: not self._truth(arg[0]),
            "Fn::And": lambda arg: all(self._truth(item) for item in arg),
            "Fn::Or": lambda arg: any(self._truth(item) for item in arg),
            "Condition": lambda arg: self.condition(str(arg)),
            "Fn::FindInMap": lambda arg: self._mappings[self.resolve(arg[0])][self.resolve(arg[1])][
                self.resolve(arg[2])
            ],
            "Fn::Base64": lambda arg: base64.b64encode(str(self.resolve(arg)).encode()).decode(),
        }

    def _truth(self, value: Json) -> bool:
        return bool(self.resolve(value))

    def _ref(self, name: Json) -> Json:
        name = str(name)
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.resources[name].ref
        raise TemplateError(f"Ref to unknown or not yet created {name}")

    def _get_att(self, argument: Json) -> Json:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        logical_id, attribute = str(argument[0]), str(self.resolve(argument[1]))
        state = self.resources.get(logical_id)
        if state is None:
            raise TemplateError(f"GetAtt on unknown or not yet created {logical_id}")
        if attribute not in state.attributes:
            return self.unknown_attribute(logical_id, attribute)
        return state.attributes[attribute]

    def unknown_attribute(self, logical_id: str, attribute: str) -> Json:
        """A GetAtt on a resource that exists but whose attribute is not known here."""
        raise TemplateError(f"{logical_id} has no attribute {attribute} locally")

    def _sub(self, argument: Json) -> str:
        if isinstance(argument, list):
            text, variables = str(argument[0]), {k: self.resolve(v) for k, v in argument[1].items()}
        else:
            text, variables = str(argument), {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return str(self._get_att(name.split(".", 1)))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def _if(self, argument: Json) -> Json:
        return self.resolve(argument[1] if self.condition(str(argument[0])) else argument[2])


def references(value: Json) -> set[str]:
    """Logical ids a resource definition refers to (Ref, GetAtt, Sub variables)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item.split(".", 1)[0] if isinstance(item, str) else item[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found |= {name.split(".", 1)[0].strip() for name in _SUB_VARIABLE.findall(str(text))}
                if isinstance(item, list):
                    found |= references(item[1])
            else:
                found |= references(item)
    return found
