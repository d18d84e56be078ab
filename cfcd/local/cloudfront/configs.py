"""Distribution and continuous-deployment-policy configurations: CloudFront's defaults and rules.

Configurations stay the plain dictionaries moto's XML parser produces from the botocore model
(``DistributionConfig``, ``ContinuousDeploymentPolicyConfig``), so nothing a client sends is lost
(moto's own model drops ``Staging`` and ``ContinuousDeploymentPolicyId``) and the botocore shape
remains the one schema.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from . import errors

Json = dict[str, Any]

CONTINUOUS_DEPLOYMENT_QUOTAS = "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/continuous-deployment-quotas-considerations.html"
# Quotas of continuous deployment (CONTINUOUS_DEPLOYMENT_QUOTAS): 20 staging distributions and 20
# policies per account, at most 15% of the traffic, session idle duration 300-3600 seconds.
MAX_STAGING_DISTRIBUTIONS = 20
MAX_POLICIES = 20
MAX_WEIGHT = 0.15
STICKINESS_RANGE = (300, 3600)
# "The header must contain the prefix aws-cf-cd-."
# https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ContinuousDeploymentSingleHeaderConfig.html
HEADER_PREFIX = "aws-cf-cd-"
# The API sets no length limits of its own; these are CloudFront's quotas on custom header names
# and values (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html).
MAX_HEADER_LENGTH = 256
MAX_HEADER_VALUE_LENGTH = 1783
# "You cannot use continuous deployment with a distribution that supports HTTP/3."
# (CONTINUOUS_DEPLOYMENT_QUOTAS)
HTTP3_VERSIONS = frozenset({"http3", "http2and3"})


@dataclass(frozen=True)
class Ttls:
    min_ttl: int
    default_ttl: int
    max_ttl: int


# The managed cache policies of CloudFront; moto has no cache-policy API, so only these resolve.
MANAGED_CACHE_POLICIES: dict[str, Ttls] = {
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": Ttls(0, 0, 0),  # Managed-CachingDisabled
    "658327ea-f89d-4fab-a63d-7e88639e58f6": Ttls(1, 86400, 31536000),  # Managed-CachingOptimized
}
# CloudFront's defaults for legacy cache settings (ForwardedValues) that omit a TTL.
LEGACY_DEFAULT_TTLS = Ttls(0, 86400, 31536000)

_EMPTY_LIST = {"Quantity": 0}

# What CloudFront returns for the members a request may omit.
_DISTRIBUTION_DEFAULTS: Json = {
    "Aliases": _EMPTY_LIST,
    "DefaultRootObject": "",
    "OriginGroups": _EMPTY_LIST,
    "CacheBehaviors": _EMPTY_LIST,
    "CustomErrorResponses": _EMPTY_LIST,
    "Logging": {"Enabled": False, "IncludeCookies": False, "Bucket": "", "Prefix": ""},
    "PriceClass": "PriceClass_All",
    "ViewerCertificate": {
        "CloudFrontDefaultCertificate": True,
        "SSLSupportMethod": "vip",
        "MinimumProtocolVersion": "TLSv1",
        "CertificateSource": "cloudfront",
    },
    "Restrictions": {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}},
    "WebACLId": "",
    "HttpVersion": "http2",
    "IsIPV6Enabled": True,
    "ContinuousDeploymentPolicyId": "",
    "Staging": False,
}
_BEHAVIOR_DEFAULTS: Json = {
    "TrustedSigners": {"Enabled": False, "Quantity": 0},
    "TrustedKeyGroups": {"Enabled": False, "Quantity": 0},
    "AllowedMethods": {
        "Quantity": 2,
        "Items": ["HEAD", "GET"],
        "CachedMethods": {"Quantity": 2, "Items": ["HEAD", "GET"]},
    },
    "SmoothStreaming": False,
    "Compress": False,
    "LambdaFunctionAssociations": _EMPTY_LIST,
    "FunctionAssociations": _EMPTY_LIST,
    "FieldLevelEncryptionId": "",
}
_ORIGIN_DEFAULTS: Json = {
    "OriginPath": "",
    "CustomHeaders": _EMPTY_LIST,
    "ConnectionAttempts": 3,
    "ConnectionTimeout": 10,
    "OriginShield": {"Enabled": False},
    "OriginAccessControlId": "",
}


def _with_defaults(given: Json, defaults: Json) -> Json:
    merged = copy.deepcopy(given)
    for key, value in defaults.items():
        if merged.get(key) is None:
            merged[key] = copy.deepcopy(value)
    return merged


def items(container: Json | None) -> list[Any]:
    """The ``Items`` of a CloudFront ``{Quantity, Items}`` list (absent when empty)."""
    if not container:
        return []
    return list(container.get("Items") or [])


def quantity_list(values: list[Any]) -> Json:
    return {"Quantity": len(values), "Items": values} if values else {"Quantity": 0}


def behaviors(config: Json) -> list[Json]:
    """The default cache behaviour followed by the ordered cache behaviours."""
    return [config["DefaultCacheBehavior"], *items(config.get("CacheBehaviors"))]


def normalize_distribution_config(given: Json | None, *, keep_policy_id: str | None = None) -> Json:
    """The config as CloudFront stores it: the request plus every default it would return.

    ``keep_policy_id``: a primary's attached policy survives an update that omits the field.
    """
    if not given:
        raise errors.missing_body()
    config = _with_defaults(given, _DISTRIBUTION_DEFAULTS)
    if given.get("ContinuousDeploymentPolicyId") is None and keep_policy_id is not None:
        config["ContinuousDeploymentPolicyId"] = keep_policy_id
    config["Origins"]["Items"] = [_with_defaults(o, _ORIGIN_DEFAULTS) for o in items(config["Origins"])]
    config["DefaultCacheBehavior"] = _with_defaults(config["DefaultCacheBehavior"], _BEHAVIOR_DEFAULTS)
    cache_behaviors = [_with_defaults(b, _BEHAVIOR_DEFAULTS) for b in items(config["CacheBehaviors"])]
    if cache_behaviors:
        config["CacheBehaviors"]["Items"] = cache_behaviors
    validate_distribution_config(config)
    return config


def validate_distribution_config(config: Json) -> None:
    check_quantities(config, "DistributionConfig")
    origin_ids = {origin["Id"] for origin in items(config["Origins"])}
    origin_ids |= {group["Id"] for group in items(config.get("OriginGroups"))}
    for behavior in behaviors(config):
        if behavior.get("TargetOriginId") not in origin_ids:
            raise errors.no_such_origin()
        behavior_ttls(behavior)  # unknown cache policy, missing ForwardedValues, bad TTL order
    if config["Staging"]:
        if items(config["Aliases"]):
            raise errors.invalid_argument("Staging distributions can't have alternate domain names (CNAMEs).")
        # A staging distribution exists for continuous deployment, which HTTP/3 rules out.
        if config["HttpVersion"] in HTTP3_VERSIONS:
            raise errors.illegal_update(fields=["HttpVersion"])


def behavior_ttls(behavior: Json) -> Ttls:
    """The TTLs a cache behaviour gives its objects: its cache policy's, or its legacy settings."""
    policy_id = behavior.get("CachePolicyId") or ""
    if policy_id:
        if policy_id not in MANAGED_CACHE_POLICIES:
            raise errors.no_such_cache_policy(policy_id)
        return MANAGED_CACHE_POLICIES[policy_id]
    if behavior.get("ForwardedValues") is None:
        raise errors.invalid_argument("The parameter ForwardedValues is required.")
    ttls = Ttls(
        _int_or(behavior.get("MinTTL"), LEGACY_DEFAULT_TTLS.min_ttl),
        _int_or(behavior.get("DefaultTTL"), LEGACY_DEFAULT_TTLS.default_ttl),
        _int_or(behavior.get("MaxTTL"), LEGACY_DEFAULT_TTLS.max_ttl),
    )
    if not ttls.min_ttl <= ttls.default_ttl <= ttls.max_ttl:
        raise errors.CloudFrontError("InvalidTTLOrder", "The TTL order specified is not valid.")
    return ttls


def _int_or(value: Any, default: int) -> int:
    return default if value is None else int(value)


def check_quantities(node: Any, path: str) -> None:
    if isinstance(node, dict):
        if "Quantity" in node:
            declared = int(node["Quantity"])
            actual = len(node.get("Items") or [])
            if declared != actual:
                raise errors.inconsistent_quantities(path)
        for key, value in node.items():
            check_quantities(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            check_quantities(value, f"{path}[{index}]")


def copy_for_staging(primary: Json, caller_reference: str, enabled: bool | None) -> Json:
    """CopyDistribution: the primary's config as a staging distribution (no CNAMEs, no policy)."""
    config = copy.deepcopy(primary)
    config.update(
        CallerReference=caller_reference,
        Aliases={"Quantity": 0},
        ContinuousDeploymentPolicyId="",
        Staging=True,
    )
    if enabled is not None:
        config["Enabled"] = enabled
    return config


# UpdateDistributionWithStagingConfig: "The primary distribution retains its Aliases [...] and
# ContinuousDeploymentPolicyId value, but otherwise its configuration is overwritten to match the
# staging distribution."
# https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateDistributionWithStagingConfig.html
# The primary keeps its CallerReference too: promotion updates the primary, and "You can't change
# the value of CallerReference" (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateDistribution.html).
PRIMARY_KEEPS_ON_PROMOTION = ("CallerReference", "Aliases", "ContinuousDeploymentPolicyId")


def promoted(primary: Json, staging: Json) -> Json:
    config = copy.deepcopy(staging)
    for key in PRIMARY_KEEPS_ON_PROMOTION:
        config[key] = copy.deepcopy(primary[key])
    config["Staging"] = False
    return config


# "When a primary distribution has an attached continuous deployment policy, the following
# configuration changes are available for both primary and staging distributions": cache
# behaviours (default included), origins and origin groups, custom error responses, geographic
# restrictions, default root object, logging, description (comment). Any other change is an
# IllegalUpdate ("One or more fields updated are not supported for continuous deployment.").
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/understanding-continuous-deployment.html#updating-staging-and-primary-distributions
UPDATABLE_WITH_POLICY = frozenset(
    {
        "DefaultCacheBehavior",
        "CacheBehaviors",
        "Origins",
        "OriginGroups",
        "CustomErrorResponses",
        "Restrictions",
        "DefaultRootObject",
        "Logging",
        "Comment",
    }
)


def fields_locked_by_policy(before: Json, after: Json) -> list[str]:
    """The top-level fields ``after`` changes that CloudFront refuses while a policy is attached.

    The policy id itself (attach, detach) follows rules of its own.
    """
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    return sorted(changed - UPDATABLE_WITH_POLICY - {"ContinuousDeploymentPolicyId"})


# Invalidation paths "must begin with a leading slash"; "The maximum length of a path is 4,000
# characters. You can't use a wildcard within the path; only at the end of the path."
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/invalidation-specifying-objects.html
MAX_INVALIDATION_PATH_LENGTH = 4000
# In progress at one time per distribution: 3,000 individual files, and independently 15 paths
# with the * wildcard. https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html
MAX_FILES_IN_PROGRESS = 3000
MAX_WILDCARD_PATHS_IN_PROGRESS = 15


def validate_invalidation_paths(paths: list[str]) -> None:
    for path in paths:
        if not path.startswith("/"):
            raise errors.invalid_argument(f"An invalidation path must begin with a slash (/): {path!r}")
        if len(path) > MAX_INVALIDATION_PATH_LENGTH:
            raise errors.invalid_argument(
                f"An invalidation path can be at most {MAX_INVALIDATION_PATH_LENGTH} characters long."
            )
        if "*" in path[:-1]:
            raise errors.invalid_argument(
                f"The * wildcard can only be the last character of an invalidation path: {path!r}"
            )


def is_wildcard(path: str) -> bool:
    return path.endswith("*")


def validate_policy_config(config: Json | None) -> Json:
    """A ContinuousDeploymentPolicyConfig within CloudFront's limits, returned normalized."""
    if not config:
        raise errors.missing_body()
    config = copy.deepcopy(config)
    check_quantities(config, "ContinuousDeploymentPolicyConfig")
    dns_names = items(config.get("StagingDistributionDnsNames"))
    if len(dns_names) != 1:
        raise errors.invalid_argument("StagingDistributionDnsNames must contain exactly one DNS name.")
    traffic = config.get("TrafficConfig")
    if not traffic:
        raise errors.invalid_argument("TrafficConfig is required.")
    kind = traffic.get("Type")
    if kind == "SingleHeader":
        _validate_header(traffic.get("SingleHeaderConfig"))
        traffic.pop("SingleWeightConfig", None)
    elif kind == "SingleWeight":
        _validate_weight(traffic.get("SingleWeightConfig"))
        traffic.pop("SingleHeaderConfig", None)
    else:
        raise errors.invalid_argument(
            f"TrafficConfig Type must be SingleWeight or SingleHeader, not {kind!r}."
        )
    return config


def _validate_header(header_config: Json | None) -> None:
    if not header_config:
        raise errors.invalid_argument("SingleHeaderConfig is required when the Type is SingleHeader.")
    header = str(header_config.get("Header") or "")
    value = str(header_config.get("Value") or "")
    if not header.lower().startswith(HEADER_PREFIX):
        raise errors.invalid_argument(f"The header name must start with {HEADER_PREFIX}: {header!r}")
    if len(header) > MAX_HEADER_LENGTH:
        raise errors.invalid_argument(f"The header name must be at most {MAX_HEADER_LENGTH} characters.")
    if not 1 <= len(value) <= MAX_HEADER_VALUE_LENGTH:
        raise errors.invalid_argument(
            f"The header value must be between 1 and {MAX_HEADER_VALUE_LENGTH} characters."
        )


def _validate_weight(weight_config: Json | None) -> None:
    if not weight_config:
        raise errors.invalid_argument("SingleWeightConfig is required when the Type is SingleWeight.")
    # "a decimal number between 0 and 0.15"
    # https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ContinuousDeploymentSingleWeightConfig.html
    weight = float(weight_config.get("Weight", -1))
    if not 0.0 <= weight <= MAX_WEIGHT:
        raise errors.invalid_argument(f"The weight must be between 0 and {MAX_WEIGHT}: {weight}")
    stickiness = weight_config.get("SessionStickinessConfig")
    if stickiness is None:
        return
    # Both TTLs are required, each 300-3600 seconds, and IdleTTL "must be less than or equal to
    # MaximumTTL". https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_SessionStickinessConfig.html
    low, high = STICKINESS_RANGE
    for key in ("IdleTTL", "MaximumTTL"):
        ttl = stickiness.get(key)
        if ttl is None:
            raise errors.invalid_argument(
                f"SessionStickinessConfig requires both IdleTTL and MaximumTTL ({key})."
            )
        if not low <= int(ttl) <= high:
            raise errors.invalid_argument(f"{key} must be between {low} and {high} seconds: {ttl}")
    if int(stickiness["IdleTTL"]) > int(stickiness["MaximumTTL"]):
        raise errors.invalid_argument(
            f"IdleTTL ({stickiness['IdleTTL']}) must be less than or equal to MaximumTTL "
            f"({stickiness['MaximumTTL']})."
        )
