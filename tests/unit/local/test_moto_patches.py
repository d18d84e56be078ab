"""Every moto patch is in place and does what it is for; another moto version is refused.

One test per patched attribute. Each runs the patched code through real boto3 clients on
``mock_aws`` (moto's in-process mode dispatches to the same response classes as its server).
"""

from __future__ import annotations

import collections
import importlib
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.loaders
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cfcd.local import lambda_runtime, mail, moto_patches, stepfunctions_quotas
from cfcd.local.faults import REGISTRY, STEP_FUNCTIONS_HISTORY_LIMIT, Fault
from cfcd.local.lambda_runtime import InvokeResult
from tests.unit.aws_mock import mocked_aws
from tests.unit.local.test_cloudfront_policies import (
    distribution_config,
    header_policy,
    make_primary,
    make_staging,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = REPO_ROOT / "examples"
pytestmark = pytest.mark.unit

PATCHED = {
    "moto.core.responses.BaseResponse.call_action",
    "moto.s3.responses.S3Response.bucket_response",
    "moto.s3.responses.S3Response.key_response",
    "moto.cloudfront.urls.url_paths",
    "moto.cloudformation.parsing.get_model_map",
    "moto.cloudformation.models.CloudFormationBackend.update_stack",
    "moto.cloudformation.parsing.ResourceMap.update",
    "moto.cloudformation.responses.CloudFormationResponse.describe_stack_resources",
    "moto.cloudformation.responses.CloudFormationResponse._validate_different_update",
    "moto.cloudformation.models.Stack.parameter_list",
    "moto.cloudformation.responses.CloudFormationResponse.create_stack",
    "moto.stepfunctions.responses.StepFunctionResponse.send_task_failure",
    "moto.stepfunctions.responses.StepFunctionResponse.get_execution_history",
    "moto.stepfunctions.parser.asl.eval.event.event_manager.EventManager.__init__",
    "moto.stepfunctions.parser.asl.eval.event.event_manager.EventManager.add_event",
    "moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl.ErrorEqualsDecl._eval_body",
    "moto.awslambda.models.LambdaFunction.invoke",
    "moto.events.models.Rule.send_to_targets",
    "moto.stepfunctions.parser.backend.execution.BaseExecutionWorkerCommunication.terminated",
    "moto.sns.models.Topic.publish",
    "moto.backends.list_of_moto_modules",
    "moto.stepfunctions.parser.backend.execution_worker.ExecutionWorker._get_evaluation_entrypoint",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils.boto_client_for",
    "moto.core.serialize.XFormedAttributePicker.get_possible_keys",
    "moto.core.serialize.ResponseSerializer.get_value",
    "moto.stepfunctions.parser.models.StepFunctionsParserBackend._validate_definition",
    "moto.core.serialize.RestXMLSerializer._serialize_body",
    "moto.stepfunctions.parser.asl.utils.json_path.parse",
    "moto.stepfunctions.parser.asl.component.common.path.result_path.parse",
    "moto.ses.responses.EmailResponse.send_email",
    "moto.ses.responses.EmailResponse.send_raw_email",
    "moto.sesv2.responses.SESV2Response.send_email",
}
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
ROLE = "arn:aws:iam::123456789012:role/cfcd-test"


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    moto_patches.install()
    REGISTRY.clear()
    with mocked_aws():
        yield
    REGISTRY.clear()


def client(service: str, config: Config | None = None) -> Any:
    return boto3.client(service, region_name="us-east-1", config=config)  # type: ignore[call-overload]


def error_code(raised: pytest.ExceptionInfo[ClientError]) -> str:
    return str(raised.value.response["Error"]["Code"])


def resolve(dotted: str) -> Any:
    """``a.b.C.attr``: the longest importable prefix is the module, the rest attributes."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            owner = getattr(owner, name)
        return owner
    raise AssertionError(f"cannot resolve {dotted}")


def test_another_moto_version_is_refused_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a moto other than the one the patches were written for
    monkeypatch.setattr("cfcd.local.moto_patches.metadata.version", lambda name: "5.3.0")

    # When the patches are installed, Then it is refused, naming both versions and the fix
    with pytest.raises(moto_patches.MotoVersionMismatch) as raised:
        moto_patches.install()
    assert "moto 5.3.0 is installed" in str(raised.value)
    assert f"moto[server]=={moto_patches.MOTO_VERSION}" in str(raised.value)


def test_the_pinned_moto_is_the_patched_one() -> None:
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert f'"moto[server]=={moto_patches.MOTO_VERSION}"' in pyproject
    moto_patches.check_moto_version()


def test_every_patch_is_in_place() -> None:
    installed = moto_patches.installed()

    assert set(installed) == PATCHED
    for name, replacement in installed.items():
        current = resolve(name)
        if name.endswith("url_paths"):
            assert set(current.values()) == {replacement}
        elif isinstance(replacement, staticmethod):
            assert current is replacement.__func__, name
        else:
            assert current is replacement, name


def test_call_action_answers_injected_faults_before_or_after_the_call() -> None:
    # Given a fault before CreateTopic and one after CreateQueue
    REGISTRY.add(Fault(service="sns", operation="CreateTopic", error="Throttling"))
    REGISTRY.add(Fault(service="sqs", operation="CreateQueue", error="InternalError", when="after"))
    sns, sqs = client("sns", NO_RETRIES), client("sqs", NO_RETRIES)

    # When both are called, Then both get the error: the topic was never made, the queue was
    with pytest.raises(ClientError) as before:
        sns.create_topic(Name="never")
    with pytest.raises(ClientError) as after:
        sqs.create_queue(QueueName="made")
    assert (error_code(before), error_code(after)) == ("Throttling", "InternalError")
    assert sns.list_topics()["Topics"] == []
    assert sqs.get_queue_url(QueueName="made")["QueueUrl"]


def test_a_fault_matching_a_text_answers_only_the_requests_that_contain_it() -> None:
    # Given a lost response for the PutItem of one key only, and the table
    dynamodb = client("dynamodb", NO_RETRIES)
    dynamodb.create_table(
        TableName="locks",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    REGISTRY.add(
        Fault(
            service="dynamodb",
            operation="PutItem",
            error="InternalServerError",
            http_status=500,
            when="after",
            matching=["lock#E2", "run-2"],
        )
    )

    # When another key is written, then the matching one
    dynamodb.put_item(TableName="locks", Item={"pk": {"S": "lock#E1"}, "holder": {"S": "run-2"}})
    with pytest.raises(ClientError) as raised:
        dynamodb.put_item(TableName="locks", Item={"pk": {"S": "lock#E2"}, "holder": {"S": "run-2"}})

    # Then only the request containing every text got the error; both writes took effect
    assert error_code(raised) == "InternalServerError"
    assert REGISTRY.pending() == []
    assert (
        dynamodb.get_item(TableName="locks", Key={"pk": {"S": "lock#E2"}})["Item"]["holder"]["S"] == "run-2"
    )


def test_query_protocol_faults_match_on_the_decoded_form() -> None:
    # Given a lost Publish for the mail that names one execution (SNS takes a form, URL-encoded)
    sns = client("sns", NO_RETRIES)
    topic = sns.create_topic(Name="approvals")["TopicArn"]
    REGISTRY.add(
        Fault(service="sns", operation="Publish", error="InternalError", matching=["Execution: run-2"])
    )

    # When two mails are published, Then only the one naming that execution gets the error
    sns.publish(TopicArn=topic, Message="Execution: run-1")
    with pytest.raises(ClientError) as raised:
        sns.publish(TopicArn=topic, Message="Execution: run-2")
    assert error_code(raised) == "InternalError"


def test_s3_faults_match_on_the_request_url() -> None:
    s3 = client("s3", NO_RETRIES)
    for bucket in ("site-a", "site-b"):
        s3.create_bucket(Bucket=bucket)
    REGISTRY.add(Fault(service="s3", operation="PutBucketPolicy", error="InternalError", matching=["site-b"]))
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})

    s3.put_bucket_policy(Bucket="site-a", Policy=policy)
    with pytest.raises(ClientError) as raised:
        s3.put_bucket_policy(Bucket="site-b", Policy=policy)

    assert error_code(raised) == "InternalError"


def test_s3_bucket_calls_take_faults_under_their_api_name() -> None:
    s3 = client("s3", NO_RETRIES)
    s3.create_bucket(Bucket="site")
    REGISTRY.add(
        Fault(service="s3", operation="PutBucketPolicy", error="InternalError", http_status=500, when="after")
    )
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})

    with pytest.raises(ClientError) as raised:
        s3.put_bucket_policy(Bucket="site", Policy=policy)

    assert error_code(raised) == "InternalError"
    assert json.loads(s3.get_bucket_policy(Bucket="site")["Policy"]) == json.loads(policy)


def test_s3_key_calls_take_faults_under_their_api_name() -> None:
    s3 = client("s3", NO_RETRIES)
    s3.create_bucket(Bucket="site")
    REGISTRY.add(Fault(service="s3", operation="PutObject", error="SlowDown", http_status=503))

    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket="site", Key="index.html", Body=b"v1")

    assert error_code(raised) == "SlowDown"
    assert s3.list_objects_v2(Bucket="site")["KeyCount"] == 0
    operations = [call.operation for call in REGISTRY.calls() if call.service == "s3"]
    assert operations[-3:] == ["CreateBucket", "PutObject", "ListObjectsV2"]


def test_cloudfront_urls_moto_lacks_reach_the_emulator() -> None:
    cloudfront = client("cloudfront")
    primary = cloudfront.create_distribution(DistributionConfig=distribution_config("patched"))

    copied = cloudfront.copy_distribution(
        PrimaryDistributionId=primary["Distribution"]["Id"],
        Staging=True,
        IfMatch=primary["ETag"],
        CallerReference="patched-staging",
    )

    assert copied["Distribution"]["DistributionConfig"]["Staging"] is True


def test_a_create_stack_resent_with_its_request_token_is_the_same_request() -> None:
    # Given a stack made by a CreateStack whose answer was lost
    cloudformation = client("cloudformation", NO_RETRIES)
    template = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}})
    made = cloudformation.create_stack(StackName="staging", TemplateBody=template, ClientRequestToken="run-1")

    # When the same request is sent again, Then it names that stack; another request is refused
    again = cloudformation.create_stack(
        StackName="staging", TemplateBody=template, ClientRequestToken="run-1"
    )
    assert again["StackId"] == made["StackId"]
    assert len(cloudformation.describe_stacks()["Stacks"]) == 1
    with pytest.raises(ClientError) as raised:
        cloudformation.create_stack(StackName="staging", TemplateBody=template, ClientRequestToken="run-2")
    assert error_code(raised) == "AlreadyExistsException"


def test_cloudformation_knows_the_cloudfront_resource_types() -> None:
    template = {
        "Resources": {
            "Site": {
                "Type": "AWS::CloudFront::Distribution",
                "Properties": {
                    "DistributionConfig": {
                        "Enabled": True,
                        "Origins": [{"Id": "site", "DomainName": "site.s3.us-east-1.amazonaws.com"}],
                        "DefaultCacheBehavior": {
                            "TargetOriginId": "site",
                            "ViewerProtocolPolicy": "allow-all",
                            "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
                        },
                    }
                },
            }
        }
    }

    client("cloudformation").create_stack(StackName="site", TemplateBody=json.dumps(template))

    assert client("cloudfront").list_distributions()["DistributionList"]["Quantity"] == 1


def test_stack_update_without_a_role_keeps_the_role_it_was_created_with() -> None:
    # Given a stack created with a service role
    cfn = client("cloudformation")
    topic = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    cfn.create_stack(StackName="roles", TemplateBody=json.dumps(topic), RoleARN=ROLE)
    topic["Resources"]["Other"] = {"Type": "AWS::SNS::Topic"}

    # When it is updated without RoleARN, then with another role
    cfn.update_stack(StackName="roles", TemplateBody=json.dumps(topic))
    kept = cfn.describe_stacks(StackName="roles")["Stacks"][0].get("RoleARN")
    cfn.update_stack(StackName="roles", TemplateBody=json.dumps(topic), RoleARN=ROLE + "-2")

    # Then DescribeStacks names the first role, then the new one
    assert kept == ROLE
    assert cfn.describe_stacks(StackName="roles")["Stacks"][0]["RoleARN"] == ROLE + "-2"


def site_template(comment: Any) -> dict[str, Any]:
    """A distribution whose origin path comes from an SSM parameter and whose comment is given."""
    return {
        "Parameters": {
            "OriginPath": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cfcd/site/origin-path"},
            "Comment": {"Type": "String"},
        },
        "Resources": {
            "Site": {
                "Type": "AWS::CloudFront::Distribution",
                "Properties": {
                    "DistributionConfig": {
                        "Enabled": True,
                        "Comment": comment,
                        "Origins": [
                            {
                                "Id": "site",
                                "DomainName": "site.s3.us-east-1.amazonaws.com",
                                "OriginPath": {"Ref": "OriginPath"},
                            }
                        ],
                        "DefaultCacheBehavior": {
                            "TargetOriginId": "site",
                            "ViewerProtocolPolicy": "allow-all",
                            "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
                        },
                    }
                },
            }
        },
        "Outputs": {"Id": {"Value": {"Ref": "Site"}}},
    }


def site_stack(comment: Any = None) -> tuple[Any, str, str]:
    """The site stack serving /1.0.0: CloudFormation client, template text, distribution id."""
    client("ssm").put_parameter(Name="/cfcd/site/origin-path", Value="/1.0.0", Type="String")
    cfn = client("cloudformation")
    body = json.dumps(site_template(comment or {"Fn::Sub": "site ${Comment}"}))
    cfn.create_stack(StackName="site", TemplateBody=body, Parameters=given(comment="v1"))
    distribution_id = cfn.describe_stacks(StackName="site")["Stacks"][0]["Outputs"][0]["OutputValue"]
    return cfn, body, distribution_id


def given(comment: str) -> list[dict[str, str]]:
    return [
        {"ParameterKey": "OriginPath", "ParameterValue": "/cfcd/site/origin-path"},
        {"ParameterKey": "Comment", "ParameterValue": comment},
    ]


def live(distribution_id: str) -> tuple[str, str]:
    config = client("cloudfront").get_distribution_config(Id=distribution_id)["DistributionConfig"]
    return str(config["Origins"]["Items"][0]["OriginPath"]), str(config["Comment"])


def test_stack_update_applies_what_only_the_resolved_properties_change() -> None:
    # Given a stack whose distribution reads its origin path from SSM and its comment through Sub
    cfn, body, distribution_id = site_stack()

    # When the same template is updated with only a new SSM value, then with only a new comment
    client("ssm").put_parameter(Name="/cfcd/site/origin-path", Value="/2.0.0", Type="String", Overwrite=True)
    cfn.update_stack(StackName="site", TemplateBody=body, Parameters=given(comment="v1"))
    after_ssm = live(distribution_id)
    cfn.update_stack(StackName="site", TemplateBody=body, Parameters=given(comment="v2"))

    # Then each update reached the distribution, as CloudFormation's would
    assert after_ssm == ("/2.0.0", "site v1")
    assert live(distribution_id) == ("/2.0.0", "site v2")
    assert cfn.describe_stacks(StackName="site")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_stack_update_with_nothing_new_to_resolve_is_refused_as_no_update() -> None:
    # Given the site stack, its SSM value unchanged since it was created
    cfn, body, _ = site_stack()

    # When the same template and parameters are sent again, Then there is nothing to update
    with pytest.raises(ClientError, match="No updates are to be performed"):
        cfn.update_stack(StackName="site", TemplateBody=body, Parameters=given(comment="v1"))

    # And once the SSM value changed, the same request is an update
    client("ssm").put_parameter(Name="/cfcd/site/origin-path", Value="/2.0.0", Type="String", Overwrite=True)
    cfn.update_stack(StackName="site", TemplateBody=body, Parameters=given(comment="v1"))
    assert cfn.describe_stacks(StackName="site")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_describe_stack_resources_finds_the_stack_holding_a_physical_resource() -> None:
    # Given the site stack and a distribution no stack made
    cfn, _, distribution_id = site_stack()
    other = client("cloudfront").create_distribution(DistributionConfig=distribution_config("no-stack"))

    # When the stack of each is asked for by its physical id
    found = cfn.describe_stack_resources(PhysicalResourceId=distribution_id)["StackResources"]
    with pytest.raises(ClientError) as raised:
        cfn.describe_stack_resources(PhysicalResourceId=other["Distribution"]["Id"])

    # Then the stack's resources come back, and ValidationError for the other
    assert [(r["StackName"], r["LogicalResourceId"], r["PhysicalResourceId"]) for r in found] == [
        ("site", "Site", distribution_id)
    ]
    assert found[0]["ResourceType"] == "AWS::CloudFront::Distribution"
    assert error_code(raised) == "ValidationError"
    assert f"Stack for {other['Distribution']['Id']} does not exist" in str(raised.value)


def test_describe_stacks_gives_an_ssm_parameter_as_its_name_and_resolved_value() -> None:
    cfn, _, _ = site_stack()

    parameters = cfn.describe_stacks(StackName="site")["Stacks"][0]["Parameters"]

    assert {p["ParameterKey"]: p for p in parameters} == {
        "OriginPath": {
            "ParameterKey": "OriginPath",
            "ParameterValue": "/cfcd/site/origin-path",
            "ResolvedValue": "/1.0.0",
        },
        "Comment": {"ParameterKey": "Comment", "ParameterValue": "v1"},
    }


def test_send_task_failure_passes_the_cause_on() -> None:
    from moto.stepfunctions.responses import StepFunctionResponse

    received: dict[str, Any] = {}
    params = {"taskToken": "token-1", "error": "Rejected", "cause": "Rejected by ana: wrong colour"}
    response = SimpleNamespace(
        stepfunction_backend=SimpleNamespace(
            send_task_failure=lambda token, error, cause: received.update(
                token=token, error=error, cause=cause
            )
        ),
        _get_param=params.get,
    )

    StepFunctionResponse.send_task_failure(response)  # type: ignore[arg-type]

    assert received == {"token": "token-1", "error": "Rejected", "cause": "Rejected by ana: wrong colour"}


class ScriptedRuntime:
    """Runs one function, answering each invoke with the next of ``answers`` (the last repeats)."""

    def __init__(self, name: str, answers: list[InvokeResult]) -> None:
        self.name = name
        self.answers = answers
        self.invokes = 0

    def has_function(self, name: str) -> bool:
        return name == self.name

    def invoke(self, name: str, payload: bytes) -> InvokeResult:
        self.invokes += 1
        return self.answers[min(self.invokes, len(self.answers)) - 1]


@pytest.fixture
def running_executions() -> Iterator[None]:
    with mocked_aws(execute_state_machine=True):
        yield
    stepfunctions_quotas.set_history_limit(STEP_FUNCTIONS_HISTORY_LIMIT)


def run_with_function(definition: dict[str, Any], runtime: ScriptedRuntime) -> str:
    """Run ``definition`` to its end, its Lambda tasks answered by ``runtime``; the execution ARN."""
    machine = state_machine_with_function(definition, runtime)
    lambda_runtime.activate(runtime)  # type: ignore[arg-type]
    try:
        return run_to_end(machine, "run")
    finally:
        lambda_runtime.activate(None)


def state_machine_with_function(definition: dict[str, Any], runtime: ScriptedRuntime) -> str:
    """A state machine of ``definition`` whose Lambda tasks ``runtime`` will answer; its ARN."""
    role = client("iam").create_role(RoleName=f"fn-{runtime.name}", AssumeRolePolicyDocument="{}")
    client("lambda").create_function(
        FunctionName=runtime.name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": b"PK"},
    )
    machine = client("stepfunctions").create_state_machine(
        name=runtime.name, definition=json.dumps(definition), roleArn=ROLE
    )
    return str(machine["stateMachineArn"])


def run_to_end(state_machine_arn: str, name: str) -> str:
    """One execution of the state machine, run to its end; its ARN."""
    sfn = client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=state_machine_arn, name=name)["executionArn"]
    deadline = time.monotonic() + 20
    while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.05)
    return str(execution)


def lambda_task(function: str, **fields: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function, "Payload": {}},
        **fields,
    }


SUCCEEDS = InvokeResult(b"{}")
FAILS = InvokeResult(b'{"errorType": "Flaky", "errorMessage": "try again"}', "Unhandled")
# A check that fails (and is caught) every other time, polled forever: 7 events a visit.
POLL_FOREVER = {
    "StartAt": "Check",
    "States": {
        "Check": lambda_task(
            "check",
            ResultPath=None,
            Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "Again"}],
            Next="Again",
        ),
        "Again": {"Type": "Wait", "Seconds": 0, "Next": "Check"},
    },
}


def test_an_event_manager_keeps_the_history_limit_in_force_when_it_was_made() -> None:
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext, EventManager

    # Given an execution's event manager made while the limit was 3
    stepfunctions_quotas.set_history_limit(3)
    try:
        manager = EventManager()
    finally:
        stepfunctions_quotas.set_history_limit(STEP_FUNCTIONS_HISTORY_LIMIT)
    context = EventHistoryContext.of_program_start()
    # When a third event is added after the limit went back up, Then that execution's history is full
    manager.add_event(context, HistoryEventType.ExecutionStarted)
    manager.add_event(context, HistoryEventType.PassStateEntered)
    with pytest.raises(stepfunctions_quotas.HistoryLimitReached):
        manager.add_event(context, HistoryEventType.PassStateExited)
    assert [event["type"] for event in manager.get_event_history()][-1] == "ExecutionFailed"


@pytest.mark.parametrize("limit", range(12, 26))  # every event of two polls (one failed, one not)
def test_a_full_history_fails_the_execution_past_every_catch_and_calls_nothing_more(
    running_executions: None, limit: int
) -> None:
    # Given executions limited to `limit` history events, and a loop that never ends on its own
    stepfunctions_quotas.set_history_limit(limit)
    runtime = ScriptedRuntime("check", [FAILS, SUCCEEDS] * 20)

    # When it runs
    execution = run_with_function(POLL_FOREVER, runtime)

    # Then it fails as AWS fails it: event `limit` is the failure, States.Runtime, no Catch ran
    sfn = client("stepfunctions")
    cause = f"The execution reached the maximum number of history events ({limit})."
    described = sfn.describe_execution(executionArn=execution)
    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "States.Runtime",
        cause,
    )
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    assert [event["id"] for event in events] == list(range(1, limit + 1))
    assert events[-1]["type"] == "ExecutionFailed"
    assert events[-1]["executionFailedEventDetails"] == {"error": "States.Runtime", "cause": cause}
    # And the function ran only for the tasks the history shows started
    assert runtime.invokes == sum(event["type"] == "TaskStarted" for event in events)


def test_execution_history_comes_in_pages_of_the_size_and_order_asked_for(running_executions: None) -> None:
    # Given an execution that ended with 250 history events
    stepfunctions_quotas.set_history_limit(250)
    execution = run_with_function(POLL_FOREVER, ScriptedRuntime("check", [FAILS, SUCCEEDS] * 40))
    sfn = client("stepfunctions")

    # When its history is read without a page size, Then AWS's default page of 100 comes, oldest first
    first = sfn.get_execution_history(executionArn=execution)
    assert [event["id"] for event in first["events"]] == list(range(1, 101))
    # And the pages, in either order, hold the whole history once
    for reverse, ids in ((False, range(1, 251)), (True, range(250, 0, -1))):
        pages = sfn.get_paginator("get_execution_history").paginate(
            executionArn=execution, reverseOrder=reverse, PaginationConfig={"PageSize": 90}
        )
        sizes = []
        read = []
        for page in pages:
            sizes.append(len(page["events"]))
            read += [event["id"] for event in page["events"]]
        assert (sizes, read) == ([90, 90, 70], list(ids))
    # And one event newest first is the execution's end
    newest = sfn.get_execution_history(executionArn=execution, maxResults=1, reverseOrder=True)
    assert [event["type"] for event in newest["events"]] == ["ExecutionFailed"]

    # When a token is passed with another order, or is not a token, or the page is too large
    for kwargs in (
        {"nextToken": first["nextToken"], "reverseOrder": True},
        {"nextToken": "not-a-token"},
        {"maxResults": 1001},
    ):
        with pytest.raises(ClientError) as raised:
            sfn.get_execution_history(executionArn=execution, **kwargs)
        # Then it is refused as AWS refuses it
        expected = "ValidationException" if "maxResults" in kwargs else "InvalidToken"
        assert error_code(raised) == expected, kwargs


def test_a_history_token_stays_right_while_the_execution_adds_events() -> None:
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext, EventManager

    from cfcd.local.stepfunctions_history import history_page

    # Given a running execution's first page of 2 events in each order
    manager = EventManager()
    context = EventHistoryContext.of_program_start()
    for _ in range(5):
        manager.add_event(context, HistoryEventType.PassStateEntered)
    oldest = history_page(manager, "arn:run", 2, reverse=False, next_token=None)
    newest = history_page(manager, "arn:run", 2, reverse=True, next_token=None)

    # When it adds events before the next pages are read
    manager.add_event(context, HistoryEventType.PassStateExited)
    manager.add_event(context, HistoryEventType.ExecutionSucceeded)

    # Then each next page goes on where the first ended
    after_oldest = history_page(manager, "arn:run", 10, reverse=False, next_token=oldest["nextToken"])
    after_newest = history_page(manager, "arn:run", 10, reverse=True, next_token=newest["nextToken"])
    assert [event["id"] for event in after_oldest["events"]] == [3, 4, 5, 6, 7]
    assert [event["id"] for event in after_newest["events"]] == [3, 2, 1]
    assert "nextToken" not in after_oldest and "nextToken" not in after_newest


def test_states_all_catches_no_oversized_result_but_a_catcher_naming_it_does(
    running_executions: None,
) -> None:
    # Given a task whose result passes 256 KiB, caught by States.ALL or by name
    oversized = InvokeResult(json.dumps({"blob": "x" * 300_000}).encode())
    caught_by = {
        name: {
            "StartAt": "Fetch",
            "States": {
                "Fetch": lambda_task(
                    f"fetch-{name}", Catch=[{"ErrorEquals": [error], "Next": "Caught"}], End=True
                ),
                "Caught": {"Type": "Pass", "End": True},
            },
        }
        for name, error in (("all", "States.ALL"), ("named", "States.DataLimitExceeded"))
    }

    # When each runs
    runs = {
        name: run_with_function(definition, ScriptedRuntime(f"fetch-{name}", [oversized]))
        for name, definition in caught_by.items()
    }

    # Then States.ALL let the execution fail States.DataLimitExceeded; the named catcher caught it
    sfn = client("stepfunctions")
    failed = sfn.describe_execution(executionArn=runs["all"])
    assert (failed["status"], failed["error"]) == ("FAILED", "States.DataLimitExceeded")
    assert sfn.describe_execution(executionArn=runs["named"])["status"] == "SUCCEEDED"


class FirstTryFails(ScriptedRuntime):
    """Fails the first invoke of each execution (the payload names it), answers the others."""

    def __init__(self, name: str) -> None:
        super().__init__(name, [SUCCEEDS])
        self.tries: collections.Counter[str] = collections.Counter()

    def invoke(self, name: str, payload: bytes) -> InvokeResult:
        execution = json.loads(payload)["execution"]
        self.tries[execution] += 1
        return FAILS if self.tries[execution] == 1 else SUCCEEDS


def test_executions_of_one_definition_share_its_parsed_program_and_keep_their_own_retries(
    running_executions: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    # Given a state machine whose task fails at first, then succeeds when retried (one retry)
    task = lambda_task(
        "flaky-once", Retry=[{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1}], End=True
    )
    task["Parameters"]["Payload"] = {"execution.$": "$$.Execution.Name"}
    runtime = FirstTryFails("flaky-once")
    parses: list[str] = []
    parse = AmazonStateLanguageParser.parse

    def counted_parse(text: str) -> Any:
        parses.append(text)
        time.sleep(0.3)  # as long as cfcd's definition takes: the other execution asks meanwhile
        return parse(text)

    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(counted_parse))
    machine = state_machine_with_function({"StartAt": "Flaky", "States": {"Flaky": task}}, runtime)

    # When two executions start at once
    lambda_runtime.activate(runtime)  # type: ignore[arg-type]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            executions = list(pool.map(lambda name: run_to_end(machine, name), ["first", "second"]))
    finally:
        lambda_runtime.activate(None)

    # Then the definition was parsed once, for its validation and both executions
    assert len(parses) == 1
    # And each execution had its own retry: neither found the other's attempt spent
    sfn = client("stepfunctions")
    assert [sfn.describe_execution(executionArn=arn)["status"] for arn in executions] == ["SUCCEEDED"] * 2
    assert runtime.tries == {"first": 2, "second": 2}


@pytest.mark.parametrize(
    "definition", ['{"StartAt": "P", "States": {"P": {"Type": "Bogus"}}}', "{not json"], ids=["state", "json"]
)
def test_a_definition_that_does_not_parse_is_refused_as_moto_refuses_it(
    running_executions: None, monkeypatch: pytest.MonkeyPatch, definition: str
) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    def refusal() -> dict[str, Any]:
        with pytest.raises(ClientError) as refused:
            client("stepfunctions").create_state_machine(name="bad", definition=definition, roleArn=ROLE)
        return dict(refused.value.response["Error"])

    # When a state machine is made of a definition moto's parser refuses, validated as cfcd
    # validates it and as moto does
    ours = refusal()
    mototh = StepFunctionsParserBackend._validate_definition.__wrapped__  # type: ignore[attr-defined]
    monkeypatch.setattr(StepFunctionsParserBackend, "_validate_definition", staticmethod(mototh))

    # Then both refuse it alike, naming what the parser found
    assert ours == refusal()
    assert "ASLParserException" in ours["Message"]


def test_moto_modules_are_listed_once_and_as_moto_lists_them() -> None:
    import moto
    import moto.backends

    package = Path(moto.__file__).parent
    listed = {entry.name for entry in package.iterdir() if entry.is_dir() and not entry.name.startswith("__")}

    assert set(moto.backends.list_of_moto_modules()) == listed
    assert {"cloudfront", "stepfunctions", "awslambda"} <= listed


def test_moto_s_ec2_regions_are_boto3_s_and_the_listing_is_boto3_s_again_after_the_import() -> None:
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

    # Given moto_patches installed (moto's EC2 module imported while one session listed regions)
    moto_patches.install()
    session = boto3.session.Session()
    listed = [
        *session.get_available_regions("ec2"),
        *session.get_available_regions("ec2", partition_name="aws-us-gov"),
        *session.get_available_regions("ec2", partition_name="aws-cn"),
    ]

    # Then moto's regions are those boto3 lists, and boto3 lists with its own method again
    assert [region.name for region in RegionsAndZonesBackend.regions] == listed
    assert boto3.session.Session.get_available_regions.__module__ == "boto3.session"


def test_while_moto_imports_its_ec2_module_new_sessions_read_ec2_s_model_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a count of the EC2 service models read from disk
    models_read: list[str] = []
    load_file = botocore.loaders.JSONFileLoader.load_file

    def counted(self: Any, file_path: str) -> Any:
        if "/ec2/" in file_path and file_path.endswith("service-2"):
            models_read.append(file_path)
        return load_file(self, file_path)

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", counted)

    def three_lists() -> list[list[str]]:
        # as moto's RegionsAndZonesBackend asks: a new session for each partition
        return [
            boto3.session.Session().get_available_regions("ec2", partition_name=partition)
            for partition in ("aws", "aws-us-gov", "aws-cn")
        ]

    # When three new sessions list the regions while moto's EC2 module is imported
    with moto_patches.regions_listed_by_one_session():
        lists = three_lists()
    once = len(models_read)

    # Then EC2's model was read once, and the lists are those new sessions make on their own
    assert once == 1
    assert lists == three_lists()
    assert len(models_read) == once + 3


@pytest.mark.parametrize(
    ("module", "original"),
    [
        ("moto.stepfunctions.parser.asl.utils.json_path", "jsonpath_ng.ext"),
        ("moto.stepfunctions.parser.asl.component.common.path.result_path", "jsonpath_ng"),
    ],
)
def test_a_jsonpath_is_compiled_once_and_finds_what_jsonpath_ng_finds(module: str, original: str) -> None:
    parse = importlib.import_module(module).parse
    jsonpath_ng_parse = importlib.import_module(original).parse
    document = {"release": {"steps": [{"weight": 0.05}, {"weight": 0.1}]}, "name": "v2"}

    # Given a path compiled once, When it is asked for again, from eight threads at once
    first = parse("$.release.steps[1].weight")
    with ThreadPoolExecutor(max_workers=8) as pool:
        again = set(map(id, pool.map(lambda _: parse("$.release.steps[1].weight"), range(8))))

    # Then each time it is the same compiled path, and it finds and updates as jsonpath_ng's own
    assert again == {id(first)}
    for path in ("$.release.steps[1].weight", "$.name", "$.release.steps[*].weight"):
        expected = [match.value for match in jsonpath_ng_parse(path).find(document)]
        assert [match.value for match in parse(path).find(document)] == expected, path
    assert parse("$.result").update_or_create({}, 1) == jsonpath_ng_parse("$.result").update_or_create({}, 1)


def test_lambda_tasks_share_one_client_per_region(running_executions: None) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    # Given Lambda clients asked for by many executions at once
    def lambda_client(region: str) -> Any:
        client_for = lambda_eval_utils.boto_client_for  # type: ignore[attr-defined]
        return client_for(region=region, service="lambda", state_credentials=None)

    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda _: lambda_client("us-east-1"), range(8)))

    # Then they got one client; another region has its own
    assert len({id(each) for each in clients}) == 1
    assert lambda_client("eu-west-1") is not clients[0]

    # And executions' Lambda tasks still run on the local runtime through it
    runtime = ScriptedRuntime("step", [SUCCEEDS])
    two_tasks = {
        "StartAt": "A",
        "States": {"A": lambda_task("step", Next="B"), "B": lambda_task("step", End=True)},
    }
    machine = state_machine_with_function(two_tasks, runtime)
    lambda_runtime.activate(runtime)  # type: ignore[arg-type]
    try:
        runs = [run_to_end(machine, f"run-{number}") for number in range(2)]
    finally:
        lambda_runtime.activate(None)
    sfn = client("stepfunctions")
    assert [sfn.describe_execution(executionArn=run)["status"] for run in runs] == ["SUCCEEDED"] * 2
    assert runtime.invokes == 4


SERIALIZED_SERVICES = (
    "cloudfront",
    "stepfunctions",
    "dynamodb",
    "s3",
    "lambda",
    "cloudformation",
    "sns",
    "iam",
)


def member_contexts(shape: Any, seen: set[str]) -> Iterator[Any]:
    """Every member of ``shape`` and the shapes under it, as moto's serializer asks for it (each
    named shape once: some contain themselves)."""
    from moto.core.serialize import AttributePickerContext

    if shape.name in seen:
        return
    seen.add(shape.name)
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            member.parent = shape  # what _serialize_type_structure sets before it asks
            yield AttributePickerContext(obj={"Other": 1}, key=name, shape=member)
            yield from member_contexts(member, seen)
    elif shape.type_name == "list":
        yield from member_contexts(shape.member, seen)
    elif shape.type_name == "map":
        yield from member_contexts(shape.value, seen)


def test_the_keys_tried_for_a_dict_member_are_moto_s_own_worked_out_once() -> None:
    from moto.core.serialize import XFormedAttributePicker
    from moto.core.utils import get_service_model

    picker = XFormedAttributePicker()
    mototh = XFormedAttributePicker.get_possible_keys.__wrapped__  # type: ignore[attr-defined]
    # Given every member of every response of the services the local cloud serves
    contexts = [
        context
        for service in SERIALIZED_SERVICES
        for operation in get_service_model(service).operation_names
        if (output := get_service_model(service).operation_model(operation).output_shape) is not None
        for context in member_contexts(output, set())
    ]
    assert len(contexts) > 5000

    # When their keys are asked for twice, Then both times they are moto's, in moto's order
    for context in contexts * 2:
        assert tuple(picker.get_possible_keys(context)) == tuple(mototh(picker, context)), context.key


def test_a_response_serializes_as_moto_serializes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.serialize import ResponseSerializer, RestXMLSerializer, XFormedAttributePicker

    # Given distributions in the CloudFront emulator and an execution in Step Functions
    cloudfront = client("cloudfront")
    for number in range(3):
        cloudfront.create_distribution(DistributionConfig=distribution_config(f"ref-{number}"))
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(
        name="m",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
    )

    def answers() -> list[Any]:
        return [
            cloudfront.list_distributions()["DistributionList"],
            sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"]),
            client("iam").list_roles(),
        ]

    # When they are read with the keys worked out once and dict members picked directly, and
    # with moto's own picking
    once = answers()
    mototh = XFormedAttributePicker.get_possible_keys.__wrapped__  # type: ignore[attr-defined]
    monkeypatch.setattr(XFormedAttributePicker, "get_possible_keys", mototh)
    monkeypatch.setattr(ResponseSerializer, "get_value", ResponseSerializer.get_value.__wrapped__)  # type: ignore[attr-defined]
    monkeypatch.setattr(RestXMLSerializer, "_serialize_body", RestXMLSerializer._serialize_body.__wrapped__)  # type: ignore[attr-defined]
    own = answers()

    # Then the answers are the same
    for answer in (*once, *own):
        answer.pop("ResponseMetadata", None)
    assert once == own


def test_cloudfront_s_bodies_are_written_directly_as_xmltodict_writes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.core.serialize import RestXMLSerializer

    from cfcd.local import xml_bodies
    from tests.unit.local.test_xml_bodies import xmltodicts

    # Given every body CloudFront's serializer writes, and whether it was written directly
    bodies: list[tuple[Any, bool]] = []
    written = RestXMLSerializer._serialize_body

    def recorded(serializer: Any, body: Any) -> str:
        try:
            xml_bodies.unparse(body)
            bodies.append((body, True))
        except xml_bodies.NotPlain:
            bodies.append((body, False))
        return written(serializer, body)

    monkeypatch.setattr(RestXMLSerializer, "_serialize_body", recorded)

    # When a distribution, its staging copy, a policy and an invalidation are made, read and listed
    cloudfront = client("cloudfront")
    made = make_primary(cloudfront, "xml")
    staging = make_staging(cloudfront, made["Id"], "xml-staging")
    cloudfront.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"], value='staging <&> "x"')
    )
    cloudfront.create_invalidation(
        DistributionId=made["Id"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "xml"},
    )
    cloudfront.get_distribution_config(Id=made["Id"])
    cloudfront.list_distributions()
    cloudfront.list_continuous_deployment_policies()
    cloudfront.list_invalidations(DistributionId=made["Id"])

    # Then each was written directly, and is what xmltodict writes
    assert len(bodies) >= 8
    for body, direct in bodies:
        assert direct, body
        assert xml_bodies.unparse(body) == xmltodicts(body)


def test_a_dict_member_is_picked_as_moto_picks_it() -> None:
    from moto.core.serialize import ResponseSerializer, XFormedAttributePicker
    from moto.core.utils import get_service_model

    moto_patches.install()
    operation = get_service_model("cloudfront").operation_model("GetDistribution")
    distribution = operation.output_shape.members["Distribution"]
    plain = ResponseSerializer(operation, value_picker=XFormedAttributePicker())
    bracketing = XFormedAttributePicker(response_transformers={"Id": lambda value: f"<{value}>"})
    transformed = ResponseSerializer(operation, value_picker=bracketing)
    for member in distribution.members.values():
        member.parent = distribution  # what moto's serializer sets before it asks
    mototh = ResponseSerializer.get_value.__wrapped__  # type: ignore[attr-defined]

    # Given results that hold a member, hold it as None, lack it, or hold it under moto's
    # snake_case alias; a dict subclass; a picker with a response transformer
    results: list[Any] = [
        {"Id": "E1", "Status": None},
        {"id": "E2", "last_modified_time": "t"},
        {},
        collections.OrderedDict(Id="E3"),
    ]
    for serializer in (plain, transformed):
        for result in results:
            for key, member in distribution.members.items():
                # When a member is picked twice (its keys worked out, then known)
                # Then it is what moto picks
                for _ in range(2):
                    picked = serializer.get_value(result, key, member)
                    assert picked == mototh(serializer, result, key, member)


class OneFunctionRuntime:
    def __init__(self, name: str) -> None:
        self.name = name
        self.payloads: list[bytes] = []

    def has_function(self, name: str) -> bool:
        return name == self.name

    def invoke(self, name: str, payload: bytes) -> InvokeResult:
        self.payloads.append(payload)
        return InvokeResult(b'{"errorType": "ProbeFailed"}', "Unhandled")


def test_lambda_invoke_of_a_registered_function_runs_on_the_local_runtime() -> None:
    # Given a function the local runtime runs
    lambda_client = client("lambda")
    role = client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_client.create_function(
        FunctionName="probe", Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": b"PK"}
    )
    runtime = OneFunctionRuntime("probe")
    lambda_runtime.activate(runtime)  # type: ignore[arg-type]
    try:
        # When it is invoked
        answer = lambda_client.invoke(FunctionName="probe", Payload=b'{"n": 1}')
    finally:
        lambda_runtime.activate(None)

    # Then the runtime answered, as Lambda reports a failed function
    assert runtime.payloads == [b'{"n": 1}']
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read()) == {"errorType": "ProbeFailed"}


def state_machine(name: str) -> str:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    created = client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE
    )
    return str(created["stateMachineArn"])


def test_eventbridge_rule_starts_its_state_machine_target() -> None:
    # Given a rule whose target is a state machine
    events = client("events")
    machine = state_machine("on-release")
    events.put_rule(Name="release", EventPattern=json.dumps({"source": ["cfcd"]}))
    events.put_targets(Rule="release", Targets=[{"Id": "sm", "Arn": machine, "RoleArn": ROLE}])

    # When a matching event is put
    events.put_events(Entries=[{"Source": "cfcd", "DetailType": "Release", "Detail": "{}"}])

    # Then the state machine runs once
    assert len(client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]) == 1


def test_ended_execution_puts_its_status_change_on_the_default_bus() -> None:
    # Given executions that really run, and a rule sending status changes to a queue
    with mocked_aws(execute_state_machine=True):
        events, sqs = client("events"), client("sqs")
        queue_url = sqs.create_queue(QueueName="status")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        events.put_rule(Name="status", EventPattern=json.dumps({"source": ["aws.states"]}))
        events.put_targets(
            Rule="status", Targets=[{"Id": "queue", "Arn": attributes["Attributes"]["QueueArn"]}]
        )

        # When an execution ends
        client("stepfunctions").start_execution(stateMachineArn=state_machine("ends"), name="one")
        deadline = time.monotonic() + 10
        messages: list[Any] = []
        while not messages and time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])

    # Then its "Step Functions Execution Status Change" event arrived
    assert messages, "no status change event before the deadline"
    event = json.loads(messages[0]["Body"])
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["detail"]["status"] == "SUCCEEDED"


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[Path]:
    mail.activate(tmp_path / "mail")
    client("ses").verify_email_identity(EmailAddress="cfcd@example.com")
    client("sesv2").create_email_identity(EmailIdentity="cfcd@example.com")
    yield tmp_path
    mail.deactivate()


def subjects(state_dir: Path) -> list[str]:
    return [summary.subject for summary in mail.list_mail(state_dir)]


def test_sns_publish_is_captured(mailbox: Path) -> None:
    sns = client("sns")
    topic = sns.create_topic(Name="approvals")["TopicArn"]

    sns.publish(TopicArn=topic, Subject="Approve 2.0.0", Message="please")

    assert subjects(mailbox) == ["Approve 2.0.0"]


def test_ses_send_email_is_captured(mailbox: Path) -> None:
    client("ses").send_email(
        Source="cfcd@example.com",
        Destination={"ToAddresses": ["ana@example.com"]},
        Message={"Subject": {"Data": "Released 2.0.0"}, "Body": {"Text": {"Data": "done"}}},
    )

    assert subjects(mailbox) == ["Released 2.0.0"]


def test_ses_send_raw_email_is_captured(mailbox: Path) -> None:
    raw = b"From: cfcd@example.com\r\nTo: ana@example.com\r\nSubject: Raw 2.0.0\r\n\r\nbody\r\n"

    client("ses").send_raw_email(RawMessage={"Data": raw})

    assert subjects(mailbox) == ["Raw 2.0.0"]


def test_sesv2_send_email_is_captured(mailbox: Path) -> None:
    client("sesv2").send_email(
        FromEmailAddress="cfcd@example.com",
        Destination={"ToAddresses": ["ana@example.com"]},
        Content={"Simple": {"Subject": {"Data": "Rejected 2.0.0"}, "Body": {"Html": {"Data": "<p>no</p>"}}}},
    )

    assert subjects(mailbox) == ["Rejected 2.0.0"]


def test_describe_stack_resources_by_physical_id_leaves_a_failed_stack_alone() -> None:
    # Given the site stack, and a staging stack whose policy CloudFront refused (weight 0.5)
    # after its staging distribution was created
    cfn, _, distribution_id = site_stack()
    refused = (
        (EXAMPLES / "staging-header.yaml")
        .read_text()
        .replace(
            "Type: SingleHeader\n          SingleHeaderConfig:\n"
            "            Header: aws-cf-cd-env\n            Value: staging",
            "Type: SingleWeight\n          SingleWeightConfig:\n            Weight: 0.5",
        )
    )
    parameters = {
        "PrimaryDistributionId": distribution_id,
        "StaticResourceBucketName": "site",
        "OriginAccessControlId": "E3OACEXAMPLE01",
        "OriginPath": "/2.0.0",
    }
    with pytest.raises(ClientError, match="weight"):
        cfn.create_stack(
            StackName="refused",
            TemplateBody=refused,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )

    other = client("cloudfront").create_distribution(DistributionConfig=distribution_config("no-stack"))

    # When the stacks of the site's distribution and of one no stack made are looked up
    found = cfn.describe_stack_resources(PhysicalResourceId=distribution_id)["StackResources"]
    with pytest.raises(ClientError) as raised:
        cfn.describe_stack_resources(PhysicalResourceId=other["Distribution"]["Id"])

    # Then the answers are as without the failed stack: its refused policy is not provisioned
    # again on the way (which would answer CloudFront's InvalidArgument instead)
    assert [r["StackName"] for r in found] == ["site"]
    assert error_code(raised) == "ValidationError"
