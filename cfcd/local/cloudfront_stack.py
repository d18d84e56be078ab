"""CloudFormation resource types for moto's CloudFormation, backed by the CloudFront emulator.

``AWS::CloudFront::Distribution`` (``Ref`` = id, ``GetAtt`` ``Id`` / ``DomainName``; ``Staging``
supported) and ``AWS::CloudFront::ContinuousDeploymentPolicy`` (``Ref`` = id, ``GetAtt`` ``Id`` /
``LastModifiedTime``). They go through the same state as the API, so the API and the edge see
what a stack creates. Registered by :func:`cfcd.local.moto_patches.install`.

CloudFormation's property schema differs from the API's XML shapes; :mod:`cfcd.client.cloudfront_cfn`
maps one to the other (``cfcd drift`` uses the same mapping) and refuses what it does not know.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel

from cfcd.client.cloudfront_cfn import Json, distribution_config_from_cfn, policy_config_from_cfn
from cfcd.local.cloudfront.api import state_for
from cfcd.local.cloudfront.store import CloudFrontState

# The CloudFront API's partition; CloudFront is global whatever the stack's region.
_PARTITION = "aws"


@dataclass(frozen=True)
class _ResourceKind:
    """What tells the two resource types apart; the CloudFormation plumbing is shared."""

    cfn_type: str
    config_property: str
    attributes: Mapping[str, Callable[[CloudFrontState, str], str]]
    # (state, the resource's CloudFormation config, its logical id) -> physical id
    create: Callable[[CloudFrontState, Json, str], str]
    update: Callable[[CloudFrontState, str, Json], None]
    exists: Callable[[CloudFrontState, str], bool]
    delete: Callable[[CloudFrontState, str], None]


class _EmulatedResource:
    """A CloudFormation resource backed by the emulator's state (mixed into ``CloudFormationModel``)."""

    kind: ClassVar[_ResourceKind]

    def __init__(self, account_id: str, physical_id: str) -> None:
        self.account_id = account_id
        self.physical_id = physical_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.kind.cfn_type

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.kind.attributes

    def get_cfn_attribute(self, attribute_name: str) -> str:
        attribute = self.kind.attributes.get(attribute_name)
        if attribute is None:
            raise UnformattedGetAttTemplateException()
        return attribute(state_for(self.account_id, _PARTITION), self.physical_id)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Json, account_id: str, region_name: str, **kwargs: Any
    ) -> _EmulatedResource:
        config = cloudformation_json["Properties"][cls.kind.config_property]
        logical_id = str(kwargs.get("LogicalId", resource_name))
        return cls(account_id, cls.kind.create(state_for(account_id, _PARTITION), config, logical_id))

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: _EmulatedResource,
        new_resource_name: str,
        cloudformation_json: Json,
        account_id: str,
        region_name: str,
    ) -> _EmulatedResource:
        config = cloudformation_json["Properties"][cls.kind.config_property]
        cls.kind.update(state_for(account_id, _PARTITION), original_resource.physical_id, config)
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Json, account_id: str, region_name: str
    ) -> None:
        state = state_for(account_id, _PARTITION)
        if cls.kind.exists(state, resource_name):
            cls.kind.delete(state, resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self.delete_from_cloudformation_json(self.physical_id, {}, account_id, region_name)

    def is_created(self) -> bool:
        return True


def _create_distribution(state: CloudFrontState, cfn: Json, logical_id: str) -> str:
    return state.create_distribution(distribution_config_from_cfn(cfn, f"{logical_id}-{uuid.uuid4()}")).id


def _update_distribution(state: CloudFrontState, distribution_id: str, cfn: Json) -> None:
    record = state.distribution(distribution_id)
    config = distribution_config_from_cfn(cfn, record.config["CallerReference"])
    # CloudFormation reads the current ETag itself right before it updates.
    state.update_distribution(distribution_id, config, record.etag)


def _delete_distribution(state: CloudFrontState, distribution_id: str) -> None:
    # CloudFormation disables the distribution and waits before deleting it.
    state.delete_distribution(
        distribution_id, state.distributions[distribution_id].etag, must_be_disabled=False
    )


def _update_policy(state: CloudFrontState, policy_id: str, cfn: Json) -> None:
    state.update_policy(policy_id, policy_config_from_cfn(cfn), state.policy(policy_id).etag)


class CloudFrontDistributionResource(_EmulatedResource, CloudFormationModel):
    kind = _ResourceKind(
        cfn_type="AWS::CloudFront::Distribution",
        config_property="DistributionConfig",
        attributes={
            "Id": lambda state, distribution_id: distribution_id,
            "DomainName": lambda state, distribution_id: state.distribution(distribution_id).domain_name,
        },
        create=_create_distribution,
        update=_update_distribution,
        exists=lambda state, distribution_id: distribution_id in state.distributions,
        delete=_delete_distribution,
    )


class CloudFrontContinuousDeploymentPolicyResource(_EmulatedResource, CloudFormationModel):
    kind = _ResourceKind(
        cfn_type="AWS::CloudFront::ContinuousDeploymentPolicy",
        config_property="ContinuousDeploymentPolicyConfig",
        attributes={
            "Id": lambda state, policy_id: policy_id,
            "LastModifiedTime": lambda state, policy_id: state.policy(policy_id).last_modified.isoformat(),
        },
        create=lambda state, cfn, logical_id: state.create_policy(policy_config_from_cfn(cfn)).id,
        update=_update_policy,
        exists=lambda state, policy_id: policy_id in state.policies,
        delete=lambda state, policy_id: state.delete_policy(policy_id, state.policies[policy_id].etag),
    )
