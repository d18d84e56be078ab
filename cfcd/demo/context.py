"""Where the story runs: a local cloud (its endpoints and state dir) and one seeded site on it.

The demo makes its own cloud; the e2e tests hand in the session's shared one with a fresh site.
Everything the CLI resolves (state machine, table) comes from ``<state-dir>/local.json`` through
the client's :func:`cfcd.client.target.resolve_target`, so the demo talks to AWS like ``cfcd`` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfcd.client.release_input import execution_name, validate_input
from cfcd.client.target import Target, resolve_target
from cfcd.demo.progress import ExecutionFollower
from cfcd.demo.report import Report
from cfcd.demo.viewer import Site
from cfcd.local.cloud import LocalCloudInfo
from cfcd.local.seed import SeededSite

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_stepfunctions import SFNClient

# Local timings: a poll a second, deadlines that fail a stuck run in a minute, not half an hour.
FAST_TIMING = {"pollSeconds": 1, "deployTimeoutSeconds": 60, "probeTimeoutSeconds": 60}
APPROVAL_TIMEOUT_SECONDS = 600
# The weight releases' stickiness: a viewer stays on its side for 5 minutes idle, 10 at most.
STICKINESS = {"idleTtl": 300, "maximumTtl": 600}


@dataclass(frozen=True)
class Release:
    """One started execution of the workflow, and the follower that prints its progress."""

    name: str
    arn: str
    document: dict[str, Any]
    follower: ExecutionFollower


@dataclass
class DemoContext:
    info: LocalCloudInfo
    state_dir: Path
    site: SeededSite
    report: Report

    @cached_property
    def target(self) -> Target:
        # environ={}: the local cloud's local.json decides, whatever AWS_* the shell exports.
        return resolve_target(state_dir=str(self.state_dir), environ={})

    @cached_property
    def sfn(self) -> SFNClient:
        return self.target.sfn()

    @cached_property
    def table(self) -> Table:
        return self.target.table()

    @cached_property
    def cloudfront(self) -> CloudFrontClient:
        return self.target.cloudfront()

    @property
    def viewers(self) -> Site:
        """The primary distribution's domain, through the edge: what every viewer reaches."""
        return Site(self.info.edge_endpoint, self.site.domain_name)

    def copy_release(self, release: str, traffic: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """A copy-mode input (the contract of docs/design.md §2) for one of the seed's releases."""
        major = release.split(".", 1)[0]
        document: dict[str, Any] = {
            "primaryDistributionId": self.site.primary_distribution_id,
            "release": release,
            "staging": {"mode": "copy", "overrides": {"originPath": f"/{release}"}},
            "traffic": traffic,
            "probe": {"path": "/index.html", "expect": {"status": 200, "bodyContains": f"v{major} App"}},
            "approval": {"timeoutSeconds": APPROVAL_TIMEOUT_SECONDS},
            "promotion": {"invalidatePaths": ["/*"]},
            "timing": dict(FAST_TIMING),
        }
        document.update(extra)
        return document

    def start(self, document: dict[str, Any]) -> Release:
        """What `cfcd deploy` does: validate with the workflow's own model, then StartExecution;
        the report shows the input and the execution."""
        self.report.info("input: " + json.dumps(document, separators=(",", ":")))
        validate_input(document)
        name = execution_name(self.site.primary_distribution_id)
        arn = self.sfn.start_execution(
            stateMachineArn=self.target.require_state_machine(), name=name, input=json.dumps(document)
        )["executionArn"]
        self.report.info(f"started {arn}")
        return Release(name, arn, document, ExecutionFollower(self.sfn, arn, self.report))

    def attached_policy(self, primary_config: dict[str, Any]) -> dict[str, Any]:
        """The config of the continuous deployment policy attached to this primary config."""
        policy_id = primary_config.get("ContinuousDeploymentPolicyId")
        if not policy_id:
            self.report.fail(
                "the primary has a continuous deployment policy", "ContinuousDeploymentPolicyId is empty"
            )
        answer = self.cloudfront.get_continuous_deployment_policy(Id=str(policy_id))
        return dict(answer["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"])

    def primary_config(self) -> tuple[str, dict[str, Any]]:
        """The primary's ETag and DistributionConfig, as GetDistributionConfig answers them."""
        answer = self.cloudfront.get_distribution_config(Id=self.site.primary_distribution_id)
        return answer["ETag"], dict(answer["DistributionConfig"])


def origin_path(config: dict[str, Any]) -> str:
    return str(config["Origins"]["Items"][0].get("OriginPath", ""))
