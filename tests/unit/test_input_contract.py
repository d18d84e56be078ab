"""The input contract (cfcd_common.models): every rule of docs/design.md §2 and §3, named in the error."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from cfcd_common.errors import InvalidInput
from cfcd_common.models import (
    DeploymentInput,
    RestoreStaging,
    WeightTraffic,
    input_json_schema,
    parse_deployment_input,
)
from tests.unit.conftest import EVENTS, load_event

pytestmark = pytest.mark.unit

EXAMPLES = sorted(path.name for path in EVENTS.glob("input_*.json"))
Mutation = Callable[[dict[str, Any]], None]


def test_the_readme_examples_exist() -> None:
    assert EXAMPLES == [
        "input_copy_header.json",
        "input_copy_steps.json",
        "input_copy_weight.json",
        "input_stack_header.json",
        "input_stack_weight.json",
    ]


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_is_valid_and_survives_a_round_trip(name: str) -> None:
    # Given an example input
    raw = load_event(name)
    # When it is validated and dumped (what ValidateInput hands the next states)
    parsed = parse_deployment_input(raw)
    dumped = parsed.model_dump(mode="json")
    # Then every given value is kept and the dump validates again unchanged
    assert dumped["primaryDistributionId"] == raw["primaryDistributionId"]
    assert dumped["staging"]["mode"] == raw["staging"]["mode"]
    assert parse_deployment_input(json.loads(json.dumps(dumped))) == parsed


def test_defaults_are_filled() -> None:
    raw = load_event("input_stack_header.json")
    parsed = parse_deployment_input(raw)
    assert parsed.promotion.invalidatePaths == ["/*"]
    assert (
        parsed.timing.pollSeconds,
        parsed.timing.deployTimeoutSeconds,
        parsed.timing.probeTimeoutSeconds,
    ) == (
        30,
        1800,
        900,
    )
    assert parsed.approval.timeoutSeconds == 3600  # given
    assert parsed.traffic is None  # the stack brings its policy
    assert parsed.probe is not None and parsed.probe.samples == 20
    assert parsed.approval.mode == "manual"


def test_a_restore_needs_only_the_distribution_and_is_manual_unless_asked() -> None:
    # Given the smallest restore-mode input (what `cfcd rollback` and a pipeline may send)
    raw = {"primaryDistributionId": "E2QWRUHAPOMQZL", "staging": {"mode": "restore"}}
    # When it is validated
    parsed = parse_deployment_input(raw)
    # Then the release, probe and traffic are left to the release history and the attached policy
    assert isinstance(parsed.staging, RestoreStaging) and parsed.staging.release is None
    assert (parsed.probe, parsed.traffic, parsed.approval.mode) == (None, None, "manual")
    automatic = parse_deployment_input(
        {**raw, "approval": {"mode": "auto"}, "staging": {"mode": "restore", "release": "2.0.0"}}
    )
    assert isinstance(automatic.staging, RestoreStaging)
    assert (automatic.approval.mode, automatic.staging.release) == ("auto", "2.0.0")


def test_a_progressive_release_is_analysed_with_defaults_unless_it_says_otherwise() -> None:
    raw = load_event("input_copy_steps.json")
    given = parse_deployment_input(raw)
    del raw["analysis"]
    defaulted = parse_deployment_input(raw)
    assert given.analysis is not None and given.analysis.alarmNames == ["checkout-latency"]
    assert defaulted.analysis is not None
    assert defaulted.analysis.model_dump() == {
        "intervalSeconds": 60,
        "maxErrorRate": 0.01,
        "minRequests": 100,
        "alarmNames": [],
    }
    assert isinstance(given.traffic, WeightTraffic) and given.traffic.first_weight == 0.01
    # A release without steps carries no analysis
    assert parse_deployment_input(load_event("input_copy_weight.json")).analysis is None


def test_release_label_defaults_to_the_origin_path_or_stack_name() -> None:
    copy_mode = parse_deployment_input(load_event("input_copy_header.json"))
    stack_mode = parse_deployment_input(load_event("input_stack_header.json"))
    labelled = parse_deployment_input(load_event("input_copy_weight.json"))
    assert copy_mode.with_release_label("exec-1").release == "2.0.0"
    assert stack_mode.with_release_label("exec-1").release == "my-site-staging"
    assert labelled.with_release_label("exec-1").release == "2.0.0"


def setter(path: str, value: Any) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = raw
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value

    return mutate


def remover(path: str) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target = raw
        for part in parents:
            target = target[part]
        del target[leaf]

    return mutate


WEIGHT = {"type": "SingleWeight", "weight": 0.1, "stickiness": {"idleTtl": 300, "maximumTtl": 600}}

# (example, mutation, expected message fragment): the fragment names the field and the rule.
INVALID: list[tuple[str, str, Mutation, str]] = [
    (
        "header prefix",
        "copy_header",
        setter("traffic.header", "x-env"),
        'traffic.header: must start with "aws-cf-cd-"',
    ),
    (
        "header empty",
        "copy_header",
        setter("traffic.header", ""),
        "traffic.header: String should have at least 1",
    ),
    (
        "header long",
        "copy_header",
        setter("traffic.header", "aws-cf-cd-" + "a" * 247),
        "traffic.header: String should have at most 256",
    ),
    (
        "header chars",
        "copy_header",
        setter("traffic.header", "aws-cf-cd-a b"),
        "traffic.header: may hold only",
    ),
    (
        "value empty",
        "copy_header",
        setter("traffic.value", ""),
        "traffic.value: String should have at least 1",
    ),
    (
        "value long",
        "copy_header",
        setter("traffic.value", "v" * 1784),
        "traffic.value: String should have at most 1783",
    ),
    (
        "weight high",
        "copy_weight",
        setter("traffic.weight", 0.5),
        "traffic.weight: Input should be less than or equal to 0.15",
    ),
    (
        # A weight of 0 sends no viewer to staging: the weight probe could never pass.
        "weight zero",
        "copy_weight",
        setter("traffic.weight", 0.0),
        "traffic.weight: Input should be greater than 0",
    ),
    (
        "weight negative",
        "copy_weight",
        setter("traffic.weight", -0.01),
        "traffic.weight: Input should be greater than 0",
    ),
    (
        "weight string",
        "copy_weight",
        setter("traffic.weight", "0.1"),
        "traffic.weight: Input should be a valid number",
    ),
    (
        "idle ttl missing",
        "copy_weight",
        remover("traffic.stickiness.idleTtl"),
        "traffic.stickiness.idleTtl: Field required",
    ),
    (
        "max ttl missing",
        "copy_weight",
        remover("traffic.stickiness.maximumTtl"),
        "traffic.stickiness.maximumTtl: Field required",
    ),
    (
        "idle ttl low",
        "copy_weight",
        setter("traffic.stickiness.idleTtl", 299),
        "traffic.stickiness.idleTtl: Input should be greater than or equal to 300",
    ),
    (
        "max ttl high",
        "copy_weight",
        setter("traffic.stickiness.maximumTtl", 3601),
        "traffic.stickiness.maximumTtl: Input should be less than or equal to 3600",
    ),
    (
        "idle above max",
        "copy_weight",
        setter("traffic.stickiness.idleTtl", 900),
        "traffic.stickiness: idleTtl must not exceed maximumTtl",
    ),
    ("traffic type", "copy_header", setter("traffic.type", "Canary"), "traffic.type: must be one of"),
    ("traffic missing in copy", "copy_header", remover("traffic"), "traffic: required in copy mode"),
    (
        "distribution id missing",
        "copy_header",
        remover("primaryDistributionId"),
        "primaryDistributionId: Field required",
    ),
    (
        "distribution id empty",
        "copy_header",
        setter("primaryDistributionId", ""),
        "primaryDistributionId: must be a CloudFront distribution id",
    ),
    ("mode unknown", "copy_header", setter("staging.mode", "blue-green"), "staging.mode: must be one of"),
    ("mode missing", "copy_header", remover("staging.mode"), "staging.mode: Field required"),
    (
        "origin path",
        "copy_header",
        setter("staging.overrides.originPath", "2.0.0"),
        "staging.overrides.originPath: must be empty or start with",
    ),
    (
        "alias override",
        "copy_header",
        setter("staging.overrides.distributionConfig", {"Aliases": {"Quantity": 0}}),
        "staging.overrides.distributionConfig: Aliases cannot be overridden",
    ),
    (
        # CloudFront answers IllegalUpdate while the policy is attached (from the second release on).
        "locked field override",
        "copy_header",
        setter("staging.overrides.distributionConfig", {"Comment": "ok", "HttpVersion": "http2and3"}),
        "staging.overrides.distributionConfig: HttpVersion cannot be overridden",
    ),
    ("stack name missing", "stack_header", remover("staging.stackName"), "staging.stackName: Field required"),
    (
        "stack name chars",
        "stack_header",
        setter("staging.stackName", "my_stack"),
        "staging.stackName: must start with a letter",
    ),
    (
        "no template",
        "stack_header",
        remover("staging.templateUrl"),
        "staging: exactly one of templateUrl and templateBody",
    ),
    (
        "two templates",
        "stack_header",
        setter("staging.templateBody", "{}"),
        "staging: exactly one of templateUrl and templateBody",
    ),
    (
        "template url scheme",
        "stack_header",
        setter("staging.templateUrl", "s3://b/t.yaml"),
        'staging.templateUrl: must be an "https://" URL',
    ),
    ("probe path", "copy_header", setter("probe.path", "index.html"), 'probe.path: must start with "/"'),
    (
        "probe marker",
        "copy_header",
        remover("probe.expect.bodyContains"),
        "probe.expect.bodyContains: Field required",
    ),
    (
        "probe status",
        "copy_header",
        setter("probe.expect.status", 700),
        "probe.expect.status: Input should be less than or equal to 599",
    ),
    (
        "poll zero",
        "copy_header",
        setter("timing.pollSeconds", 0),
        "timing.pollSeconds: Input should be greater than or equal to 1",
    ),
    (
        "deploy timeout float",
        "copy_header",
        setter("timing.deployTimeoutSeconds", 1.5),
        "timing.deployTimeoutSeconds: Input should be a valid integer",
    ),
    (
        "probe timeout negative",
        "copy_header",
        setter("timing.probeTimeoutSeconds", -5),
        "timing.probeTimeoutSeconds: Input should be greater than or equal to 1",
    ),
    (
        "approval zero",
        "copy_header",
        setter("approval.timeoutSeconds", 0),
        "approval.timeoutSeconds: Input should be greater than or equal to 1",
    ),
    (
        "approval too long",
        "copy_header",
        setter("approval.timeoutSeconds", 604_801),
        "approval.timeoutSeconds: Input should be less than or equal to 604800",
    ),
    (
        "invalidation path",
        "copy_header",
        setter("promotion.invalidatePaths", ["index.html"]),
        'promotion.invalidatePaths: every path must start with "/"',
    ),
    (
        "invalidation wildcard inside",
        "copy_header",
        setter("promotion.invalidatePaths", ["/images/*.jpg"]),
        "promotion.invalidatePaths: '*' may only be the last character of a path: /images/*.jpg",
    ),
    (
        "invalidation path long",
        "copy_header",
        setter("promotion.invalidatePaths", ["/" + "a" * 4000]),
        "promotion.invalidatePaths: a path may hold at most 4000 characters",
    ),
    (
        "invalidation empty",
        "copy_header",
        setter("promotion.invalidatePaths", []),
        "promotion.invalidatePaths: List should have at least 1",
    ),
    (
        "origin path parameter not a path",
        "copy_header",
        setter("promotion.originPathParameter", "site-origin-path"),
        "promotion.originPathParameter: must be an SSM parameter path",
    ),
    (
        "origin path parameter with a space",
        "copy_header",
        setter("promotion.originPathParameter", "/cfcd/my site"),
        "promotion.originPathParameter: must be an SSM parameter path",
    ),
    (
        "origin path parameter too deep",
        "copy_header",
        setter("promotion.originPathParameter", "/a" * 16),
        "promotion.originPathParameter: must be an SSM parameter path",
    ),
    (
        "origin path parameter reserved",
        "copy_header",
        setter("promotion.originPathParameter", "/aws/site"),
        'promotion.originPathParameter: must not start with "aws" or "ssm"',
    ),
    (
        "origin path parameter too long",
        "copy_header",
        setter("promotion.originPathParameter", "/cfcd/" + "a" * 950),
        "promotion.originPathParameter: may hold at most 950 characters",
    ),
    ("typo", "copy_header", setter("timming", {}), "timming: Extra inputs are not permitted"),
    (
        "approval mode",
        "copy_header",
        setter("approval.mode", "automatic"),
        "approval.mode: Input should be 'manual' or 'auto'",
    ),
    ("probe missing", "copy_header", remover("probe"), "probe: required in copy mode"),
    ("probe missing, stack", "stack_header", remover("probe"), "probe: required in stack mode"),
    (
        "staging mode",
        "copy_header",
        setter("staging", {"mode": "rollback"}),
        "staging.mode: must be one of 'copy', 'stack', 'restore'",
    ),
    (
        "restore with overrides",
        "copy_header",
        setter("staging", {"mode": "restore", "overrides": {"originPath": "/1.0.0"}}),
        "staging.overrides: Extra inputs are not permitted",
    ),
    (
        "restore release empty",
        "copy_header",
        setter("staging", {"mode": "restore", "release": ""}),
        "staging.release: String should have at least 1",
    ),
    (
        "weight and steps",
        "copy_steps",
        setter("traffic.weight", 0.1),
        "traffic: exactly one of weight and steps is required",
    ),
    (
        "neither weight nor steps",
        "copy_steps",
        remover("traffic.steps"),
        "traffic: exactly one of weight and steps is required",
    ),
    (
        "steps not growing",
        "copy_steps",
        setter("traffic.steps", [{"weight": 0.05, "bakeSeconds": 60}, {"weight": 0.05, "bakeSeconds": 60}]),
        "traffic.steps: weights must be strictly increasing, got [0.05, 0.05]",
    ),
    (
        "step weight high",
        "copy_steps",
        setter("traffic.steps", [{"weight": 0.2, "bakeSeconds": 60}]),
        "traffic.steps.0.weight: Input should be less than or equal to 0.15",
    ),
    (
        "step weight zero",
        "copy_steps",
        setter("traffic.steps", [{"weight": 0, "bakeSeconds": 60}]),
        "traffic.steps.0.weight: Input should be greater than 0",
    ),
    (
        "bake zero",
        "copy_steps",
        setter("traffic.steps", [{"weight": 0.1, "bakeSeconds": 0}]),
        "traffic.steps.0.bakeSeconds: Input should be greater than or equal to 1",
    ),
    ("no steps", "copy_steps", setter("traffic.steps", []), "traffic.steps: List should have at least 1"),
    (
        "too many steps",
        "copy_steps",
        setter("traffic.steps", [{"weight": w / 100, "bakeSeconds": 60} for w in range(1, 6)]),
        "traffic.steps: List should have at most 4",
    ),
    (
        # Step Functions' history quota: a step is analysed at most 33 times.
        "analysed too often",
        "copy_steps",
        setter("analysis.intervalSeconds", 20),
        "analysis.intervalSeconds: must be at least max(bakeSeconds, timing.probeTimeoutSeconds) / 30 = 30 s",
    ),
    (
        "analysis without steps",
        "copy_weight",
        setter("analysis", {"maxErrorRate": 0.02}),
        "analysis: only a release with traffic.steps is analysed",
    ),
    (
        "error rate as a percentage",
        "copy_steps",
        setter("analysis.maxErrorRate", 5),
        "analysis.maxErrorRate: Input should be less than or equal to 1",
    ),
    (
        "no requests needed",
        "copy_steps",
        setter("analysis.minRequests", 0),
        "analysis.minRequests: Input should be greater than or equal to 1",
    ),
    (
        "too many alarms",
        "copy_steps",
        setter("analysis.alarmNames", [f"alarm-{n}" for n in range(101)]),
        "analysis.alarmNames: List should have at most 100",
    ),
]


def test_an_ssm_parameter_path_is_a_valid_origin_path_parameter() -> None:
    raw = load_event("input_copy_header.json")
    raw["promotion"]["originPathParameter"] = "/cfcd/My-Site_2/origin.path"

    assert parse_deployment_input(raw).promotion.originPathParameter == "/cfcd/My-Site_2/origin.path"


@pytest.mark.parametrize(
    ("example", "mutate", "expected"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_input_names_the_field_and_the_rule(example: str, mutate: Mutation, expected: str) -> None:
    # Given a valid example broken in one place
    raw = copy.deepcopy(load_event(f"input_{example}.json"))
    parse_deployment_input(raw)
    mutate(raw)
    # When it is validated
    with pytest.raises(InvalidInput) as raised:
        parse_deployment_input(raw)
    # Then the message names the field and the rule
    assert expected in str(raised.value)


def test_all_broken_rules_are_reported_at_once() -> None:
    raw = load_event("input_copy_weight.json")
    raw["traffic"]["weight"] = 0.5
    raw["probe"]["path"] = "index.html"
    with pytest.raises(InvalidInput) as raised:
        parse_deployment_input(raw)
    assert "traffic.weight" in str(raised.value) and "probe.path" in str(raised.value)


def test_json_schema_is_exported_for_the_cli() -> None:
    schema = input_json_schema()
    # probe: required in copy and stack mode (a model rule); a restore takes the recorded one.
    assert set(schema["required"]) == {"primaryDistributionId", "staging"}
    assert DeploymentInput.model_json_schema() == schema
