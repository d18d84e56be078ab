"""Bad-input catalogue: every malformed release is refused as InvalidInput before AWS changes.

All the executions run at once (none may write, so they cannot disturb each other); each must
end FAILED with InvalidInput, the primary's ETag unchanged, and no Create*/Update*/Put*/Delete*/
Copy* call recorded by the local cloud while they ran (ValidateInput's reads are fine).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from cfcd.local.seed import SeededSite
from tests.conftest import LocalCloudHandle
from tests.fault_summary import SUMMARY, BadInputResult
from tests.faults.support import (
    Release,
    copy_input,
    mutating_calls,
    snapshot,
    stack_input,
)
from tests.sites import new_site

pytestmark = pytest.mark.faults

Document = dict[str, Any]
Build = Callable[[SeededSite, str], Any]  # (site, a staging distribution id) -> the input

TEMPLATE_WITHOUT_OUTPUTS = """\
Resources:
  StagingDistribution:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Staging: true
        Enabled: true
"""
TEMPLATE_WITHOUT_POLICY = (
    TEMPLATE_WITHOUT_OUTPUTS
    + """\
Outputs:
  StagingDistributionId:
    Value: !Ref StagingDistribution
"""
)


def changed(path: str, value: Any, base: Callable[[SeededSite], Document] = copy_input) -> Build:
    """A valid input with the value at the dotted ``path`` replaced (or removed when ``...``)."""

    def build(site: SeededSite, _staging_id: str) -> Document:
        document = copy.deepcopy(base(site))
        *parents, last = path.split(".")
        node = document
        for key in parents:
            node = node.setdefault(key, {})
        if value is ...:
            node.pop(last, None)
        else:
            node[last] = value
        return document

    return build


def stack(template: str) -> Callable[[SeededSite], Document]:
    return lambda site: stack_input(site, template)


WEIGHT = {"type": "SingleWeight", "weight": 0.1, "stickiness": {"idleTtl": 300, "maximumTtl": 600}}

CATALOGUE: dict[str, Build] = {
    "input is a list": lambda site, _: [site.primary_distribution_id],
    "input is a string": lambda site, _: "release 2.0.0 please",
    "input is empty": lambda site, _: {},
    "primaryDistributionId is a number": changed("primaryDistributionId", 12345),
    "primaryDistributionId in lower case": changed("primaryDistributionId", "e2qwruhapomqzl"),
    "unknown distribution": changed("primaryDistributionId", "E0000000000NONE"),
    "a staging distribution as primary": lambda site, staging: changed("primaryDistributionId", staging)(
        site, staging
    ),
    "unknown staging mode": changed("staging.mode", "blue-green"),
    "stack template without StagingDistributionId output": changed(
        "staging.templateBody", TEMPLATE_WITHOUT_OUTPUTS, stack(TEMPLATE_WITHOUT_POLICY)
    ),
    "stack template without a policy and no traffic": changed(
        "staging.templateBody", TEMPLATE_WITHOUT_POLICY, stack(TEMPLATE_WITHOUT_POLICY)
    ),
    "stack templateUrl not https": changed("staging.templateUrl", "http://example.com/t.yaml", stack("x")),
    "stack with templateUrl and templateBody": changed(
        "staging.templateUrl", "https://example.com/t.yaml", stack(TEMPLATE_WITHOUT_POLICY)
    ),
    "stack name with an underscore": changed(
        "staging.stackName", "1_bad_name", stack(TEMPLATE_WITHOUT_POLICY)
    ),
    "origin path ending with /": changed("staging.overrides.originPath", "/2.0.0/"),
    "override of Aliases": changed("staging.overrides.distributionConfig", {"Aliases": {"Quantity": 0}}),
    "override of a field CloudFront locks (HttpVersion)": changed(
        "staging.overrides.distributionConfig", {"HttpVersion": "http1.1"}
    ),
    "override of an unknown origin": changed("staging.overrides.originId", "no-such-origin"),
    "probe path without /": changed("probe.path", "index.html"),
    "probe missing": changed("probe", ...),
    "empty bodyContains": changed("probe.expect.bodyContains", ""),
    "probe status 700": changed("probe.expect.status", 700),
    "header without the aws-cf-cd- prefix": changed("traffic.header", "x-env"),
    "empty header value": changed("traffic.value", ""),
    "unknown traffic type": changed("traffic", {"type": "SingleCookie", "cookie": "x"}),
    "copy mode without traffic": changed("traffic", ...),
    "weight 0.5": changed("traffic", {**WEIGHT, "weight": 0.5}),
    "negative weight": changed("traffic", {**WEIGHT, "weight": -0.1}),
    "weight 0 (the weight probe could never see staging)": changed("traffic", {**WEIGHT, "weight": 0.0}),
    "stickiness TTL 200": changed("traffic", {**WEIGHT, "stickiness": {"idleTtl": 200, "maximumTtl": 600}}),
    "stickiness without maximumTtl": changed("traffic", {**WEIGHT, "stickiness": {"idleTtl": 300}}),
    "idleTtl above maximumTtl": changed(
        "traffic", {**WEIGHT, "stickiness": {"idleTtl": 900, "maximumTtl": 600}}
    ),
    "approval timeout as a string": changed("approval.timeoutSeconds", "3600"),
    "approval timeout of two weeks": changed("approval.timeoutSeconds", 1_209_600),
    "invalidation path without /": changed("promotion.invalidatePaths", ["index.html"]),
    "invalidation wildcard inside a path": changed("promotion.invalidatePaths", ["/assets/*.css"]),
    "negative pollSeconds": changed("timing.pollSeconds", -1),
    "extra unknown field": changed("colour", "blue"),
}


@dataclass
class Refusal:
    description: dict[str, Any]
    writes: list[str]
    primary_etag_before: str
    primary_etag_after: str


@pytest.fixture(scope="module")
def refusals(local_cloud: LocalCloudHandle) -> Iterator[dict[str, Refusal]]:
    # Given one site and a staging copy of it (both made before the window of the check)
    local_cloud.faults.reset()
    site = new_site(local_cloud)
    cloudfront = local_cloud.client("cloudfront")
    staging_id = cloudfront.copy_distribution(
        PrimaryDistributionId=site.primary_distribution_id,
        Staging=True,
        IfMatch=snapshot(local_cloud, site.primary_distribution_id).etag,
        CallerReference=f"bad-inputs-{site.bucket_name}",
    )["Distribution"]["Id"]
    before = snapshot(local_cloud, site.primary_distribution_id).etag
    # When every bad input is started at once and all have ended
    started = time.time()
    with ThreadPoolExecutor(max_workers=8) as pool:
        releases = dict(
            zip(
                CATALOGUE,
                pool.map(
                    lambda build: Release(local_cloud, build(site, staging_id), "bad"), CATALOGUE.values()
                ),  # noqa: E501
                strict=True,
            )
        )
        descriptions = dict(zip(releases, pool.map(Release.finished, releases.values()), strict=True))
    ended = time.time()
    writes = mutating_calls(local_cloud, started, ended)
    # The record does see this window: ValidateInput's reads of the primary are in it.
    assert any(
        call.operation == "GetDistribution" and started <= call.time <= ended
        for call in local_cloud.faults.calls()
    )
    after = snapshot(local_cloud, site.primary_distribution_id).etag
    yield {case: Refusal(descriptions[case], writes, before, after) for case in CATALOGUE}


@pytest.mark.parametrize("case", list(CATALOGUE))
def test_a_bad_input_is_refused_before_anything_changes(case: str, refusals: dict[str, Refusal]) -> None:
    refusal = refusals[case]
    description = refusal.description
    rejected = description["status"] == "FAILED" and description.get("error") == "InvalidInput"
    # Writes are seen for the whole batch: they count once, on the first case.
    writes = refusal.writes if case == next(iter(CATALOGUE)) else []
    SUMMARY.bad_inputs.append(BadInputResult(case, description.get("error"), rejected, writes))
    # Then it failed as InvalidInput, naming the field
    assert rejected, f"{description['status']} {description.get('error')}: {description.get('cause')}"
    # And nothing in AWS changed while the catalogue ran
    assert refusal.writes == []
    assert refusal.primary_etag_after == refusal.primary_etag_before
