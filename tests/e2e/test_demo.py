"""`cfcd demo`: the command itself, once, and a failed check of its story on the shared cloud.

The whole story runs once, as `make demo` runs it, with ``--keep-cloud``: the test then checks the
end state of every act through other doors (the executions, the approval records, CloudFront,
the edge) than the ones the demo used to prove its checks, and stops the cloud as a user would.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cfcd.demo import DemoContext, DemoFailed, Report, story
from cfcd.local.cloud import read_local_json
from cfcd.local.mail import list_mail
from cfcd.local.seed import SeededSite
from cfcd_common.approvals import EXECUTION_INDEX, ApprovalStatus, get_request
from tests.conftest import LocalCloudHandle
from tests.e2e.release_support import (
    REPO_ROOT,
    Release,
    attached_policy,
    lock_holder,
    origin_path,
    primary_config,
    served,
)

pytestmark = pytest.mark.e2e

DEMO_DEADLINE_SECONDS = 480.0  # a stuck demo fails; how long it takes is benchmarked
STOP_DEADLINE_SECONDS = 30.0


@pytest.fixture
def output() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def demo(cloud: LocalCloudHandle, site: SeededSite, output: io.StringIO) -> DemoContext:
    return DemoContext(cloud.info, cloud.state_dir, site, Report(output))


def approvals_of(cloud: LocalCloudHandle, execution_arn: str) -> list[dict[str, object]]:
    table = cloud.resource("dynamodb").Table(cloud.info.table_name)
    items = table.query(
        IndexName=EXECUTION_INDEX,
        KeyConditionExpression="executionArn = :arn",
        ExpressionAttributeValues={":arn": execution_arn},
    )["Items"]
    # The index has the keys and the status; the record itself has the decision.
    return [
        dict(table.get_item(Key={"pk": item["pk"]}, ConsistentRead=True)["Item"])
        for item in items
        if str(item["pk"]).startswith("approval#")
    ]


def test_a_failed_check_stops_the_story(demo: DemoContext, output: io.StringIO) -> None:
    # Given a site where no release runs (nothing behind the staging header)
    # When the demo checks that the header reaches v2
    with pytest.raises(DemoFailed, match="v2"):
        story.header_routes_to_staging(demo)

    # Then it says so with ✗ and the evidence, and counts no check as passed
    assert re.search(
        r"✗ with the header aws-cf-cd-env: staging → v2 .*\n.*HTTP 200, body v1 App", output.getvalue()
    )
    assert demo.report.checks_passed == 0


class DemoRun:
    """`cfcd demo --keep-cloud` in the background: its output, read as it comes."""

    def __init__(self, state_dir: Path) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CFCD_"))}
        command = [sys.executable, "-m", "cfcd", "demo", "--state-dir", str(state_dir), "--keep-cloud"]
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self.keeps_running = False  # the story is told and the cloud kept
        self.settled = threading.Event()  # kept running, or ended
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if "The local cloud keeps running" in line:
                self.keeps_running = True
                self.settled.set()
        self.settled.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=STOP_DEADLINE_SECONDS)


def test_cfcd_demo_tells_the_whole_story_and_leaves_what_every_act_says(tmp_path: Path) -> None:
    # Given a state dir of its own (the demo starts its own local cloud)
    state_dir = tmp_path / "demo"

    # When `cfcd demo` runs, as `make demo` runs it, keeping its cloud once the story is told
    run = DemoRun(state_dir)
    try:
        assert run.settled.wait(DEMO_DEADLINE_SECONDS), "the demo neither finished nor stopped"
        assert run.keeps_running, run.output[-6000:]

        # Then it told each part of the story with its evidence
        assert "✗" not in run.output
        for line in (
            "✓ viewers get v1 through the edge",
            "✓ with the header aws-cf-cd-env: staging → v2 (staging)",
            "Subject: Approve release 2.0.0",
            "✓ the form's POST approved the release",
            "✓ the primary took staging's config",
            "✓ the share of v3 matches the weight 0.15",
            "✓ a viewer first sent to v3 stays on v3",
            "✓ the execution FAILED with DeploymentRejected",
            "✓ the continuous deployment policy is disabled",
            "✓ the primary is untouched",
            "✓ the first step's analysis stopped it: FAILED with AnalysisFailed",
            "✓ only the first step's share of viewers ever got v4",
            "✓ promoted automatically: no approval asked, no approval mail sent",
            "✓ v2 is back for every viewer",
        ):
            assert line in run.output
        assert int(re.findall(r"Summary: (\d+) checks passed", run.output)[0]) >= 20
        # (how long it takes is a figure of `make bench`, not a test)
        assert re.search(r"Total time: [\d.]+ s", run.output)
        # And the cloud it left says the same through other doors
        assert_every_act_ended_as_told(demo_cloud(state_dir))

        # When it is stopped as the demo says
        down = subprocess.run(
            [sys.executable, "-m", "cfcd", "local", "down", "--state-dir", str(state_dir)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=STOP_DEADLINE_SECONDS,
            check=False,
        )
        assert down.returncode == 0, down.stdout + down.stderr
        assert run.process.wait(timeout=STOP_DEADLINE_SECONDS) == 0, run.output[-3000:]
    finally:
        run.kill()
    # Then it stopped its cloud (local.json gone) and kept the two approval emails
    assert not (state_dir / "local.json").exists()
    subjects = [mail.subject for mail in list_mail(state_dir)]
    assert [subject.split(" on ")[0] for subject in subjects if subject.startswith("Approve")] == [
        "Approve release 2.0.0",
        "Approve release 3.0.0",
    ]


def demo_cloud(state_dir: Path) -> LocalCloudHandle:
    info = read_local_json(state_dir)
    return LocalCloudHandle(info=info, state_dir=state_dir)


def assert_every_act_ended_as_told(cloud: LocalCloudHandle) -> None:
    """v2 promoted, v3 rejected, v4 stopped by its first step's analysis, v3 promoted in steps,
    then rolled back to v2; the approvals recorded as each was decided."""
    site = cloud.info.site
    assert site is not None
    sfn = cloud.client("stepfunctions")
    executions = sorted(
        sfn.list_executions(stateMachineArn=cloud.info.state_machine_arn)["executions"],
        key=lambda execution: execution["startDate"],
    )
    header, weight, broken, stepped, rollback = (
        Release(
            cloud,
            execution["executionArn"],
            json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]),
        )
        for execution in executions
    )
    assert header.describe()["status"] == "SUCCEEDED"
    assert (weight.describe()["status"], weight.describe().get("error")) == ("FAILED", "DeploymentRejected")
    assert (broken.describe()["status"], broken.describe().get("error")) == ("FAILED", "AnalysisFailed")
    assert broken.entered_states().count("SetStepWeight") == 1
    assert stepped.describe()["status"] == "SUCCEEDED"
    assert stepped.entered_states().count("SetStepWeight") == 3
    assert "RequestApproval" not in stepped.entered_states()
    assert rollback.describe()["status"] == "SUCCEEDED"
    assert rollback.document["staging"] == {"mode": "restore"}
    assert origin_path(primary_config(cloud, site)[1]) == "/2.0.0"
    assert served(cloud, site).release == "v2"
    assert served(cloud, site, with_header=True).release == "v2"
    assert attached_policy(cloud, site)["Enabled"] is False
    assert lock_holder(cloud, site) is None
    # The approval went through the emailed page's form (its browser's user agent is recorded),
    # the rejection through the CLI's path (decide() with the demo's agent).
    table = cloud.resource("dynamodb").Table(cloud.info.table_name)
    [approved] = approvals_of(cloud, header.arn)
    approved_record = get_request(table, str(approved["pk"]).removeprefix("approval#"))
    assert approved_record is not None
    assert (approved_record.status, approved_record.decided_by) == (ApprovalStatus.APPROVED, "demo")
    assert "browser" in (approved_record.user_agent or "")
    [rejected] = approvals_of(cloud, weight.arn)
    assert (rejected["status"], rejected["decidedBy"], rejected["userAgent"]) == (
        "REJECTED",
        "demo",
        "cfcd-demo",
    )
