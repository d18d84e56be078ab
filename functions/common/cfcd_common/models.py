"""The execution input contract (docs/design.md §2) and the shapes tasks hand each other.

ValidateInput and the CLI both call `parse_deployment_input`, so a bad release is refused with the
same message before StartExecution and inside the workflow. Rules come from CloudFront's
continuous deployment limits (docs/design.md §3); the CloudFormation schema is looser (weight up
to 1), so this is the only place that catches e.g. a 0.5 weight before CloudFront does.
"""

from __future__ import annotations

import itertools
import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cfcd_common.errors import InvalidInput

HEADER_PREFIX = "aws-cf-cd-"
MAX_WEIGHT = 0.15
# The only DistributionConfig fields CloudFront lets primary and staging change while a continuous
# deployment policy is attached (cfcd keeps it attached from the first release on); any other
# change is refused with IllegalUpdate. So these are the only fields `overrides` may set, and the
# only ones a staging stack's distribution may hold differently from the primary.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/understanding-continuous-deployment.html#updating-staging-and-primary-distributions
# ("all cache behavior settings", "origins and origin groups", "custom error responses",
# "geographic restrictions", "default root object", "logging", "description (comment)").
UPDATABLE_WHILE_POLICY_ATTACHED = frozenset(
    {
        "DefaultCacheBehavior",
        "CacheBehaviors",
        "Origins",
        "OriginGroups",
        "CustomErrorResponses",
        "Restrictions",  # holds only GeoRestriction
        "DefaultRootObject",
        "Logging",
        "Comment",
    }
)
# Invalidation paths (API): start with "/", "*" only as the last character, at most 4,000 characters.
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/invalidation-specifying-objects.html
MAX_INVALIDATION_PATH_LENGTH = 4000
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]+$")
_DISTRIBUTION_ID = re.compile(r"^[A-Z0-9]{1,64}$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
# SSM parameter names (PutParameter, "Naming Constraints"): letters, digits, "_.-", "/" between
# levels, at most 15 levels, not starting with "aws" or "ssm"; at most 1011 characters counting
# the ARN before the name (45-60 of them by partition and region), hence 950 here.
# https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
# cfcd takes hierarchical names only: IAM scopes its write to the stack's path prefix.
_SSM_PARAMETER_NAME = re.compile(r"^(/[A-Za-z0-9_.-]+){1,15}$")
SSM_PARAMETER_NAME_MAX_LENGTH = 950


class ContractModel(BaseModel):
    """Strict: a typo'd or mistyped field is an error, never silently ignored or coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class HeaderTraffic(ContractModel):
    type: Literal["SingleHeader"]
    header: Annotated[str, Field(min_length=1, max_length=256)]
    value: Annotated[str, Field(min_length=1, max_length=1783)]

    @field_validator("header")
    @classmethod
    def _header_name(cls, header: str) -> str:
        if not header.lower().startswith(HEADER_PREFIX):
            raise ValueError(f'must start with "{HEADER_PREFIX}"')
        if not _HEADER_NAME.match(header):
            raise ValueError("may hold only letters, digits and '-'")
        return header


class Stickiness(ContractModel):
    idleTtl: Annotated[int, Field(ge=300, le=3600)]
    maximumTtl: Annotated[int, Field(ge=300, le=3600)]

    @model_validator(mode="after")
    def _idle_within_maximum(self) -> Stickiness:
        if self.idleTtl > self.maximumTtl:
            raise ValueError("idleTtl must not exceed maximumTtl")
        return self


# 0 < weight <= 0.15: "a decimal number between 0 and 0.15", the quota "15%"
# (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ContinuousDeploymentSingleWeightConfig.html,
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/continuous-deployment-quotas-considerations.html).
# 0 itself sends nobody to staging, so the weight probe could never see the release.
Weight = Annotated[float, Field(gt=0, le=MAX_WEIGHT)]
# A progressive release: at most this many steps, each analysed at most MAX_ANALYSES_PER_STEP
# times. Both bound the release's history (README "History budget", tests/history_budget.py):
# every step adds a Deployed wait and a bake loop.
MAX_STEPS = 4
# max(bakeSeconds, timing.probeTimeoutSeconds) / analysis.intervalSeconds, at most: a bake
# analyses at t = 0, every intervalSeconds, at its end and at the minRequests deadline.
MAX_INTERVALS_PER_STEP = 30
MAX_ANALYSES_PER_STEP = MAX_INTERVALS_PER_STEP + 3


class WeightStep(ContractModel):
    weight: Weight
    bakeSeconds: Annotated[int, Field(ge=1, le=86_400)]


class WeightTraffic(ContractModel):
    type: Literal["SingleWeight"]
    # Exactly one: one weight until the approver decides, or steps of growing weight, each baked
    # and analysed (`analysis`) before the next.
    weight: Weight | None = None
    steps: Annotated[list[WeightStep], Field(min_length=1, max_length=MAX_STEPS)] | None = None
    stickiness: Stickiness | None = None

    @model_validator(mode="after")
    def _weight_or_steps(self) -> WeightTraffic:
        if (self.weight is None) == (self.steps is None):
            raise ValueError("exactly one of weight and steps is required")
        return self

    @field_validator("steps")
    @classmethod
    def _growing(cls, steps: list[WeightStep] | None) -> list[WeightStep] | None:
        weights = [step.weight for step in steps or []]
        if any(later <= earlier for earlier, later in itertools.pairwise(weights)):
            raise ValueError(f"weights must be strictly increasing, got {weights}")
        return steps

    @property
    def first_weight(self) -> float:
        """The weight the policy starts with: the only one, or the first step's."""
        return self.steps[0].weight if self.steps else float(self.weight or 0)


Traffic = Annotated[HeaderTraffic | WeightTraffic, Field(discriminator="type")]


class Overrides(ContractModel):
    originPath: str | None = None
    # Which origin takes originPath; by default the target of the default cache behavior.
    originId: str | None = None
    # A partial DistributionConfig merged into the copy: objects merged, lists replaced.
    distributionConfig: dict[str, Any] | None = None

    @field_validator("originPath")
    @classmethod
    def _origin_path(cls, path: str | None) -> str | None:
        if path and (not path.startswith("/") or path.endswith("/")):
            raise ValueError('must be empty or start with "/" and not end with "/"')
        return path

    @field_validator("distributionConfig")
    @classmethod
    def _allowed_keys(cls, config: dict[str, Any] | None) -> dict[str, Any] | None:
        locked = sorted(set(config or {}) - UPDATABLE_WHILE_POLICY_ATTACHED)
        if locked:
            allowed = ", ".join(sorted(UPDATABLE_WHILE_POLICY_ATTACHED))
            raise ValueError(
                f"{', '.join(locked)} cannot be overridden: while a continuous deployment policy is "
                f"attached CloudFront lets staging change only {allowed}"
            )
        return config


class CopyStaging(ContractModel):
    mode: Literal["copy"]
    overrides: Overrides = Overrides()


class StackStaging(ContractModel):
    mode: Literal["stack"]
    stackName: str
    templateUrl: str | None = None
    templateBody: str | None = None
    parameters: dict[str, str] = {}

    @field_validator("stackName")
    @classmethod
    def _stack_name(cls, name: str) -> str:
        if not _STACK_NAME.match(name):
            raise ValueError("must start with a letter and hold only letters, digits and '-' (max 128)")
        return name

    @field_validator("templateUrl")
    @classmethod
    def _template_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith("https://"):
            raise ValueError('must be an "https://" URL (S3)')
        return url

    @model_validator(mode="after")
    def _one_template(self) -> StackStaging:
        if (self.templateUrl is None) == (self.templateBody is None):
            raise ValueError("exactly one of templateUrl and templateBody is required")
        return self


class RestoreStaging(ContractModel):
    """Undo a promotion: staging gets a configuration the primary had before, from the release
    history (cfcd_common.release_history), and the probe of the release that served it."""

    mode: Literal["restore"]
    # An earlier promoted release (its execution name or its label); by default the one before the
    # last promotion.
    release: Annotated[str, Field(min_length=1, max_length=128)] | None = None


Staging = Annotated[CopyStaging | StackStaging | RestoreStaging, Field(discriminator="mode")]


class ProbeExpect(ContractModel):
    status: Annotated[int, Field(ge=100, le=599)] = 200
    # The marker only the new release serves: how the probe tells staging from primary.
    bodyContains: Annotated[str, Field(min_length=1)]


class Probe(ContractModel):
    path: Annotated[str, Field(min_length=1, max_length=2048)] = "/"
    expect: ProbeExpect
    # Requests per probe in weight mode, each without the stickiness cookie.
    samples: Annotated[int, Field(ge=1, le=100)] = 20

    @field_validator("path")
    @classmethod
    def _path(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError('must start with "/"')
        return path


class Approval(ContractModel):
    # manual: a human decides by email; auto: promote as soon as the release's checks pass.
    mode: Literal["manual", "auto"] = "manual"
    # One week at most: a release nobody looked at for longer is stale.
    timeoutSeconds: Annotated[int, Field(ge=1, le=604_800)] = 86_400


class Promotion(ContractModel):
    invalidatePaths: Annotated[list[str], Field(min_length=1, max_length=3000)] = ["/*"]
    # An SSM String parameter cfcd sets to the origin path live after the promotion, for the
    # primary's own template to read (README: Primaries managed as code).
    originPathParameter: str | None = None

    @field_validator("originPathParameter")
    @classmethod
    def _parameter_name(cls, name: str | None) -> str | None:
        if name is None:
            return name
        if not _SSM_PARAMETER_NAME.match(name):
            raise ValueError(
                'must be an SSM parameter path: "/" then 1 to 15 levels of letters, digits and "_.-" '
                'separated by "/"'
            )
        if name[1:4].lower() in ("aws", "ssm"):
            raise ValueError('must not start with "aws" or "ssm" (reserved by SSM)')
        if len(name) > SSM_PARAMETER_NAME_MAX_LENGTH:
            raise ValueError(f"may hold at most {SSM_PARAMETER_NAME_MAX_LENGTH} characters")
        return name

    @field_validator("invalidatePaths")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        if any(not path.startswith("/") for path in paths):
            raise ValueError('every path must start with "/"')
        if any(len(path) > MAX_INVALIDATION_PATH_LENGTH for path in paths):
            raise ValueError(f"a path may hold at most {MAX_INVALIDATION_PATH_LENGTH} characters")
        inner_wildcards = [path for path in paths if "*" in path[:-1]]
        if inner_wildcards:
            raise ValueError(f"'*' may only be the last character of a path: {', '.join(inner_wildcards)}")
        return paths


class Timing(ContractModel):
    pollSeconds: Annotated[int, Field(ge=1, le=3600)] = 30
    deployTimeoutSeconds: Annotated[int, Field(ge=1, le=86_400)] = 1800
    probeTimeoutSeconds: Annotated[int, Field(ge=1, le=86_400)] = 900


class Analysis(ContractModel):
    """How each step of a progressive release is judged (cfcd_common.progressive)."""

    # CloudFront publishes its metrics per minute: analysing more often than every 60 s finds
    # nothing new on AWS (the local cloud publishes every second).
    intervalSeconds: Annotated[int, Field(ge=1, le=3600)] = 60
    # A fraction (0.01 = 1 %); CloudWatch's 5xxErrorRate is a percentage.
    maxErrorRate: Annotated[float, Field(ge=0, le=1)] = 0.01
    # Requests staging must serve in a step before it passes: no traffic is no evidence.
    minRequests: Annotated[int, Field(ge=1, le=1_000_000_000)] = 100
    # CloudWatch alarms (of the region cfcd runs in) that stop the release when in ALARM.
    # DescribeAlarms takes at most 100 names, each 1-255 characters:
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html
    alarmNames: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=255)]], Field(max_length=100)
    ] = []


class DeploymentInput(ContractModel):
    """What StartExecution takes (CLI, CodePipeline's invoke action, an EventBridge rule)."""

    primaryDistributionId: str
    staging: Staging
    traffic: Traffic | None = None
    # Restore mode takes the restored release's recorded probe unless one is given here.
    probe: Probe | None = None
    approval: Approval = Approval()
    promotion: Promotion = Promotion()
    timing: Timing = Timing()
    # Only with traffic.steps, where it defaults to Analysis().
    analysis: Analysis | None = None
    # A label for humans (approval mail, logs); defaults to the origin path or stack name.
    release: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @field_validator("primaryDistributionId")
    @classmethod
    def _distribution_id(cls, distribution_id: str) -> str:
        if not _DISTRIBUTION_ID.match(distribution_id):
            raise ValueError("must be a CloudFront distribution id (upper-case letters and digits)")
        return distribution_id

    @model_validator(mode="before")
    @classmethod
    def _default_analysis(cls, raw: Any) -> Any:
        traffic = raw.get("traffic") if isinstance(raw, dict) else None
        if isinstance(traffic, dict) and traffic.get("steps") is not None and raw.get("analysis") is None:
            return {**raw, "analysis": {}}
        return raw

    @model_validator(mode="after")
    def _traffic_and_analysis(self) -> DeploymentInput:
        # Only a staging stack can bring its own ContinuousDeploymentPolicy; a restore keeps the
        # policy the promotions left attached.
        if self.traffic is None and self.staging.mode == "copy":
            raise ValueError("traffic: required in copy mode")
        steps = self.traffic.steps if isinstance(self.traffic, WeightTraffic) else None
        if self.analysis is not None and steps is None:
            raise ValueError("analysis: only a release with traffic.steps is analysed")
        if self.analysis is not None and steps is not None:
            self._check_analyses_per_step(steps, self.analysis)
        return self

    @model_validator(mode="after")
    def _probe_given(self) -> DeploymentInput:
        if self.probe is None and self.staging.mode != "restore":
            raise ValueError(f"probe: required in {self.staging.mode} mode")
        return self

    def _check_analyses_per_step(self, steps: list[WeightStep], analysis: Analysis) -> None:
        # A step bakes bakeSeconds and may wait for minRequests until probeTimeoutSeconds.
        window = max(max(step.bakeSeconds for step in steps), self.timing.probeTimeoutSeconds)
        if window / analysis.intervalSeconds > MAX_INTERVALS_PER_STEP:
            raise ValueError(
                f"analysis.intervalSeconds: must be at least max(bakeSeconds, timing.probeTimeoutSeconds) "
                f"/ {MAX_INTERVALS_PER_STEP} = {math.ceil(window / MAX_INTERVALS_PER_STEP)} s here, not "
                f"{analysis.intervalSeconds}: a step is analysed at most {MAX_ANALYSES_PER_STEP} times "
                '(Step Functions\' history quota, README "History budget")'
            )

    def with_release_label(self, fallback: str) -> DeploymentInput:
        if self.release:
            return self
        if isinstance(self.staging, CopyStaging):
            label = (self.staging.overrides.originPath or "").strip("/") or fallback
        elif isinstance(self.staging, StackStaging):
            label = self.staging.stackName
        else:  # ValidateInput labels a restore after the release history named what it restores
            label = fallback
        return self.model_copy(update={"release": label[:128]})


_UNION_TAGS = {"SingleHeader", "SingleWeight", "copy", "stack", "restore"}


def _field_path(loc: tuple[int | str, ...]) -> str:
    # pydantic puts the discriminator's value in the location of tagged-union errors
    # (traffic.SingleHeader.header); the contract's field is traffic.header.
    parts = [str(part) for part in loc if str(part) not in _UNION_TAGS]
    return ".".join(parts)


def describe_errors(error: ValidationError) -> str:
    """One line per broken rule, each `field.path: rule`."""
    lines = []
    for detail in error.errors(include_url=False):
        path = _field_path(detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "union_tag_invalid":
            ctx = detail.get("ctx", {})
            path = f"{path}.{ctx.get('discriminator', '').strip(chr(39))}"
            message = f"must be one of {ctx.get('expected_tags')}"
        elif detail["type"] == "union_tag_not_found":
            path = f"{path}.{detail.get('ctx', {}).get('discriminator', '').strip(chr(39))}"
            message = "Field required"
        lines.append(f"{path}: {message}" if path else message)
    return "; ".join(lines)


def parse_deployment_input(raw: Any) -> DeploymentInput:
    """Validate an execution input; raise InvalidInput naming every broken field and rule."""
    try:
        return DeploymentInput.model_validate(raw)
    except ValidationError as error:
        raise InvalidInput(describe_errors(error)) from None


def input_json_schema() -> dict[str, Any]:
    return DeploymentInput.model_json_schema()


class TaskRequest(BaseModel):
    """Every task payload carries the execution ARN: it is the logs' correlation id."""

    model_config = ConfigDict(extra="forbid")

    executionArn: str


class TaskResult(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeCheck(TaskResult):
    description: str
    status: int
    passed: bool
    detail: str


class ProbeReport(TaskResult):
    """What the probe saw; handed to RequestApproval as `probe` and shown in the approval mail."""

    ok: bool
    summary: str
    checks: list[ProbeCheck]


class StagingOutcome(TaskResult):
    """Where DeployStaging (copy) and CheckStack (stack) leave the staging distribution."""

    done: bool
    status: str
    stagingDistributionId: str | None = None
    # A policy the staging side already brings (stack output) or the primary already has (copy).
    policyId: str | None = None
    # CheckStack's wait before its next look (cfcd_common.polling); 0 once done.
    nextWaitSeconds: int = 0
