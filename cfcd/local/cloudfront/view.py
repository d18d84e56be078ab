"""The edge's view of CloudFront: the propagated configuration of every distribution."""

from __future__ import annotations

import dataclasses

from cfcd.local.edge_view import (
    EdgeCacheBehavior,
    EdgeDistribution,
    EdgeOrigin,
    EdgePolicy,
    EdgeView,
    InvalidationListener,
)

from . import listeners
from .api import state_for
from .configs import Json, behavior_ttls, items
from .store import CloudFrontState, DistributionRecord


class PropagatedEdgeView:
    """:class:`EdgeView` over the emulator's state in one account (reads only deployed revisions)."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id

    def add_invalidation_listener(self, listener: InvalidationListener) -> None:
        listeners.add(self.account_id, listener)

    def distribution_for_host(self, host: str) -> EdgeDistribution | None:
        wanted = host.split(":", 1)[0].lower().rstrip(".")
        state = state_for(self.account_id)
        with state.lock:
            now = state.now()
            for record in state.ordered_distributions():
                config = record.propagated(now)
                if config is None:
                    continue  # created, but not deployed anywhere yet
                aliases = {str(alias).lower() for alias in items(config.get("Aliases"))}
                if wanted == record.domain_name or wanted in aliases:
                    return _with_policy(state, record, config, now)
        return None


def _with_policy(
    state: CloudFrontState, record: DistributionRecord, config: Json, now: float
) -> EdgeDistribution:
    distribution = _snapshot(record, config)
    policy_id = config.get("ContinuousDeploymentPolicyId") or ""
    policy_record = state.policies.get(policy_id) if policy_id and not config.get("Staging") else None
    policy_config = policy_record.propagated(now) if policy_record else None
    if policy_config is None or not policy_config.get("Enabled"):
        return distribution
    staging_names = items(policy_config.get("StagingDistributionDnsNames"))
    staging_record = state.distribution_by_domain(str(staging_names[0])) if staging_names else None
    staging_config = staging_record.propagated(now) if staging_record else None
    if staging_record is None or staging_config is None or not staging_config.get("Staging"):
        return distribution
    traffic = policy_config["TrafficConfig"]
    header = traffic.get("SingleHeaderConfig") or {}
    weight = traffic.get("SingleWeightConfig") or {}
    stickiness = weight.get("SessionStickinessConfig") or {}
    policy = EdgePolicy(
        policy_id=policy_id,
        type="SingleHeader" if traffic["Type"] == "SingleHeader" else "SingleWeight",
        header=header.get("Header"),
        value=header.get("Value"),
        weight=float(weight["Weight"]) if "Weight" in weight else None,
        idle_ttl=int(stickiness["IdleTTL"]) if "IdleTTL" in stickiness else None,
        maximum_ttl=int(stickiness["MaximumTTL"]) if "MaximumTTL" in stickiness else None,
    )
    return dataclasses.replace(
        distribution, policy=policy, staging_distribution=_snapshot(staging_record, staging_config)
    )


def _snapshot(record: DistributionRecord, config: Json) -> EdgeDistribution:
    return EdgeDistribution(
        distribution_id=record.id,
        domain_name=record.domain_name,
        aliases=tuple(str(alias) for alias in items(config.get("Aliases"))),
        enabled=bool(config.get("Enabled")),
        staging=bool(config.get("Staging")),
        default_root_object=str(config.get("DefaultRootObject") or ""),
        origins=tuple(
            EdgeOrigin(
                origin_id=str(origin["Id"]),
                domain_name=str(origin["DomainName"]),
                origin_path=str(origin.get("OriginPath") or ""),
            )
            for origin in items(config.get("Origins"))
        ),
        default_behavior=_behavior(config["DefaultCacheBehavior"], "*"),
        behaviors=tuple(
            _behavior(behavior, str(behavior.get("PathPattern") or ""))
            for behavior in items(config.get("CacheBehaviors"))
        ),
    )


def _behavior(behavior: Json, path_pattern: str) -> EdgeCacheBehavior:
    ttls = behavior_ttls(behavior)
    return EdgeCacheBehavior(
        path_pattern=path_pattern,
        target_origin_id=str(behavior["TargetOriginId"]),
        min_ttl=ttls.min_ttl,
        default_ttl=ttls.default_ttl,
        max_ttl=ttls.max_ttl,
    )


def _conforms(view: PropagatedEdgeView) -> EdgeView:
    return view  # mypy checks PropagatedEdgeView against the EdgeView protocol here
