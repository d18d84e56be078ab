"""CloudFormation resource types for moto's CloudFormation, backed by the local cloud's services.

``AWS::CloudFront::Distribution`` (``Ref`` = id, ``GetAtt`` ``Id`` / ``DomainName``; ``Staging``
supported) and ``AWS::CloudFront::ContinuousDeploymentPolicy`` (``Ref`` = id, ``GetAtt`` ``Id`` /
``LastModifiedTime``) go through the CloudFront emulator's state, so the API and the edge see
what a stack creates. ``AWS::CloudFront::OriginAccessControl`` (``Ref`` = id, ``GetAtt`` ``Id``)
and ``AWS::S3::BucketPolicy`` (``Ref`` = the bucket) complete a primary site's stack
(``examples/primary.yaml``): moto keeps both in its own backends but has no CloudFormation type
for them. Registered by :func:`cfcd.local.moto_patches.install`.

CloudFormation's property schema differs from the API's XML shapes; :mod:`cfcd.client.cloudfront_cfn`
maps one to the other (``cfcd drift`` uses the same mapping) and refuses what it does not know.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cloudfront.models import cloudfront_backends
from moto.core.common_models import CloudFormationModel
from moto.s3.models import s3_backends

from cfcd.client.cloudfront_cfn import Json, distribution_config_from_cfn, policy_config_from_cfn
from cfcd.local.cloudfront.api import state_for
from cfcd.local.cloudfront.store import CloudFrontState

# The CloudFront API's partition; CloudFront is global whatever the stack's region.
_PARTITION = "aws"


def _state(account_id: str) -> CloudFrontState:
    return state_for(account_id, _PARTITION)


@dataclass(frozen=True)
class _ResourceKind:
    """What tells the resource types apart; the CloudFormation plumbing is shared."""

    cfn_type: str
    # The property holding the resource's config; None: all of its properties.
    config_property: str | None
    # (account id, physical id) -> the attribute's value
    attributes: Mapping[str, Callable[[str, str], str]]
    # (account id, the resource's CloudFormation config, its logical id) -> physical id
    create: Callable[[str, Json, str], str]
    update: Callable[[str, str, Json], None]
    exists: Callable[[str, str], bool]
    delete: Callable[[str, str], None]


class _EmulatedResource:
    """A CloudFormation resource backed by the local cloud (mixed into ``CloudFormationModel``)."""

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
        return attribute(self.account_id, self.physical_id)

    @classmethod
    def _config(cls, cloudformation_json: Json) -> Json:
        properties: Json = cloudformation_json["Properties"]
        return properties if cls.kind.config_property is None else properties[cls.kind.config_property]

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Json, account_id: str, region_name: str, **kwargs: Any
    ) -> _EmulatedResource:
        logical_id = str(kwargs.get("LogicalId", resource_name))
        return cls(account_id, cls.kind.create(account_id, cls._config(cloudformation_json), logical_id))

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: _EmulatedResource,
        new_resource_name: str,
        cloudformation_json: Json,
        account_id: str,
        region_name: str,
    ) -> _EmulatedResource:
        cls.kind.update(account_id, original_resource.physical_id, cls._config(cloudformation_json))
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Json, account_id: str, region_name: str
    ) -> None:
        if cls.kind.exists(account_id, resource_name):
            cls.kind.delete(account_id, resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self.delete_from_cloudformation_json(self.physical_id, {}, account_id, region_name)

    def is_created(self) -> bool:
        return True


def _create_distribution(account_id: str, cfn: Json, logical_id: str) -> str:
    config = distribution_config_from_cfn(cfn, f"{logical_id}-{uuid.uuid4()}")
    return _state(account_id).create_distribution(config).id


def _update_distribution(account_id: str, distribution_id: str, cfn: Json) -> None:
    state = _state(account_id)
    record = state.distribution(distribution_id)
    config = distribution_config_from_cfn(cfn, record.config["CallerReference"])
    # CloudFormation reads the current ETag itself right before it updates.
    state.update_distribution(distribution_id, config, record.etag)


def _delete_distribution(account_id: str, distribution_id: str) -> None:
    # CloudFormation disables the distribution and waits before deleting it.
    state = _state(account_id)
    state.delete_distribution(
        distribution_id, state.distributions[distribution_id].etag, must_be_disabled=False
    )


def _update_policy(account_id: str, policy_id: str, cfn: Json) -> None:
    state = _state(account_id)
    state.update_policy(policy_id, policy_config_from_cfn(cfn), state.policy(policy_id).etag)


def _delete_policy(account_id: str, policy_id: str) -> None:
    state = _state(account_id)
    state.delete_policy(policy_id, state.policies[policy_id].etag)


class CloudFrontDistributionResource(_EmulatedResource, CloudFormationModel):
    kind = _ResourceKind(
        cfn_type="AWS::CloudFront::Distribution",
        config_property="DistributionConfig",
        attributes={
            "Id": lambda account_id, distribution_id: distribution_id,
            "DomainName": lambda account_id, distribution_id: (
                _state(account_id).distribution(distribution_id).domain_name
            ),
        },
        create=_create_distribution,
        update=_update_distribution,
        exists=lambda account_id, distribution_id: distribution_id in _state(account_id).distributions,
        delete=_delete_distribution,
    )


class CloudFrontContinuousDeploymentPolicyResource(_EmulatedResource, CloudFormationModel):
    kind = _ResourceKind(
        cfn_type="AWS::CloudFront::ContinuousDeploymentPolicy",
        config_property="ContinuousDeploymentPolicyConfig",
        attributes={
            "Id": lambda account_id, policy_id: policy_id,
            "LastModifiedTime": lambda account_id, policy_id: (
                _state(account_id).policy(policy_id).last_modified.isoformat()
            ),
        },
        create=lambda account_id, cfn, logical_id: (
            _state(account_id).create_policy(policy_config_from_cfn(cfn)).id
        ),
        update=_update_policy,
        exists=lambda account_id, policy_id: policy_id in _state(account_id).policies,
        delete=_delete_policy,
    )


def _origin_access_controls(account_id: str) -> Any:
    # The emulator answers the origin access control API from moto's own CloudFront backend.
    return cloudfront_backends[account_id][_PARTITION]


def _create_origin_access_control(account_id: str, cfn: Json, logical_id: str) -> str:
    return str(_origin_access_controls(account_id).create_origin_access_control(cfn).id)


def _update_origin_access_control(account_id: str, control_id: str, cfn: Json) -> None:
    _origin_access_controls(account_id).update_origin_access_control(control_id, cfn)


class CloudFrontOriginAccessControlResource(_EmulatedResource, CloudFormationModel):
    kind = _ResourceKind(
        cfn_type="AWS::CloudFront::OriginAccessControl",
        config_property="OriginAccessControlConfig",
        attributes={"Id": lambda account_id, control_id: control_id},
        create=_create_origin_access_control,
        update=_update_origin_access_control,
        exists=lambda account_id, control_id: (
            control_id in _origin_access_controls(account_id).origin_access_controls
        ),
        delete=lambda account_id, control_id: _origin_access_controls(
            account_id
        ).delete_origin_access_control(control_id),
    )


def _buckets(account_id: str) -> Any:
    return s3_backends[account_id][_PARTITION]


def _put_bucket_policy(account_id: str, cfn: Json) -> str:
    policy = cfn["PolicyDocument"]
    document = policy if isinstance(policy, str) else json.dumps(policy)
    _buckets(account_id).put_bucket_policy(str(cfn["Bucket"]), document.encode())
    return str(cfn["Bucket"])


def _update_bucket_policy(account_id: str, bucket: str, cfn: Json) -> None:
    _put_bucket_policy(account_id, cfn)


class S3BucketPolicyResource(_EmulatedResource, CloudFormationModel):
    kind = _ResourceKind(
        cfn_type="AWS::S3::BucketPolicy",
        config_property=None,
        attributes={},
        create=lambda account_id, cfn, logical_id: _put_bucket_policy(account_id, cfn),
        update=_update_bucket_policy,
        exists=lambda account_id, bucket: bucket in _buckets(account_id).buckets,
        delete=lambda account_id, bucket: _buckets(account_id).delete_bucket_policy(bucket),
    )
