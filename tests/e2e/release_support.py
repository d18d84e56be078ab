"""Releases on the shared local cloud, for the e2e scenarios: start, wait (with deadlines), decide,
and read the final state (execution, primary, policy, lock).

Every helper polls with a deadline and treats any final status as an end; nothing sleeps where an
event can be awaited.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfcd.client.execution_view import entered_states, execution_history
from cfcd.client.release_input import validate_input
from cfcd.demo.viewer import Answer, Site
from cfcd.local.seed import SeededSite
from cfcd_common.approvals import Action, ApprovalRequest, Decision, decide, find_pending
from cfcd_common.locks import lock_key
from tests.conftest import LocalCloudHandle
from tests.polling import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
EXECUTION_DEADLINE_SECONDS = 120.0
FAST_TIMING = {"pollSeconds": 1, "deployTimeoutSeconds": 60, "probeTimeoutSeconds": 60}
FINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
# The seeded primary's price class (cfcd.local.seed): a staging stack must match it, since
# continuous deployment cannot change it (CheckStack refuses a staging distribution that differs).
SEEDED_PRICE_CLASS = "PriceClass_100"


def copy_input(site: SeededSite, release: str, traffic: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The contract's copy-mode example (tests/events) for this site and release, with fast timing."""
    document: dict[str, Any] = json.loads((REPO_ROOT / "tests/events/input_copy_header.json").read_text())
    document["primaryDistributionId"] = site.primary_distribution_id
    document["staging"]["overrides"]["originPath"] = f"/{release}"
    document["traffic"] = traffic
    document["probe"]["expect"]["bodyContains"] = marker(release)
    document["timing"] = dict(FAST_TIMING)
    document["approval"] = {"timeoutSeconds": 120}
    document.update(extra)
    return document


def stack_input(site: SeededSite, template: str, release: str) -> dict[str, Any]:
    """Stack mode with one of the seed's staging templates (examples/), sent as templateBody."""
    return {
        "primaryDistributionId": site.primary_distribution_id,
        "staging": {
            "mode": "stack",
            "stackName": f"e2e-staging-{uuid.uuid4().hex[:8]}",
            "templateBody": (EXAMPLES / template).read_text(),
            "parameters": {
                "PrimaryDistributionId": site.primary_distribution_id,
                "StaticResourceBucketName": site.bucket_name,
                "OriginAccessControlId": site.origin_access_control_id,
                "OriginPath": f"/{release}",
                "PriceClass": SEEDED_PRICE_CLASS,
            },
        },
        "probe": {"path": "/index.html", "expect": {"status": 200, "bodyContains": marker(release)}},
        "approval": {"timeoutSeconds": 120},
        "timing": dict(FAST_TIMING),
    }


HEADER_TRAFFIC = {"type": "SingleHeader", "header": "aws-cf-cd-env", "value": "staging"}
WEIGHT_TRAFFIC = {"type": "SingleWeight", "weight": 0.15, "stickiness": {"idleTtl": 300, "maximumTtl": 600}}


def marker(release: str) -> str:
    return f"v{release.split('.', 1)[0]} App"


@dataclass
class Release:
    cloud: LocalCloudHandle
    arn: str
    document: dict[str, Any]

    @classmethod
    def start(cls, cloud: LocalCloudHandle, document: dict[str, Any]) -> Release:
        validate_input(document)  # what `cfcd deploy` checks before it starts anything
        arn = cloud.client("stepfunctions").start_execution(
            stateMachineArn=cloud.info.state_machine_arn,
            name=f"e2e-{uuid.uuid4().hex[:16]}",
            input=json.dumps(document),
        )["executionArn"]
        return cls(cloud, arn, document)

    def describe(self) -> dict[str, Any]:
        return dict(self.cloud.client("stepfunctions").describe_execution(executionArn=self.arn))

    def finished(self, timeout: float = EXECUTION_DEADLINE_SECONDS) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            description = self.describe()
            return description if description["status"] in FINAL_STATUSES else None

        return wait_for(ended, timeout, f"end of {self.arn}")

    def pending_approval(self, timeout: float = EXECUTION_DEADLINE_SECONDS) -> ApprovalRequest:
        table = self.cloud.resource("dynamodb").Table(self.cloud.info.table_name)

        def asked() -> ApprovalRequest | None:
            pending = find_pending(table, self.arn)
            if pending is None and (description := self.describe())["status"] != "RUNNING":
                raise AssertionError(
                    f"the release ended before asking for approval: {description['status']} "
                    f"{description.get('error')}: {str(description.get('cause'))[:2000]}"
                )
            return pending

        return wait_for(asked, timeout, "pending approval")

    def decide(self, action: Action) -> Decision:
        """What `cfcd approve|reject` does: the approvals module's single-use decision.

        Decides the execution's PENDING approval; one left PENDING after the execution ended (an
        approval timeout) is decided too, to see it refused."""
        table = self.cloud.resource("dynamodb").Table(self.cloud.info.table_name)
        pending = find_pending(table, self.arn) or self.pending_approval()
        return decide(
            table,
            self.cloud.client("stepfunctions"),
            pending.approval_id,
            action,
            decided_by="e2e",
            comment="",
            source_ip=None,
            user_agent="cfcd-e2e",
            now=int(time.time()),
        )

    def entered_states(self) -> list[str]:
        return entered_states(execution_history(self.cloud.client("stepfunctions"), self.arn))


def primary_config(cloud: LocalCloudHandle, site: SeededSite) -> tuple[str, dict[str, Any]]:
    answer = cloud.client("cloudfront").get_distribution_config(Id=site.primary_distribution_id)
    return str(answer["ETag"]), dict(answer["DistributionConfig"])


def origin_path(config: dict[str, Any]) -> str:
    return str(config["Origins"]["Items"][0]["OriginPath"])


def without_policy_id(config: dict[str, Any]) -> dict[str, Any]:
    """The config viewers are served by: the attached policy's id aside (it is routing, not content)."""
    return {name: value for name, value in config.items() if name != "ContinuousDeploymentPolicyId"}


def policy_config(cloud: LocalCloudHandle, policy_id: str) -> dict[str, Any]:
    answer = cloud.client("cloudfront").get_continuous_deployment_policy_config(Id=policy_id)
    return dict(answer["ContinuousDeploymentPolicyConfig"])


def attached_policy(cloud: LocalCloudHandle, site: SeededSite) -> dict[str, Any]:
    _, config = primary_config(cloud, site)
    policy_id = config.get("ContinuousDeploymentPolicyId")
    assert policy_id, "the primary has no continuous deployment policy attached"
    return policy_config(cloud, str(policy_id))


def lock_holder(cloud: LocalCloudHandle, site: SeededSite) -> str | None:
    table = cloud.resource("dynamodb").Table(cloud.info.table_name)
    item = table.get_item(Key={"pk": lock_key(site.primary_distribution_id)}, ConsistentRead=True).get("Item")
    return str(item["executionArn"]) if item else None


def viewers(cloud: LocalCloudHandle, site: SeededSite) -> Site:
    return Site(cloud.info.edge_endpoint, site.domain_name)


def served(cloud: LocalCloudHandle, site: SeededSite, with_header: bool = False) -> Answer:
    site_view = viewers(cloud, site)
    return site_view.with_header() if with_header else site_view.get()
