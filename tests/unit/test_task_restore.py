"""Restore mode through the tasks: Promote records each promotion, ValidateInput resolves what a
restore puts back (or refuses it), RestoreStaging stages it; on the emulated CloudFront."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from cfcd_common.cloudfront import restored_staging_config
from cfcd_common.errors import InvalidInput
from cfcd_common.models import Probe
from cfcd_common.release_history import PromotionRecord, mark_promoted, read_history, record_before_promotion
from functions.deploy_staging import app as deploy_staging
from functions.enable_policy import app as enable_policy
from functions.promote import app as promote
from functions.validate_input import app as validate_input
from tests.unit.conftest import FakeLambdaContext, use_client
from tests.unit.lost_answers import create_primary

pytestmark = pytest.mark.unit

HEADER = {"type": "SingleHeader", "header": "aws-cf-cd-env", "value": "staging"}
EXECUTION_PREFIX = "arn:aws:states:us-east-1:123456789012:execution:cfcd-deployment:"


def arn(name: str) -> str:
    return EXECUTION_PREFIX + name


def probe_of(version: int) -> dict[str, Any]:
    return {
        "path": "/index.html",
        "expect": {"status": 200, "bodyContains": f"v{version} App"},
        "samples": 20,
    }


@pytest.fixture
def site(emulated_cloudfront: Any, deployment_table: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    use_client(monkeypatch, "cloudfront", emulated_cloudfront)
    use_client(monkeypatch, "s3", boto3.client("s3", region_name="us-east-1"))
    use_client(monkeypatch, "dynamodb", boto3.client("dynamodb", region_name="us-east-1"))
    return create_primary(emulated_cloudfront)


def validated(primary_id: str, name: str, **input_fields: Any) -> dict[str, Any]:
    raw = {"primaryDistributionId": primary_id, "staging": {"mode": "restore"}, **input_fields}
    event = {"executionArn": arn(name), "executionName": name, "input": raw}
    return validate_input.lambda_handler(event, FakeLambdaContext())


def release(state: dict[str, Any], name: str) -> None:
    """The tasks of a release from staging to promotion, as the state machine passes them."""
    staged = {"executionArn": arn(name), "primaryDistributionId": state["primaryDistributionId"]}
    if state["staging"]["mode"] == "restore":
        staged["restoring"] = state["restoring"]
    else:
        staged["overrides"] = state["staging"]["overrides"]
    staging = deploy_staging.lambda_handler(staged, FakeLambdaContext())
    enabled = enable_policy.lambda_handler(
        {
            "executionArn": arn(name),
            "primaryDistributionId": state["primaryDistributionId"],
            "stagingDistributionId": staging["stagingDistributionId"],
            "policyId": staging["policyId"],
            "traffic": state.get("traffic"),
            "deployTimeoutSeconds": 60,
        },
        FakeLambdaContext(),
    )
    promote.lambda_handler(
        {
            "executionArn": arn(name),
            "executionName": name,
            "primaryDistributionId": state["primaryDistributionId"],
            "stagingDistributionId": enabled["stagingDistributionId"],
            "deployTimeoutSeconds": 60,
            "expectedPrimaryETag": enabled["primaryETag"],
            "expectedStagingETag": enabled["stagingETag"],
            "release": state["release"],
            "probe": state["probe"],
        },
        FakeLambdaContext(),
    )


def release_version(primary_id: str, version: int, name: str) -> None:
    state = {
        "primaryDistributionId": primary_id,
        "staging": {"mode": "copy", "overrides": {"originPath": f"/{version}.0.0"}},
        "traffic": HEADER,
        "release": f"{version}.0.0",
        "probe": probe_of(version),
    }
    release(state, name)


def origin_path(cloudfront: Any, distribution_id: str) -> str:
    config = cloudfront.get_distribution_config(Id=distribution_id)["DistributionConfig"]
    return str(config["Origins"]["Items"][0]["OriginPath"])


def test_a_restore_after_two_promotions_brings_back_the_first_with_its_own_probe(
    emulated_cloudfront: Any, deployment_table: str, site: dict[str, Any]
) -> None:
    # Given v2, then v3 promoted
    primary = site["Id"]
    release_version(primary, 2, "release-v2")
    release_version(primary, 3, "release-v3")
    # When a restore names nothing
    state = validated(primary, "rollback-1", approval={"mode": "auto"})
    # Then ValidateInput resolved v2, with v2's probe and a label saying so; traffic stays the policy's
    assert state["staging"] == {"mode": "restore", "release": "release-v2"}
    assert state["probe"] == probe_of(2)
    assert state["release"] == "rollback to 2.0.0"
    assert state["restoring"] == {"release": "release-v2", "label": "2.0.0", "configRecordedBy": "release-v3"}
    assert (state["traffic"], state["approval"]["mode"]) == (None, "auto")
    # And staging, then the primary after the release's promotion, serve v2 again
    release(state, "rollback-1")
    assert origin_path(emulated_cloudfront, primary) == "/2.0.0"
    # And the rollback is a promotion of its own in the history, its probe v2's
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    promoted = read_history(dynamodb, deployment_table, primary).promoted()
    assert [(r.executionName, r.probe.expect.bodyContains) for r in promoted] == [
        ("release-v2", "v2 App"),
        ("release-v3", "v3 App"),
        ("rollback-1", "v2 App"),
    ]
    # And restoring the release live now is refused: nothing to restore
    with pytest.raises(InvalidInput, match="staging.release: .* already serves 2.0.0: nothing to restore"):
        validated(primary, "rollback-2", staging={"mode": "restore", "release": "release-v2"})


def test_restore_stages_only_the_fields_continuous_deployment_may_change(
    emulated_cloudfront: Any, deployment_table: str, site: dict[str, Any]
) -> None:
    # Given a promotion of v2 after which the history holds v1's config
    primary = site["Id"]
    release_version(primary, 2, "release-v2")
    # When restoring it needs a probe (cfcd never released v1), given here
    state = validated(primary, "rollback-1", probe=probe_of(1))
    assert (state["restoring"]["release"], state["release"]) == (
        None,
        "rollback to the configuration before 2.0.0",
    )
    staging = deploy_staging.lambda_handler(
        {
            "executionArn": arn("rollback-1"),
            "primaryDistributionId": primary,
            "restoring": state["restoring"],
        },
        FakeLambdaContext(),
    )
    # Then staging serves v1, and is otherwise the primary as a staging distribution
    staged = emulated_cloudfront.get_distribution_config(Id=staging["stagingDistributionId"])[
        "DistributionConfig"
    ]
    live = emulated_cloudfront.get_distribution_config(Id=primary)["DistributionConfig"]
    assert staged["Origins"]["Items"][0]["OriginPath"] == "/1.0.0"
    identity = {"Origins", "ContinuousDeploymentPolicyId", "CallerReference", "Aliases", "Staging"}
    assert (staged["Staging"], staged["Aliases"]) == (True, {"Quantity": 0})
    assert {k: v for k, v in staged.items() if k not in identity} == {
        k: v for k, v in live.items() if k not in identity
    }


def test_restoring_the_first_recorded_promotion_without_a_probe_is_invalid_input(
    deployment_table: str, site: dict[str, Any]
) -> None:
    release_version(site["Id"], 2, "release-v2")
    with pytest.raises(InvalidInput, match="probe: required to restore the configuration before 2.0.0"):
        validated(site["Id"], "rollback-1")


def test_an_unknown_release_or_an_empty_history_is_invalid_input(
    deployment_table: str, site: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput, match="staging.release: no promotion of .* is recorded"):
        validated(site["Id"], "rollback-1")
    release_version(site["Id"], 2, "release-v2")
    release_version(site["Id"], 3, "release-v3")
    with pytest.raises(InvalidInput, match="staging.release: no promoted release '1.0.0'"):
        validated(site["Id"], "rollback-1", staging={"mode": "restore", "release": "1.0.0"})


def recorded(primary_id: str, table: str, name: str, config: dict[str, Any], version: int, at: int) -> None:
    """A promotion as Promote records it, written directly."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    record = PromotionRecord(
        executionName=name,
        executionArn=arn(name),
        release=f"{version}.0.0",
        recordedAt=at,
        probe=Probe.model_validate(probe_of(version)),
        configBefore=config,
    )
    record_before_promotion(dynamodb, table, primary_id, record)
    mark_promoted(dynamodb, table, primary_id, name, at + 1)


def test_a_config_differing_where_cloudfront_forbids_changes_is_refused_before_anything_runs(
    emulated_cloudfront: Any, deployment_table: str, site: dict[str, Any]
) -> None:
    # Given the history says the primary had another price class and certificate before v3
    primary = site["Id"]
    live = emulated_cloudfront.get_distribution_config(Id=primary)["DistributionConfig"]
    earlier = {
        **live,
        "PriceClass": "PriceClass_All" if live.get("PriceClass") != "PriceClass_All" else "PriceClass_100",
        "ViewerCertificate": {"CloudFrontDefaultCertificate": False, "ACMCertificateArn": "arn:old"},
        "Comment": "v2",
    }
    recorded(primary, deployment_table, "release-v2", live, 2, 100)
    recorded(primary, deployment_table, "release-v3", earlier, 3, 200)
    # When v2 is to be restored, Then ValidateInput names the fields CloudFront would refuse
    with pytest.raises(InvalidInput) as raised:
        validated(primary, "rollback-1", traffic=HEADER)
    assert str(raised.value).startswith("staging.release: the configuration of 2.0.0 differs from")
    assert "in PriceClass, ViewerCertificate, which CloudFront does not let change" in str(raised.value)


def test_a_restore_without_traffic_needs_a_policy_to_keep(
    emulated_cloudfront: Any, deployment_table: str, site: dict[str, Any]
) -> None:
    # Given a history (written by hand) for a primary that has no policy attached
    primary = site["Id"]
    live = emulated_cloudfront.get_distribution_config(Id=primary)["DistributionConfig"]
    recorded(primary, deployment_table, "release-v2", {**live, "Comment": "v1"}, 2, 100)
    with pytest.raises(InvalidInput, match="traffic: required: .* has no continuous deployment policy"):
        validated(primary, "rollback-1", probe=probe_of(1))
    assert validated(primary, "rollback-1", probe=probe_of(1), traffic=HEADER)["traffic"] == HEADER


def test_a_field_the_restored_config_lacks_is_dropped_and_locked_fields_stay_the_primarys() -> None:
    # Given a primary with a default root object added since, and a recorded config without it
    # and with another price class (a field CloudFront locks while a policy is attached)
    origins = {"Quantity": 1, "Items": [{"Id": "site", "OriginPath": "/3.0.0"}]}
    primary = {
        "CallerReference": "primary",
        "Aliases": {"Quantity": 1, "Items": ["www.example.com"]},
        "ContinuousDeploymentPolicyId": "policy-1",
        "Staging": False,
        "Comment": "v3",
        "DefaultRootObject": "index.html",
        "PriceClass": "PriceClass_100",
        "Origins": origins,
    }
    restored = {**primary, "Comment": "v2", "PriceClass": "PriceClass_All"}
    del restored["DefaultRootObject"]
    restored["Origins"] = {"Quantity": 1, "Items": [{"Id": "site", "OriginPath": "/2.0.0"}]}
    # When staging is given the restored config
    staged = restored_staging_config(primary, {"CallerReference": "staging"}, restored)
    # Then the updatable fields are the recorded ones, the rest the primary's, as staging holds it
    assert staged == {
        "CallerReference": "staging",
        "Aliases": {"Quantity": 0},
        "Staging": True,
        "Comment": "v2",
        "PriceClass": "PriceClass_100",
        "Origins": restored["Origins"],
    }
