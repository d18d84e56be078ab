"""Every CloudFront write of a task, applied but its answer lost: the retried task ends as if the
write had succeeded once (one staging distribution, one policy, one release history record, the
same outcome).

CloudFront here is the local cloud's emulator in process, so CallerReference reuse, a second
policy naming the same staging distribution and stale ETags answer as CloudFront does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from cfcd_common.errors import TransientAwsError
from cfcd_common.release_history import read_history
from functions.deploy_staging import app as deploy_staging
from functions.disable_policy import app as disable_policy
from functions.enable_policy import app as enable_policy
from functions.invalidate_cache import app as invalidate_cache
from functions.promote import app as promote
from tests.unit.conftest import EXECUTION_ARN, FakeLambdaContext, use_client
from tests.unit.lost_answers import create_primary, lose_answer, policies, staging_distributions

pytestmark = pytest.mark.unit

HEADER = {"type": "SingleHeader", "header": "aws-cf-cd-env", "value": "staging"}
EARLIER_EXECUTION = EXECUTION_ARN.replace("release-2-0-0", "release-1-9-0")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def twice(handler: Handler, event: dict[str, Any]) -> dict[str, Any]:
    """The first attempt loses an answer and fails as Step Functions sees it; the retry's result."""
    with pytest.raises(TransientAwsError):
        handler(event, FakeLambdaContext())
    return handler(event, FakeLambdaContext())


def deploy_event(primary_id: str, execution_arn: str = EXECUTION_ARN) -> dict[str, Any]:
    return {
        "executionArn": execution_arn,
        "primaryDistributionId": primary_id,
        "overrides": {"originPath": "/2.0.0"},
    }


def enable_event(primary_id: str, staging_id: str) -> dict[str, Any]:
    return {
        "executionArn": EXECUTION_ARN,
        "primaryDistributionId": primary_id,
        "stagingDistributionId": staging_id,
        "policyId": None,
        "traffic": HEADER,
        "deployTimeoutSeconds": 60,
    }


@pytest.fixture
def site(emulated_cloudfront: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    use_client(monkeypatch, "cloudfront", emulated_cloudfront)
    use_client(monkeypatch, "s3", boto3.client("s3", region_name="us-east-1"))
    return create_primary(emulated_cloudfront)


@pytest.mark.parametrize("operation", ["CopyDistribution", "UpdateDistribution"])
def test_deploy_staging_retried_after_a_lost_answer_adopts_its_own_copy(
    emulated_cloudfront: Any, site: dict[str, Any], operation: str
) -> None:
    # Given DeployStaging's `operation` went through but its answer was lost
    lose_answer(emulated_cloudfront, operation)
    # When Step Functions retries the task
    result = twice(deploy_staging.lambda_handler, deploy_event(site["Id"]))
    # Then there is one staging copy of the primary, the release's, and the task names it
    [staging] = staging_distributions(emulated_cloudfront)
    assert result["stagingDistributionId"] == staging["Id"]
    assert staging["Origins"]["Items"][0]["OriginPath"] == "/2.0.0"


def test_a_staging_copy_left_by_a_release_that_failed_before_its_policy_is_adopted(
    emulated_cloudfront: Any, site: dict[str, Any]
) -> None:
    # Given an earlier release copied the primary and failed before attaching a policy
    earlier = deploy_staging.lambda_handler(deploy_event(site["Id"], EARLIER_EXECUTION), FakeLambdaContext())
    # When the next release deploys staging
    result = deploy_staging.lambda_handler(deploy_event(site["Id"]), FakeLambdaContext())
    # Then it reuses that copy instead of making a second one (20 staging distributions per account)
    assert result["stagingDistributionId"] == earlier["stagingDistributionId"]
    assert len(staging_distributions(emulated_cloudfront)) == 1


def test_another_tools_staging_distribution_is_never_adopted(
    emulated_cloudfront: Any, site: dict[str, Any]
) -> None:
    # Given a staging copy of the primary made by someone else (not cfcd's CallerReference)
    etag = emulated_cloudfront.get_distribution(Id=site["Id"])["ETag"]
    theirs = emulated_cloudfront.copy_distribution(
        PrimaryDistributionId=site["Id"], Staging=True, IfMatch=etag, CallerReference="terraform-20250101"
    )["Distribution"]["Id"]
    # When a release deploys staging, Then it makes its own
    result = deploy_staging.lambda_handler(deploy_event(site["Id"]), FakeLambdaContext())
    assert result["stagingDistributionId"] != theirs
    assert len(staging_distributions(emulated_cloudfront)) == 2


def test_a_staging_distribution_deleted_while_the_copies_are_read_is_skipped(
    emulated_cloudfront: Any, site: dict[str, Any]
) -> None:
    # Given another site's staging distribution, deleted by its owner right after DeployStaging
    # listed the account's distributions and before it reads that one's config
    other = create_primary(emulated_cloudfront, reference="other-primary")
    theirs = emulated_cloudfront.copy_distribution(
        PrimaryDistributionId=other["Id"],
        Staging=True,
        IfMatch=emulated_cloudfront.get_distribution(Id=other["Id"])["ETag"],
        CallerReference="other-staging",
    )["Distribution"]
    deleted: list[str] = []

    def delete_theirs(**_: Any) -> None:
        if deleted:
            return
        deleted.append(theirs["Id"])
        current = emulated_cloudfront.get_distribution_config(Id=theirs["Id"])
        disabled = emulated_cloudfront.update_distribution(
            Id=theirs["Id"],
            IfMatch=current["ETag"],
            DistributionConfig={**current["DistributionConfig"], "Enabled": False},
        )
        emulated_cloudfront.delete_distribution(Id=theirs["Id"], IfMatch=disabled["ETag"])

    emulated_cloudfront.meta.events.register("after-call.cloudfront.ListDistributions", delete_theirs)
    # When the release deploys staging, Then it copies the primary as if the other had never been there
    result = deploy_staging.lambda_handler(deploy_event(site["Id"]), FakeLambdaContext())
    assert deleted == [theirs["Id"]]
    [staging] = staging_distributions(emulated_cloudfront)
    assert result["stagingDistributionId"] == staging["Id"] != theirs["Id"]


@pytest.mark.parametrize(
    "operation",
    ["CreateContinuousDeploymentPolicy", "UpdateContinuousDeploymentPolicy", "UpdateDistribution"],
)
def test_enable_retried_after_a_lost_answer_adopts_its_own_policy(
    emulated_cloudfront: Any, site: dict[str, Any], operation: str
) -> None:
    # Given a staging copy; on the second release (policy disabled by a promotion) the policy exists
    staging_id = deploy_staging.lambda_handler(deploy_event(site["Id"]), FakeLambdaContext())[
        "stagingDistributionId"
    ]
    if operation == "UpdateContinuousDeploymentPolicy":
        enable_policy.lambda_handler(enable_event(site["Id"], staging_id), FakeLambdaContext())
        disable_policy.lambda_handler(
            {
                "executionArn": EXECUTION_ARN,
                "primaryDistributionId": site["Id"],
                "stagingDistributionId": staging_id,
                "deployTimeoutSeconds": 60,
            },
            FakeLambdaContext(),
        )
    # When EnableContinuousDeployment's `operation` goes through, its answer is lost, and it is retried
    lose_answer(emulated_cloudfront, operation)
    result = twice(enable_policy.lambda_handler, enable_event(site["Id"], staging_id))
    # Then one policy names staging, enabled and attached to the primary, and the task names it
    [policy] = policies(emulated_cloudfront)
    assert result["policyId"] == policy["Id"]
    assert policy["ContinuousDeploymentPolicyConfig"]["Enabled"] is True
    primary = emulated_cloudfront.get_distribution_config(Id=site["Id"])["DistributionConfig"]
    assert primary["ContinuousDeploymentPolicyId"] == policy["Id"]


def test_the_rollback_disables_a_policy_enabled_but_never_attached(
    emulated_cloudfront: Any, site: dict[str, Any]
) -> None:
    # Given EnableContinuousDeployment made an enabled policy for staging and failed before attaching it
    staging_id = deploy_staging.lambda_handler(deploy_event(site["Id"]), FakeLambdaContext())[
        "stagingDistributionId"
    ]
    staging_domain = emulated_cloudfront.get_distribution(Id=staging_id)["Distribution"]["DomainName"]
    emulated_cloudfront.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig={
            "StagingDistributionDnsNames": {"Quantity": 1, "Items": [staging_domain]},
            "Enabled": True,
            "TrafficConfig": {
                "Type": "SingleHeader",
                "SingleHeaderConfig": {"Header": "aws-cf-cd-env", "Value": "staging"},
            },
        }
    )
    # When the release rolls back
    result = disable_policy.lambda_handler(
        {
            "executionArn": EXECUTION_ARN,
            "primaryDistributionId": site["Id"],
            "stagingDistributionId": staging_id,
            "deployTimeoutSeconds": 60,
        },
        FakeLambdaContext(),
    )
    # Then that policy is disabled too: nothing of the release stays enabled
    [policy] = policies(emulated_cloudfront)
    assert policy["ContinuousDeploymentPolicyConfig"]["Enabled"] is False
    assert result["changed"] is True


def enabled_release(cloudfront: Any, primary_id: str) -> dict[str, Any]:
    staging_id = deploy_staging.lambda_handler(deploy_event(primary_id), FakeLambdaContext())[
        "stagingDistributionId"
    ]
    return enable_policy.lambda_handler(enable_event(primary_id, staging_id), FakeLambdaContext())


def promote_event(primary_id: str, enabled: dict[str, Any]) -> dict[str, Any]:
    return {
        "executionArn": EXECUTION_ARN,
        "executionName": EXECUTION_ARN.rsplit(":", 1)[-1],
        "primaryDistributionId": primary_id,
        "stagingDistributionId": enabled["stagingDistributionId"],
        "deployTimeoutSeconds": 60,
        "expectedPrimaryETag": enabled["primaryETag"],
        "expectedStagingETag": enabled["stagingETag"],
        "release": "2.0.0",
        "probe": {"path": "/", "expect": {"bodyContains": "v2 App"}},
    }


@pytest.fixture
def history(deployment_table: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The table Promote keeps the release history in (moto), through a client the test can fault."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    use_client(monkeypatch, "dynamodb", dynamodb)
    return dynamodb


@pytest.mark.parametrize(
    ("service", "operation"),
    [
        ("cloudfront", "UpdateDistributionWithStagingConfig"),
        ("dynamodb", "PutItem"),
        ("dynamodb", "UpdateItem"),
    ],
)
def test_promote_retried_after_a_lost_answer_promotes_and_records_once(
    emulated_cloudfront: Any,
    history: Any,
    deployment_table: str,
    site: dict[str, Any],
    service: str,
    operation: str,
) -> None:
    # Given a release whose policy went live, and one of Promote's writes (the promotion, the
    # history record, marking it promoted) that went through with its answer lost
    enabled = enabled_release(emulated_cloudfront, site["Id"])
    lose_answer(emulated_cloudfront if service == "cloudfront" else history, operation)
    # When Promote is retried, Then it succeeds: the primary carries the staging config once
    twice(promote.lambda_handler, promote_event(site["Id"], enabled))
    primary = emulated_cloudfront.get_distribution_config(Id=site["Id"])["DistributionConfig"]
    assert primary["Origins"]["Items"][0]["OriginPath"] == "/2.0.0"
    # And the release history holds one record of it, promoted, with the config from before
    [record] = read_history(history, deployment_table, site["Id"]).records
    assert (record.release, record.promotedAt is not None) == ("2.0.0", True)
    assert record.configBefore["Origins"]["Items"][0]["OriginPath"] == "/1.0.0"


def test_invalidation_retried_after_a_lost_answer_is_the_same_invalidation(
    emulated_cloudfront: Any, site: dict[str, Any]
) -> None:
    lose_answer(emulated_cloudfront, "CreateInvalidation")
    event = {
        "executionArn": EXECUTION_ARN,
        "action": "create",
        "primaryDistributionId": site["Id"],
        "paths": ["/*"],
        "pollSeconds": 1,
        "timeoutSeconds": 60,
        "deadline": 2**31,
    }
    result = twice(invalidate_cache.lambda_handler, event)
    listed = emulated_cloudfront.list_invalidations(DistributionId=site["Id"])["InvalidationList"]
    assert [item["Id"] for item in listed["Items"]] == [result["invalidationId"]]
