"""CloudFormation's CloudFront properties as the CloudFront API's shapes.

CloudFormation's property schema differs from the API's XML shapes (plain lists instead of
``{Quantity, Items}``, ``IPV6Enabled``, ``AcmCertificateArn``, ...); the converters below map the
subset a static-site distribution uses. The local cloud's CloudFormation
(:mod:`cfcd.local.cloudfront_stack`) creates distributions with them and refuses anything else
loudly instead of dropping it; ``cfcd drift`` compares what a stack's template sets with the live
config through the same mapping, and leaves what it cannot map out of the comparison, named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

Json = dict[str, Any]

# Where properties no converter knows are collected instead of refused (None: refuse them).
_skipped: ContextVar[list[str] | None] = ContextVar("cfcd_unsupported_cfn_properties", default=None)


def quantity_list(values: list[Any]) -> Json:
    return {"Quantity": len(values), "Items": values} if values else {"Quantity": 0}


@contextmanager
def skipping_unsupported() -> Iterator[list[str]]:
    """Within the block, convert what can be converted; the list names what was left out."""
    skipped: list[str] = []
    token = _skipped.set(skipped)
    try:
        yield skipped
    finally:
        _skipped.reset(token)


class UnsupportedProperty(ValueError):
    """A CloudFormation property cfcd does not translate (it would otherwise be lost)."""


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
    skipped = _skipped.get()
    if unknown and skipped is None:
        raise UnsupportedProperty(f"{where}: unsupported by cfcd's CloudFront mapping: {', '.join(unknown)}")
    if skipped is not None:
        skipped.extend(f"{where}.{name}" for name in unknown)
    return {rules[key][0]: rules[key][1](value) for key, value in cfn.items() if key in rules}


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
