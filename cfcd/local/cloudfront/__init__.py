"""CloudFront made faithful on moto 5.2.5 (see docs/design.md §3 and §7).

Once :func:`cfcd.local.moto_patches.install` ran (before ``mock_aws()`` is used or moto's server
starts), real boto3 clients get continuous deployment policies, CopyDistribution,
UpdateDistributionWithStagingConfig, real ETags with ``IfMatch`` checks, ``InProgress`` ->
``Deployed`` propagation and CloudFront's validation errors, and moto's CloudFormation gets
``AWS::CloudFront::Distribution`` and ``AWS::CloudFront::ContinuousDeploymentPolicy``.
The edge reads the propagated configuration through :func:`edge_view`.
"""

from __future__ import annotations

from cfcd.local.edge_view import EdgeView

from .store import settings
from .view import PropagatedEdgeView

DEFAULT_ACCOUNT_ID = "123456789012"


def set_propagation_seconds(seconds: float) -> None:
    """How long each later change (and invalidation) stays ``InProgress`` before it is deployed."""
    if seconds < 0:
        raise ValueError(f"propagation seconds must be >= 0, got {seconds}")
    settings.propagation_seconds = float(seconds)


def propagation_seconds() -> float:
    return settings.propagation_seconds


def edge_view(account_id: str = DEFAULT_ACCOUNT_ID) -> EdgeView:
    """What viewers of ``account_id``'s distributions see right now (deployed revisions only)."""
    return PropagatedEdgeView(account_id)


__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "PropagatedEdgeView",
    "edge_view",
    "propagation_seconds",
    "set_propagation_seconds",
]
