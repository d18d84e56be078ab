"""Where cfcd talks to (the CLI and the demo alike): which endpoint, region, state machine and table.

Resolution order (first match wins):

1. ``--stack NAME``: the CloudFormation stack's outputs (``StateMachineArn``, ``TableName``).
2. ``$CFCD_STATE_DIR/local.json`` (default ``.cfcd/local.json``): the local cloud's endpoints.
3. ``AWS_ENDPOINT_URL``: any AWS-compatible endpoint (names come from the flags).
4. Plain AWS; the state machine from ``--state-machine-arn`` (or ``$CFCD_STATE_MACHINE_ARN``).

``--state-machine-arn`` and ``--table-name`` always win over what a source found.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cfcd.client.errors import CfcdError
from cfcd.client.local_state import LOCAL_JSON, read_local_state, state_dir_from

if TYPE_CHECKING:  # boto3-stubs is a dev dependency: types only
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_sts import STSClient

Source = Literal["stack", "local", "endpoint", "aws"]

DEFAULT_REGION = "us-east-1"
# The local cloud (moto) accepts any credentials; these keep boto3 from searching for real ones.
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

_ARN = re.compile(r"^arn:(?P<partition>[^:]+):states:(?P<region>[^:]+):(?P<account>\d+):(?P<kind>[^:]+):")


class TargetError(CfcdError):
    """The client cannot tell where to talk to (exit code 1)."""


@dataclass(frozen=True)
class Target:
    """A resolved place to run releases: everything a command needs to build its clients."""

    source: Source
    description: str  # for humans: "stack cfcd-prod", ".cfcd/local.json", ...
    region: str
    endpoint_url: str | None = None
    state_machine_arn: str | None = None
    table_name: str | None = None
    state_dir: Path | None = None
    local_state: Mapping[str, Any] | None = None

    @property
    def is_aws(self) -> bool:
        """True when talking to real AWS (so a console link means something)."""
        return self.endpoint_url is None

    def _client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"region_name": self.region}
        if self.endpoint_url is not None:
            kwargs["endpoint_url"] = self.endpoint_url
            if self.source == "local" or boto3.Session().get_credentials() is None:
                kwargs.update(LOCAL_CREDENTIALS)
        return kwargs

    def sfn(self) -> SFNClient:
        return boto3.client("stepfunctions", **self._client_kwargs())

    def dynamodb(self) -> DynamoDBClient:
        return boto3.client("dynamodb", **self._client_kwargs())

    def cloudformation(self) -> CloudFormationClient:
        return boto3.client("cloudformation", **self._client_kwargs())

    def lambda_(self) -> LambdaClient:
        return boto3.client("lambda", **self._client_kwargs())

    def sts(self) -> STSClient:
        return boto3.client("sts", **self._client_kwargs())

    def cloudfront(self) -> CloudFrontClient:
        # CloudFront is global; the target's endpoint and credentials still apply (the local cloud).
        return boto3.client("cloudfront", **self._client_kwargs())

    def ssm(self) -> SSMClient:
        return boto3.client("ssm", **self._client_kwargs())

    def table(self) -> Table:
        """The cfcd table: named by the source, or found in the approval function's environment."""
        name = self.table_name or discover_table_name(self)
        return boto3.resource("dynamodb", **self._client_kwargs()).Table(name)

    def for_arn(self, arn: str) -> Target:
        """The same target in the region an ARN names (real AWS only: locally one region serves all)."""
        match = _ARN.match(arn)
        if match is None or not self.is_aws:
            return self
        return replace(self, region=match["region"])

    def require_state_machine(self) -> str:
        if self.state_machine_arn:
            return self.state_machine_arn
        raise TargetError(
            f"no state machine known for {self.description}: pass --stack NAME (the cfcd stack), "
            "--state-machine-arn ARN, or start the local cloud with `cfcd local up`"
        )

    def execution_arn(self, execution: str) -> str:
        """An execution ARN from an ARN or from a name of an execution of this state machine."""
        if execution.startswith("arn:"):
            return execution
        state_machine = self.require_state_machine()
        return state_machine.replace(":stateMachine:", ":execution:", 1) + ":" + execution

    def console_url(self, execution_arn: str) -> str | None:
        """The Step Functions console page of an execution, when on real AWS."""
        if not self.is_aws:
            return None
        region = self.for_arn(execution_arn).region
        return (
            f"https://{region}.console.aws.amazon.com/states/home?region={region}"
            f"#/v2/executions/details/{execution_arn}"
        )


def discover_table_name(target: Target) -> str:
    """TABLE_NAME of the function behind the workflow's callback (approval) task.

    With only a state machine ARN (plain AWS), this saves a second flag: the table is wherever
    RequestApproval stores approvals.
    """
    state_machine = target.require_state_machine()
    try:
        definition = json.loads(
            target.sfn().describe_state_machine(stateMachineArn=state_machine)["definition"]
        )
        for state in definition.get("States", {}).values():
            function = state.get("Parameters", {}).get("FunctionName")
            if str(state.get("Resource", "")).endswith(".waitForTaskToken") and isinstance(function, str):
                config = target.lambda_().get_function_configuration(FunctionName=function)
                table = config.get("Environment", {}).get("Variables", {}).get("TABLE_NAME")
                if table:
                    return table
    except (ClientError, BotoCoreError, ValueError) as error:
        raise TargetError(
            f"cannot find the cfcd table from {state_machine}: {error}; pass --table-name"
        ) from error
    raise TargetError(f"the approval task of {state_machine} names no TABLE_NAME; pass --table-name")


def _region_from(region: str | None, state_machine_arn: str | None, environ: Mapping[str, str]) -> str:
    if region:
        return region
    if state_machine_arn and (match := _ARN.match(state_machine_arn)):
        return match["region"]
    return (
        environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
        or boto3.Session().region_name
        or DEFAULT_REGION
    )


def _pick_output(outputs: Mapping[str, str], name: str) -> str | None:
    """An output called ``name`` or, failing that, the only one whose key ends with it."""
    if name in outputs:
        return outputs[name]
    candidates = [value for key, value in outputs.items() if key.endswith(name)]
    return candidates[0] if len(candidates) == 1 else None


def _from_stack(stack: str, base: Target) -> Target:
    try:
        stacks = base.cloudformation().describe_stacks(StackName=stack)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        raise TargetError(f"cannot read stack {stack!r}: {error}") from error
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", []) if "OutputKey" in o}
    state_machine = _pick_output(outputs, "StateMachineArn")
    if state_machine is None:
        raise TargetError(f"stack {stack!r} has no StateMachineArn output (outputs: {sorted(outputs)})")
    return replace(
        base,
        source="stack",
        description=f"stack {stack}",
        state_machine_arn=state_machine,
        table_name=_pick_output(outputs, "TableName"),
    )


def resolve_target(
    *,
    stack: str | None = None,
    state_machine_arn: str | None = None,
    table_name: str | None = None,
    region: str | None = None,
    state_dir: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Target:
    """Resolve the target in the documented order; explicit names override the source's."""
    env = os.environ if environ is None else environ
    state_machine_arn = state_machine_arn or env.get("CFCD_STATE_MACHINE_ARN") or None
    table_name = table_name or env.get("CFCD_TABLE_NAME") or None
    resolved_region = _region_from(region, state_machine_arn, env)
    endpoint = env.get("AWS_ENDPOINT_URL") or None
    local_dir = state_dir_from(state_dir, env)

    target: Target
    if stack:
        base = Target(
            source="stack", description=f"stack {stack}", region=resolved_region, endpoint_url=endpoint
        )
        target = _from_stack(stack, base)
    elif (local_dir / LOCAL_JSON).is_file():
        state = read_local_state(local_dir)
        target = Target(
            source="local",
            description=str(local_dir / LOCAL_JSON),
            region=region or env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or DEFAULT_REGION,
            endpoint_url=state["awsEndpoint"],
            state_machine_arn=state.get("stateMachineArn"),
            table_name=state.get("tableName"),
            state_dir=local_dir,
            local_state=state,
        )
    elif endpoint:
        target = Target(
            source="endpoint",
            description=f"AWS_ENDPOINT_URL={endpoint}",
            region=resolved_region,
            endpoint_url=endpoint,
        )
    else:
        target = Target(source="aws", description=f"AWS ({resolved_region})", region=resolved_region)

    overrides: dict[str, Any] = {}
    if state_machine_arn:
        overrides["state_machine_arn"] = state_machine_arn
    if table_name:
        overrides["table_name"] = table_name
    return replace(target, **overrides) if overrides else target
