"""Undoing a promotion on the local cloud: automatic promotions, then `cfcd rollback --wait`.

The site is one of its own; the rollback runs through the CLI exactly as an operator types it.
"""

from __future__ import annotations

from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from click.testing import CliRunner

from cfcd.cli import main as cli
from cfcd.local.mail import list_mail
from cfcd.local.seed import SeededSite
from cfcd_common.approvals import APPROVAL_KEY_PREFIX, EXECUTION_INDEX, Outcome
from tests.conftest import LocalCloudHandle
from tests.e2e.release_support import (
    FAST_TIMING,
    HEADER_TRAFFIC,
    Release,
    copy_input,
    lock_holder,
    origin_path,
    primary_config,
    served,
    viewers,
)
from tests.sites import new_site

pytestmark = pytest.mark.e2e

NEW_VIEWERS = 100
AUTOMATIC = {"mode": "auto", "timeoutSeconds": 120}


def approval_records(cloud: LocalCloudHandle, execution_arn: str) -> list[dict[str, Any]]:
    table = cloud.resource("dynamodb").Table(cloud.info.table_name)
    found = table.query(
        IndexName=EXECUTION_INDEX, KeyConditionExpression=Key("executionArn").eq(execution_arn)
    )
    return [item for item in found["Items"] if str(item["pk"]).startswith(APPROVAL_KEY_PREFIX)]


def approval_mails(cloud: LocalCloudHandle, site: SeededSite) -> list[str]:
    return [
        mail.subject
        for mail in list_mail(cloud.state_dir)
        if mail.subject.startswith("Approve release") and site.primary_distribution_id in mail.subject
    ]


def cfcd(cloud: LocalCloudHandle, *args: str) -> Any:
    return CliRunner().invoke(cli, [*args, "--state-dir", str(cloud.state_dir)], catch_exceptions=False)


def test_automatic_promotions_then_cfcd_rollback_brings_every_viewer_back_to_the_previous_release(
    cloud: LocalCloudHandle,
) -> None:
    site = new_site(cloud)
    # Given v2, then v3, released with approval.mode auto
    for release in ("2.0.0", "3.0.0"):
        run = Release.start(cloud, copy_input(site, release, HEADER_TRAFFIC, approval=AUTOMATIC))
        description = run.finished()
        # Then each is promoted with no approval asked: no record, no mail
        assert description["status"] == "SUCCEEDED", description
        assert "RequestApproval" not in run.entered_states()
        assert approval_records(cloud, run.arn) == []
        assert origin_path(primary_config(cloud, site)[1]) == f"/{release}"
    assert approval_mails(cloud, site) == []
    assert served(cloud, site).release == "v3"

    # When an operator rolls back, waiting for the end
    timing = ["--poll-seconds", str(FAST_TIMING["pollSeconds"])]
    timing += ["--deploy-timeout", str(FAST_TIMING["deployTimeoutSeconds"])]
    timing += ["--probe-timeout", str(FAST_TIMING["probeTimeoutSeconds"])]
    rolled_back = cfcd(cloud, "rollback", site.primary_distribution_id, "--wait", *timing)

    # Then it succeeded on its own (auto is a rollback's default), and every new viewer gets v2
    assert rolled_back.exit_code == 0, rolled_back.output
    assert "SUCCEEDED" in rolled_back.stdout
    assert origin_path(primary_config(cloud, site)[1]) == "/2.0.0"
    releases = [answer.release for answer in viewers(cloud, site).sample(NEW_VIEWERS)]
    assert releases.count("v2") == NEW_VIEWERS, releases
    assert approval_mails(cloud, site) == []
    assert lock_holder(cloud, site) is None

    # And the history lists it as the rollback to v2, newest first
    listed = cfcd(cloud, "history", "--distribution", site.primary_distribution_id)
    assert listed.exit_code == 0, listed.output
    newest, *older = listed.stdout.splitlines()[1:]
    assert "SUCCEEDED" in newest and "rollback to 2.0.0" in newest, listed.stdout
    assert [row.split()[-1] for row in older] == ["release", "release"], listed.stdout


def test_a_pipeline_rolls_back_to_a_named_release_through_start_execution(cloud: LocalCloudHandle) -> None:
    site = new_site(cloud)
    # Given v2 and v3 promoted, v3 approved by a human
    v2 = Release.start(cloud, copy_input(site, "2.0.0", HEADER_TRAFFIC, approval=AUTOMATIC))
    assert v2.finished()["status"] == "SUCCEEDED"
    v3 = Release.start(cloud, copy_input(site, "3.0.0", HEADER_TRAFFIC))
    assert v3.decide("approve").outcome is Outcome.DECIDED
    assert v3.finished()["status"] == "SUCCEEDED"
    # When a pipeline starts a restore of v2 by its label, with the default (manual) approval
    restore = {
        "primaryDistributionId": site.primary_distribution_id,
        "staging": {"mode": "restore", "release": "2.0.0"},
        "approval": {"timeoutSeconds": 120},
        "timing": dict(FAST_TIMING),
    }
    rollback = Release.start(cloud, restore)
    # Then the approver is asked (the mail names the rollback), and once approved v2 is back
    assert rollback.pending_approval().summary.release == "rollback to 2.0.0"
    assert rollback.decide("approve").outcome is Outcome.DECIDED
    assert rollback.finished()["status"] == "SUCCEEDED"
    assert served(cloud, site).release == "v2"
    assert served(cloud, site, with_header=True).release == "v2"
