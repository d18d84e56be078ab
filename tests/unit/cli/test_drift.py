"""`cfcd drift DISTRIBUTION`: the live distribution against what its stack's next update would set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import click
import pytest
from click.testing import CliRunner, Result

from cfcd.cli import CfcdGroup, drift_cmd
from cfcd.cli.local_extra import LOCAL_EXTRA_MODULES
from cfcd.client.cloudfront_cfn import UnsupportedProperty, distribution_config_from_cfn, skipping_unsupported
from cfcd.local import cloudfront as cloudfront_emulator
from cfcd.local import moto_patches
from tests.unit.cli.conftest import FakeAws
from tests.unit.cli.test_startup import run_cfcd
from tests.unit.local.test_cloudfront_policies import distribution_config

pytestmark = pytest.mark.unit

PRIMARY_TEMPLATE = Path(__file__).resolve().parents[3] / "examples" / "primary.yaml"
PARAMETER = "/cfcd/site/origin-path"


@pytest.fixture
def drift_cli() -> click.Group:
    group = CfcdGroup("cfcd")
    drift_cmd.register(group)
    return group


@pytest.fixture
def site(fake_aws: FakeAws) -> Iterator[str]:
    """examples/primary.yaml deployed as stack "site" serving /1.0.0; its distribution id."""
    moto_patches.install()
    cloudfront_emulator.set_propagation_seconds(0)
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value="/1.0.0", Type="String")
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName="site",
        TemplateBody=PRIMARY_TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "OriginPath", "ParameterValue": PARAMETER}],
    )
    outputs = cloudformation.describe_stacks(StackName="site")["Stacks"][0]["Outputs"]
    yield next(str(output["OutputValue"]) for output in outputs if output["OutputKey"] == "DistributionId")


def drift(cli: click.Group, *args: str) -> Result:
    return CliRunner().invoke(cli, ["drift", *args])


def change_live(distribution_id: str, **fields: Any) -> None:
    """What a promotion does to the primary: a new origin path (and whatever else staging had)."""
    cloudfront = boto3.client("cloudfront")
    current = cloudfront.get_distribution_config(Id=distribution_id)
    config = current["DistributionConfig"]
    if "origin_path" in fields:
        config["Origins"]["Items"][0]["OriginPath"] = fields["origin_path"]
    if "comment" in fields:
        config["Comment"] = fields["comment"]
    cloudfront.update_distribution(Id=distribution_id, IfMatch=current["ETag"], DistributionConfig=config)


def test_a_distribution_as_its_stack_made_it_has_no_drift(drift_cli: click.Group, site: str) -> None:
    result = drift(drift_cli, site)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{site} is what stack site (PrimaryDistribution) would set (")


def test_a_promoted_origin_path_the_stack_would_put_back_is_drift(drift_cli: click.Group, site: str) -> None:
    # Given a primary promoted to /2.0.0 through the API, its stack still reading /1.0.0
    change_live(site, origin_path="/2.0.0")

    # When drift is checked
    result = drift(drift_cli, site)

    # Then it exits 1 and names the field, what the stack would set and what is live
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"{site} differs from what stack site (PrimaryDistribution) would set:",
        '  DistributionConfig.Origins.Items[site-bucket].OriginPath: stack "/1.0.0", live "/2.0.0"',
    ]


def test_the_ssm_value_the_next_update_reads_counts_not_the_one_the_last_update_read(
    drift_cli: click.Group, site: str
) -> None:
    # Given the promotion recorded in the SSM parameter, the stack not updated since
    change_live(site, origin_path="/2.0.0")
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value="/2.0.0", Type="String", Overwrite=True)

    # When drift is checked, Then the next update would keep /2.0.0: no drift
    result = drift(drift_cli, site)
    assert result.exit_code == 0, result.output


def test_the_json_report_lists_every_difference(drift_cli: click.Group, site: str) -> None:
    change_live(site, origin_path="/2.0.0", comment="changed by hand")

    result = drift(drift_cli, site, "--json")

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["drifted"] is True
    assert (report["stack_name"], report["logical_resource_id"]) == ("site", "PrimaryDistribution")
    assert {(d["path"], d["stack"], d["live"]) for d in report["differences"]} == {
        ("DistributionConfig.Comment", "cfcd seed site (primary)", "changed by hand"),
        ("DistributionConfig.Origins.Items[site-bucket].OriginPath", "/1.0.0", "/2.0.0"),
    }


def test_what_cannot_be_evaluated_is_listed_and_not_compared(drift_cli: click.Group, site: str) -> None:
    # Given a template whose comment comes from an attribute drift does not know
    template = PRIMARY_TEMPLATE.read_text().replace(
        "Comment: !Ref Comment", "Comment: !GetAtt SiteBucket.WebsiteURL"
    )
    boto3.client("cloudformation").update_stack(
        StackName="site",
        TemplateBody=template,
        Parameters=[{"ParameterKey": "OriginPath", "ParameterValue": PARAMETER}],
    )

    result = drift(drift_cli, site)

    assert result.exit_code == 0, result.output
    assert (
        "  not compared: DistributionConfig.Comment (Fn::GetAtt SiteBucket.WebsiteURL)"
        in result.stdout.splitlines()
    )


def test_a_distribution_no_stack_made_is_an_error(drift_cli: click.Group, fake_aws: FakeAws) -> None:
    moto_patches.install()
    cloudfront: Any = boto3.client("cloudfront")
    created = cloudfront.create_distribution(DistributionConfig=distribution_config("no-stack"))
    distribution_id = created["Distribution"]["Id"]

    result = drift(drift_cli, distribution_id)

    assert result.exit_code == 2
    assert f"{distribution_id} belongs to no CloudFormation stack of this region" in result.output


def test_properties_the_mapping_lacks_are_refused_for_the_emulator_and_named_for_drift() -> None:
    cfn = {
        "Enabled": True,
        "OriginGroups": {"Quantity": 0},
        "Origins": [{"Id": "site", "DomainName": "site.s3.amazonaws.com", "VpcOriginConfig": {}}],
    }

    with pytest.raises(
        UnsupportedProperty, match="DistributionConfig: unsupported by cfcd's CloudFront mapping"
    ):
        distribution_config_from_cfn(cfn, "ref")
    with skipping_unsupported() as skipped:
        converted = distribution_config_from_cfn(cfn, "ref")

    assert skipped == ["DistributionConfig.OriginGroups", "Origin.VpcOriginConfig"]
    assert converted["Origins"]["Items"] == [{"Id": "site", "DomainName": "site.s3.amazonaws.com"}]


def test_drift_reaches_aws_without_the_local_cloud(tmp_path: Path) -> None:
    # Given an interpreter without the local extra's packages, and an AWS endpoint that refuses
    codes, result = run_cfcd([["drift", "E2QWRUHAPOMQZL"]], tuple(sorted(LOCAL_EXTRA_MODULES)), tmp_path)

    # Then it got as far as its first AWS call and reports that call's failure (exit 2)
    assert codes == [2], result.stderr
    assert "127.0.0.1:9" in result.stderr
    assert "No module named" not in result.stderr
