"""A primary managed as code (examples/primary.yaml as a stack): a promotion survives the next stack
update when the release writes promotion.originPathParameter, and is undone when it does not.

Each scenario deploys its own site stack on the shared local cloud, releases 2.0.0 through cfcd,
approves, then updates the stack with an unrelated change (its comment) the way an operator's
next deploy would, and asks `cfcd drift` before and after.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cfcd.cli import main
from cfcd.local.seed import RELEASES, SeededSite, release_page
from tests.conftest import LocalCloudHandle
from tests.e2e.release_support import (
    EXAMPLES,
    HEADER_TRAFFIC,
    Release,
    copy_input,
    viewers,
)
from tests.e2e.test_eventbridge import status_mail

pytestmark = pytest.mark.e2e

# Every new viewer, after the stack update: more than one request, none may see another release.
VIEWERS = 20


@dataclass(frozen=True)
class StackSite:
    stack_name: str
    parameter: str  # the SSM parameter the template reads its origin path from
    site: SeededSite


def deploy_site(cloud: LocalCloudHandle) -> StackSite:
    """examples/primary.yaml as a stack of its own, serving /1.0.0 with the seed's releases uploaded."""
    suffix = uuid.uuid4().hex[:10]
    stack_name, parameter = f"e2e-site-{suffix}", f"/cfcd/e2e-{suffix}/origin-path"
    cloud.client("ssm").put_parameter(Name=parameter, Value="/1.0.0", Type="String")
    cloudformation = cloud.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=(EXAMPLES / "primary.yaml").read_text(),
        Parameters=parameters(parameter),
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack["Outputs"]}
    s3 = cloud.client("s3")
    for release in RELEASES:
        s3.put_object(
            Bucket=outputs["BucketName"],
            Key=f"{release}/index.html",
            Body=release_page(release).encode(),
            ContentType="text/html; charset=utf-8",
        )
    site = SeededSite(
        primary_distribution_id=outputs["DistributionId"],
        domain_name=outputs["DomainName"],
        bucket_name=outputs["BucketName"],
        origin_access_control_id=outputs["OriginAccessControlId"],
    )
    deployed(cloud, site)
    return StackSite(stack_name, parameter, site)


def parameters(origin_path_parameter: str, comment: str = "cfcd seed site (primary)") -> list[dict[str, str]]:
    return [
        {"ParameterKey": "OriginPath", "ParameterValue": origin_path_parameter},
        {"ParameterKey": "Comment", "ParameterValue": comment},
    ]


def deployed(cloud: LocalCloudHandle, site: SeededSite) -> None:
    cloud.client("cloudfront").get_waiter("distribution_deployed").wait(
        Id=site.primary_distribution_id, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )


def update_comment(cloud: LocalCloudHandle, stack_site: StackSite, comment: str) -> None:
    """An operator's next deploy of the site: the same template, only a new comment."""
    cloud.client("cloudformation").update_stack(
        StackName=stack_site.stack_name,
        TemplateBody=(EXAMPLES / "primary.yaml").read_text(),
        Parameters=parameters(stack_site.parameter, comment),
    )
    deployed(cloud, stack_site.site)


def release_and_approve(cloud: LocalCloudHandle, site: SeededSite, **extra: Any) -> dict[str, Any]:
    release = Release.start(cloud, copy_input(site, "2.0.0", HEADER_TRAFFIC, **extra))
    release.decide("approve")
    finished = release.finished()
    assert finished["status"] == "SUCCEEDED", (finished.get("error"), finished.get("cause"))
    return finished


def drift(cloud: LocalCloudHandle, site: SeededSite) -> Result:
    """`cfcd drift DISTRIBUTION --json` against the local cloud, as an operator runs it."""
    return CliRunner().invoke(
        main, ["drift", site.primary_distribution_id, "--json", "--state-dir", str(cloud.state_dir)]
    )


def every_viewer_gets(cloud: LocalCloudHandle, site: SeededSite) -> set[str]:
    return {answer.release for answer in viewers(cloud, site).sample(VIEWERS)}


@pytest.fixture
def stack_site(cloud: LocalCloudHandle) -> StackSite:
    return deploy_site(cloud)


def test_a_promotion_recorded_in_ssm_survives_the_next_stack_update(
    cloud: LocalCloudHandle, stack_site: StackSite
) -> None:
    # Given the stack-made primary serving 1.0.0, released to 2.0.0 with originPathParameter
    site = stack_site.site
    assert every_viewer_gets(cloud, site) == {"v1"}
    finished = release_and_approve(cloud, site, promotion={"originPathParameter": stack_site.parameter})
    output = json.loads(finished["output"])
    assert output["originPathRecord"]["recorded"] is True
    assert cloud.client("ssm").get_parameter(Name=stack_site.parameter)["Parameter"]["Value"] == "/2.0.0"
    assert output["primaryStack"]["stackName"] == stack_site.stack_name
    assert output["stackUpdateWarning"] is None

    # When the site's stack is updated with an unrelated change (its comment)
    update_comment(cloud, stack_site, "cfcd seed site (primary), new comment")

    # Then every viewer still gets 2.0.0, the comment changed, and drift finds nothing
    assert every_viewer_gets(cloud, site) == {"v2"}
    config = cloud.client("cloudfront").get_distribution_config(Id=site.primary_distribution_id)
    assert config["DistributionConfig"]["Comment"] == "cfcd seed site (primary), new comment"
    after = drift(cloud, site)
    assert after.exit_code == 0, after.output
    assert json.loads(after.stdout)["differences"] == []


def test_without_the_parameter_the_next_stack_update_puts_the_old_release_back(
    cloud: LocalCloudHandle, stack_site: StackSite
) -> None:
    # Given the stack-made primary released to 2.0.0 without originPathParameter
    site = stack_site.site
    finished = release_and_approve(cloud, site)
    assert every_viewer_gets(cloud, site) == {"v2"}
    # And the release said so: in its output and in its status mail
    warning = json.loads(finished["output"])["stackUpdateWarning"]
    assert f"belongs to CloudFormation stack {stack_site.stack_name}" in warning
    _, mail = status_mail(cloud, finished["executionArn"])
    assert f"WARNING: {warning}" in mail

    # When drift is asked before the next stack update
    before = drift(cloud, site)

    # Then it reports the origin path the update would put back
    assert before.exit_code == 1, before.output
    assert {
        (difference["path"], difference["stack"], difference["live"])
        for difference in json.loads(before.stdout)["differences"]
    } == {("DistributionConfig.Origins.Items[site-bucket].OriginPath", "/1.0.0", "/2.0.0")}

    # When the stack is updated with an unrelated change, Then viewers are back on 1.0.0
    update_comment(cloud, stack_site, "cfcd seed site (primary), new comment")
    assert every_viewer_gets(cloud, site) == {"v1"}
    assert drift(cloud, site).exit_code == 0


def test_a_failed_write_of_the_parameter_leaves_the_release_promoted_with_a_warning(
    cloud: LocalCloudHandle, stack_site: StackSite
) -> None:
    # Given SSM refusing the write (an IAM policy narrower than the prefix, say)
    cloud.faults.inject("ssm", "PutParameter", "AccessDeniedException", http_status=400, count=1)

    # When the release promotes 2.0.0 with originPathParameter
    finished = release_and_approve(
        cloud, stack_site.site, promotion={"originPathParameter": stack_site.parameter}
    )

    # Then it SUCCEEDED, promoted (nothing rolled back, the cache invalidated), the parameter
    # untouched, and the record and the status mail say what to do
    assert every_viewer_gets(cloud, stack_site.site) == {"v2"}
    record = json.loads(finished["output"])["originPathRecord"]
    assert (record["recorded"], record["parameterName"]) == (False, stack_site.parameter)
    assert "AccessDeniedException" in record["cause"]
    assert cloud.client("ssm").get_parameter(Name=stack_site.parameter)["Parameter"]["Value"] == "/1.0.0"
    _, mail = status_mail(cloud, finished["executionArn"])
    assert f"WARNING: the SSM parameter {stack_site.parameter} was not written" in mail
