"""`cfcd demo`: its story's steps on the shared local cloud, and the command itself, once.

The steps are the demo's own functions (:mod:`cfcd.demo.story`), run on a fresh site; the test
then checks the end state through other doors (the approval records, CloudFront, the edge) than
the ones the demo used to prove its checks.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cfcd.demo import DemoContext, DemoFailed, Report, story
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


def test_the_story_ends_with_v2_back_after_every_act(
    cloud: LocalCloudHandle, site: SeededSite, demo: DemoContext, output: io.StringIO
) -> None:
    # Given a fresh site serving v1
    # When the demo's story runs on it
    releases = story.tell(demo)

    # Then every check passed ...
    text = output.getvalue()
    assert "✗" not in text
    assert demo.report.checks_passed >= 20
    # ... and the end state says the same through other doors: v2 promoted, v3 rejected, v4
    # stopped by its first step's analysis, v3 promoted in steps, then rolled back to v2
    header, weight, broken, stepped, rollback = (Release(cloud, r.arn, r.document) for r in releases)
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


def test_cfcd_demo_tells_the_whole_story(tmp_path: Path) -> None:
    # Given a state dir of its own (the demo starts its own local cloud)
    state_dir = tmp_path / "demo"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CFCD_"))}

    # When `cfcd demo` runs, as `make demo` runs it
    finished = subprocess.run(
        [sys.executable, "-m", "cfcd", "demo", "--state-dir", str(state_dir)],
        cwd=REPO_ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=DEMO_DEADLINE_SECONDS,
        check=False,
    )

    # Then it exits 0 having told each part of the story with its evidence
    stdout = finished.stdout
    assert finished.returncode == 0, stdout[-6000:] + finished.stderr[-3000:]
    assert "✗" not in stdout
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
        assert line in stdout
    # (how long it takes is a figure of `make bench`, not a test)
    assert re.search(r"Total time: [\d.]+ s", stdout)
    # And it stopped its cloud (local.json gone) and kept the two approval emails
    assert not (state_dir / "local.json").exists()
    subjects = [mail.subject for mail in list_mail(state_dir)]
    assert [subject.split(" on ")[0] for subject in subjects if subject.startswith("Approve")] == [
        "Approve release 2.0.0",
        "Approve release 3.0.0",
    ]
