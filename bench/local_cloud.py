"""The local cloud in this process, and releases driven through it like a pipeline and an approver.

In-process (rather than ``cfcd local up`` in a subprocess) so the CloudFront emulator's own record
of when each change is deployed everywhere can be read directly for the detection-lag figure.
The approver is a person with a browser: the captured approval mail's link is opened (GET) and
its form posted (Approve), through the approval function's Function URL, as the demo does.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from bench.functions import REPO_ROOT, TEMPLATE
from cfcd.client.release_input import validate_input
from cfcd.demo.approval import ApprovalMail, find_approval_mail, open_link, submit_decision
from cfcd.demo.context import STICKINESS
from cfcd.demo.progressive import ANALYSIS, AUTOMATIC, PROBE_SAMPLES, PROBE_TIMEOUT_SECONDS, STEPS
from cfcd.demo.viewer import Browsers, Site
from cfcd.local import cloudfront
from cfcd.local.cloud import LocalCloud, LocalCloudInfo
from cfcd.local.cloudfront.api import state_for
from cfcd.local.sessions import LocalClients

REGION = "us-east-1"
EVENTS = REPO_ROOT / "tests" / "events"
MAIL_POLL_SECONDS = 0.1
APPROVER = "bench"
END_POLL_SECONDS = 0.1
RELEASE_DEADLINE_SECONDS = 180.0
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout: float, interval: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(interval)
    raise TimeoutError(f"no {what} within {timeout:.0f} s")


@dataclass
class ReleaseRun:
    """One finished execution: its description, history, and what the approver saw."""

    name: str
    propagation_seconds: float
    poll_seconds: int
    description: dict[str, Any]
    history: list[dict[str, Any]]
    deployed_at: float | None  # when primary, staging and policy were all Deployed (emulator clock)

    @property
    def succeeded(self) -> bool:
        return bool(self.description["status"] == "SUCCEEDED")

    @property
    def wall_seconds(self) -> float:
        return float((self.description["stopDate"] - self.description["startDate"]).total_seconds())


class BenchCloud:
    def __init__(self, cloud: LocalCloud, info: LocalCloudInfo) -> None:
        if info.site is None or info.state_machine_arn is None or info.table_name is None:
            raise RuntimeError("the local cloud came up without the seeded site or the template")
        self.cloud = cloud
        self.info = info
        self.site = info.site
        self.state_machine_arn = info.state_machine_arn
        self.sfn: Any = LocalClients(info.aws_endpoint, REGION).client("stepfunctions")
        self._releases = 0

    # -- the emulator --------------------------------------------------------------------------------
    @staticmethod
    def set_propagation_seconds(seconds: float) -> None:
        cloudfront.set_propagation_seconds(seconds)

    def deployed_at(self) -> float:
        """When the primary, its policy and the staging distribution were all Deployed (epoch s)."""
        state = state_for(cloudfront.DEFAULT_ACCOUNT_ID)
        with state.lock:
            primary = state.distribution(self.site.primary_distribution_id)
            records: list[Any] = [primary]
            policy = state.policy_attached_to(primary)
            if policy is not None:
                records.append(policy)
                records += [
                    staging
                    for name in policy.staging_dns_names
                    if (staging := state.distribution_by_domain(name)) is not None
                ]
            return float(max(record.revisions[-1].deployed_at for record in records))

    # -- releases ------------------------------------------------------------------------------------
    def release_input(self, event_file: str, poll_seconds: int) -> dict[str, Any]:
        """A contract input from tests/events for the seeded site; releases alternate 2.0.0 / 3.0.0."""
        self._releases += 1
        release = "2.0.0" if self._releases % 2 else "3.0.0"
        document: dict[str, Any] = json.loads((EVENTS / event_file).read_text())
        document["primaryDistributionId"] = self.site.primary_distribution_id
        document["release"] = release
        document["staging"]["overrides"]["originPath"] = f"/{release}"
        document["probe"]["expect"]["bodyContains"] = f"v{release.split('.')[0]} App"
        document["timing"] = {
            "pollSeconds": poll_seconds,
            "deployTimeoutSeconds": 300,
            "probeTimeoutSeconds": 300,
        }
        document["approval"] = {"timeoutSeconds": 600}
        return document

    def start(self, document: dict[str, Any]) -> tuple[str, str]:
        """StartExecution; (name, ARN)."""
        name = f"bench-{uuid.uuid4().hex[:12]}"
        arn: str = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(document)
        )["executionArn"]
        return name, arn

    def approval_mail(self, name: str, execution_arn: str) -> ApprovalMail:
        """The approval email of the execution, as soon as it is captured (an approver's inbox)."""

        def probe() -> ApprovalMail | None:
            mail = find_approval_mail(self.cloud.state_dir, name)
            if mail is not None:
                return mail
            status = self.sfn.describe_execution(executionArn=execution_arn)["status"]
            if status != "RUNNING":
                raise RuntimeError(f"{execution_arn} ended {status} before asking for approval")
            return None

        return wait_for(probe, RELEASE_DEADLINE_SECONDS, MAIL_POLL_SECONDS, "approval email")

    @staticmethod
    def approve(mail: ApprovalMail) -> None:
        """Open the emailed link and press Approve on its page, as a person would."""
        page = open_link(mail.link)
        if page.status != 200 or "approve" not in page.buttons:
            raise RuntimeError(
                f"the approval link answered HTTP {page.status} {page.title!r}, no Approve form"
            )
        result = submit_decision(page, "approve", APPROVER)
        if result.status != 200 or result.title != "Approved":
            raise RuntimeError(f"Approve answered HTTP {result.status} {result.title!r}: {result.banner()}")

    def finished(self, execution_arn: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            description: dict[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
            return None if description["status"] == "RUNNING" else description

        return wait_for(probe, RELEASE_DEADLINE_SECONDS, END_POLL_SECONDS, "end of the execution")

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.sfn.get_execution_history(
                executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {})
            )
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events

    def run_release(
        self,
        propagation_seconds: float,
        poll_seconds: int,
        event_file: str = "input_copy_header.json",
        *,
        instant_after_approval: bool = False,
        before_approval: Callable[[], None] | None = None,
    ) -> ReleaseRun:
        """One happy release, approved through the emailed link the moment the mail arrives.

        ``instant_after_approval`` drops propagation to 0 s once the approval is asked for, so a
        figure about the first wait does not also pay for the promotion's and invalidation's.
        """
        self.set_propagation_seconds(propagation_seconds)
        document = self.release_input(event_file, poll_seconds)
        name, arn = self.start(document)
        mail = self.approval_mail(name, arn)
        deployed_at = self.deployed_at()
        if before_approval is not None:
            before_approval()
        if instant_after_approval:
            self.set_propagation_seconds(0)
        self.approve(mail)
        return self._succeeded(document, arn, propagation_seconds, deployed_at)

    def progressive_input(self, poll_seconds: int) -> dict[str, Any]:
        """The header release's input made a weight release in the demo's steps (cfcd.demo.progressive):
        its steps, analysis, probe samples and probe timeout, promoted with ``approval.mode: auto``."""
        document = self.release_input("input_copy_header.json", poll_seconds)
        document["traffic"] = {
            "type": "SingleWeight",
            "steps": [dict(step) for step in STEPS],
            "stickiness": dict(STICKINESS),
        }
        document["analysis"] = dict(ANALYSIS)
        document["approval"] = dict(AUTOMATIC)
        document["probe"]["samples"] = PROBE_SAMPLES
        document["timing"]["probeTimeoutSeconds"] = PROBE_TIMEOUT_SECONDS
        validate_input(document)
        return document

    def run_progressive_release(self, propagation_seconds: float, poll_seconds: int) -> ReleaseRun:
        """One happy progressive release (:meth:`progressive_input`), no human in it.

        Synthetic browsers visit the site through the edge until it ends, so the edge publishes the
        per-second CloudWatch metrics each step's analysis reads (its ``minRequests``).
        """
        self.set_propagation_seconds(propagation_seconds)
        document = self.progressive_input(poll_seconds)
        with Browsers(Site(self.info.edge_endpoint, self.site.domain_name)):
            _, arn = self.start(document)
            return self._succeeded(document, arn, propagation_seconds, deployed_at=None)

    def _succeeded(
        self, document: dict[str, Any], arn: str, propagation_seconds: float, deployed_at: float | None
    ) -> ReleaseRun:
        """The execution once it ended (within :data:`RELEASE_DEADLINE_SECONDS`), which must be SUCCEEDED."""
        description = self.finished(arn)
        if description["status"] != "SUCCEEDED":
            raise RuntimeError(
                f"release {arn} ended {description['status']}: {description.get('error')} "
                f"{str(description.get('cause'))[:1000]}"
            )
        return ReleaseRun(
            name=document["release"],
            propagation_seconds=propagation_seconds,
            poll_seconds=int(document["timing"]["pollSeconds"]),
            description=description,
            history=self.history(arn),
            deployed_at=deployed_at,
        )


@contextmanager
def local_cloud(prewarm_workers: bool = True) -> Iterator[BenchCloud]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="cfcd-bench-") as state_dir:
        # As `cfcd local up` starts it (pre-warmed): the first release is the first after local up.
        cloud = LocalCloud(
            state_dir=Path(state_dir),
            template_path=TEMPLATE,
            propagation_seconds=0.0,
            seed=True,
            prewarm_workers=prewarm_workers,
        )
        try:
            info = cloud.start()
            yield BenchCloud(cloud, info)
        finally:
            cloud.stop()
