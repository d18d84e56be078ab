"""CloudFormation resource types for moto's CloudFormation, backed by the CloudFront emulator.

``AWS::CloudFront::Distribution`` (``Ref`` = id, ``GetAtt`` ``Id`` / ``DomainName``; ``Staging``
supported) and ``AWS::CloudFront::ContinuousDeploymentPolicy`` (``Ref`` = id, ``GetAtt`` ``Id`` /
``LastModifiedTime``). They go through the same state as the API, so the API and the edge see
what a stack creates. Registered by :func:`cfcd.local.moto_patches.install`.

CloudFormation's property schema differs from the API's XML shapes (plain lists instead of
``{Quantity, Items}``, ``IPV6Enabled``, ``AcmCertificateArn``, ...); the converters below map the
subset a static-site distribution uses and refuse anything else loudly instead of dropping it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel

from cfcd.local.cloudfront.api import state_for
from cfcd.local.cloudfront.configs import Json, quantity_list
from cfcd.local.cloudfront.store import CloudFrontState

# The CloudFront API's partition; CloudFront is global whatever the stack's region.
_PARTITION = "aws"


class UnsupportedProperty(ValueError):
    """A CloudFormation property the emulator does not translate (it would otherwise be lost)."""


def _bool(value: Any) -> bool:
    return value.strip().lower() == "true" if isinstance(value, str) else bool(value)


def _int(value: Any) -> int:
    return int(value)


def _str(value: Any) -> str:
    return str(value)


def _list_of(convert: Callable[[Any], Any]) -> Callable[[Any], Json]:
    return lambda values: quantity_list([convert(value) for value in values or []])


def _translate(cfn: Json, rules: dict[str, tuple[str, Callable[[Any], Any]]], where: str) -> Json:
    unknown = sorted(set(cfn) - set(rules))
    if unknown:
        raise UnsupportedProperty(
            f"{where}: unsupported by the cfcd CloudFront emulator: {', '.join(unknown)}"
        )
    return {rules[key][0]: rules[key][1](value) for key, value in cfn.items()}


def _cookies(cfn: Json) -> Json:
    return _translate(
        cfn,
        {"Forward": ("Forward", _str), "WhitelistedNames": ("WhitelistedNames", _list_of(_str))},
        "Cookies",
    )


def _forwarded_values(cfn: Json) -> Json:
    config = _translate(
        cfn,
        {
            "QueryString": ("QueryString", _bool),
            "Cookies": ("Cookies", _cookies),
            "Headers": ("Headers", _list_of(_str)),
            "QueryStringCacheKeys": ("QueryStringCacheKeys", _list_of(_str)),
        },
        "ForwardedValues",
    )
    config.setdefault("Cookies", {"Forward": "none"})
    return config


def _function_association(cfn: Json) -> Json:
    return _translate(
        cfn, {"EventType": ("EventType", _str), "FunctionARN": ("FunctionARN", _str)}, "FunctionAssociation"
    )


def _lambda_association(cfn: Json) -> Json:
    return _translate(
        cfn,
        {
            "EventType": ("EventType", _str),
            "LambdaFunctionARN": ("LambdaFunctionARN", _str),
            "IncludeBody": ("IncludeBody", _bool),
        },
        "LambdaFunctionAssociation",
    )


def _behavior(cfn: Json) -> Json:
    config = _translate(
        cfn,
        {
            "PathPattern": ("PathPattern", _str),
            "TargetOriginId": ("TargetOriginId", _str),
            "ViewerProtocolPolicy": ("ViewerProtocolPolicy", _str),
            "CachePolicyId": ("CachePolicyId", _str),
            "OriginRequestPolicyId": ("OriginRequestPolicyId", _str),
            "ResponseHeadersPolicyId": ("ResponseHeadersPolicyId", _str),
            "RealtimeLogConfigArn": ("RealtimeLogConfigArn", _str),
            "FieldLevelEncryptionId": ("FieldLevelEncryptionId", _str),
            "AllowedMethods": ("AllowedMethods", _list_of(_str)),
            "CachedMethods": ("CachedMethods", _list_of(_str)),
            "Compress": ("Compress", _bool),
            "SmoothStreaming": ("SmoothStreaming", _bool),
            "ForwardedValues": ("ForwardedValues", _forwarded_values),
            "MinTTL": ("MinTTL", _int),
            "DefaultTTL": ("DefaultTTL", _int),
            "MaxTTL": ("MaxTTL", _int),
            "FunctionAssociations": ("FunctionAssociations", _list_of(_function_association)),
            "LambdaFunctionAssociations": ("LambdaFunctionAssociations", _list_of(_lambda_association)),
            "TrustedKeyGroups": ("TrustedKeyGroups", _list_of(_str)),
            "TrustedSigners": ("TrustedSigners", _list_of(_str)),
        },
        "CacheBehavior",
    )
    # The API nests CachedMethods inside AllowedMethods; CloudFormation keeps them side by side.
    allowed = config.pop("AllowedMethods", None)
    cached = config.pop("CachedMethods", None)
    if allowed is not None:
        allowed["CachedMethods"] = cached or {"Quantity": 2, "Items": ["HEAD", "GET"]}
        config["AllowedMethods"] = allowed
    for key in ("TrustedKeyGroups", "TrustedSigners"):
        if key in config:
            config[key]["Enabled"] = config[key]["Quantity"] > 0
    return config


def _custom_origin(cfn: Json) -> Json:
    return _translate(
        cfn,
        {
            "HTTPPort": ("HTTPPort", _int),
            "HTTPSPort": ("HTTPSPort", _int),
            "OriginProtocolPolicy": ("OriginProtocolPolicy", _str),
            "OriginSSLProtocols": ("OriginSslProtocols", _list_of(_str)),
            "OriginReadTimeout": ("OriginReadTimeout", _int),
            "OriginKeepaliveTimeout": ("OriginKeepaliveTimeout", _int),
        },
        "CustomOriginConfig",
    )


def _custom_header(cfn: Json) -> Json:
    return _translate(
        cfn, {"HeaderName": ("HeaderName", _str), "HeaderValue": ("HeaderValue", _str)}, "OriginCustomHeader"
    )


def _origin(cfn: Json) -> Json:
    return _translate(
        cfn,
        {
            "Id": ("Id", _str),
            "DomainName": ("DomainName", _str),
            "OriginPath": ("OriginPath", _str),
            "OriginAccessControlId": ("OriginAccessControlId", _str),
            "S3OriginConfig": (
                "S3OriginConfig",
                lambda v: {"OriginAccessIdentity": str(v.get("OriginAccessIdentity", ""))},
            ),
            "CustomOriginConfig": ("CustomOriginConfig", _custom_origin),
            "OriginCustomHeaders": ("CustomHeaders", _list_of(_custom_header)),
            "ConnectionAttempts": ("ConnectionAttempts", _int),
            "ConnectionTimeout": ("ConnectionTimeout", _int),
            "OriginShield": (
                "OriginShield",
                lambda v: {
                    "Enabled": _bool(v.get("Enabled", False)),
                    **({"OriginShieldRegion": v["OriginShieldRegion"]} if "OriginShieldRegion" in v else {}),
                },
            ),
        },
        "Origin",
    )


def _error_response(cfn: Json) -> Json:
    return _translate(
        cfn,
        {
            "ErrorCode": ("ErrorCode", _int),
            "ResponseCode": ("ResponseCode", _str),
            "ResponsePagePath": ("ResponsePagePath", _str),
            "ErrorCachingMinTTL": ("ErrorCachingMinTTL", _int),
        },
        "CustomErrorResponse",
    )


def _logging(cfn: Json) -> Json:
    config = _translate(
        cfn,
        {"Bucket": ("Bucket", _str), "IncludeCookies": ("IncludeCookies", _bool), "Prefix": ("Prefix", _str)},
        "Logging",
    )
    return {"Enabled": True, "IncludeCookies": False, "Prefix": "", **config}


def _restrictions(cfn: Json) -> Json:
    geo = cfn.get("GeoRestriction") or {}
    locations = [str(location) for location in geo.get("Locations") or []]
    return {
        "GeoRestriction": {
            "RestrictionType": str(geo.get("RestrictionType", "none")),
            **quantity_list(locations),
        }
    }


def _viewer_certificate(cfn: Json) -> Json:
    return _translate(
        cfn,
        {
            "CloudFrontDefaultCertificate": ("CloudFrontDefaultCertificate", _bool),
            "AcmCertificateArn": ("ACMCertificateArn", _str),
            "IamCertificateId": ("IAMCertificateId", _str),
            "MinimumProtocolVersion": ("MinimumProtocolVersion", _str),
            "SslSupportMethod": ("SSLSupportMethod", _str),
        },
        "ViewerCertificate",
    )


def distribution_config_from_cfn(cfn: Json, caller_reference: str) -> Json:
    """CloudFormation's ``DistributionConfig`` as the API's ``DistributionConfig``."""
    config = _translate(
        cfn,
        {
            "Aliases": ("Aliases", _list_of(_str)),
            "Comment": ("Comment", _str),
            "DefaultRootObject": ("DefaultRootObject", _str),
            "Enabled": ("Enabled", _bool),
            "HttpVersion": ("HttpVersion", _str),
            "IPV6Enabled": ("IsIPV6Enabled", _bool),
            "PriceClass": ("PriceClass", _str),
            "WebACLId": ("WebACLId", _str),
            "Staging": ("Staging", _bool),
            "ContinuousDeploymentPolicyId": ("ContinuousDeploymentPolicyId", _str),
            "Origins": ("Origins", _list_of(_origin)),
            "DefaultCacheBehavior": ("DefaultCacheBehavior", _behavior),
            "CacheBehaviors": ("CacheBehaviors", _list_of(_behavior)),
            "CustomErrorResponses": ("CustomErrorResponses", _list_of(_error_response)),
            "Logging": ("Logging", _logging),
            "Restrictions": ("Restrictions", _restrictions),
            "ViewerCertificate": ("ViewerCertificate", _viewer_certificate),
        },
        "DistributionConfig",
    )
    config.setdefault("Comment", "")
    config["CallerReference"] = caller_reference
    return config


def policy_config_from_cfn(cfn: Json) -> Json:
    """CloudFormation's ``ContinuousDeploymentPolicyConfig`` as the API's."""
    traffic = dict(cfn.get("TrafficConfig") or {})
    weight = traffic.get("SingleWeightConfig")
    if weight is not None:
        weight = {"Weight": float(weight["Weight"]), **{k: v for k, v in weight.items() if k != "Weight"}}
        stickiness = weight.get("SessionStickinessConfig")
        if stickiness is not None:
            weight["SessionStickinessConfig"] = {key: _int(value) for key, value in stickiness.items()}
        traffic["SingleWeightConfig"] = weight
    config: Json = {
        "Enabled": _bool(cfn.get("Enabled", False)),
        "StagingDistributionDnsNames": quantity_list(
            [str(n) for n in cfn.get("StagingDistributionDnsNames") or []]
        ),
    }
    if traffic:
        config["TrafficConfig"] = traffic
    unknown = sorted(set(cfn) - {"Enabled", "StagingDistributionDnsNames", "TrafficConfig"})
    if unknown:
        raise UnsupportedProperty(
            f"ContinuousDeploymentPolicyConfig: unsupported by the cfcd emulator: {', '.join(unknown)}"
        )
    return config


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
