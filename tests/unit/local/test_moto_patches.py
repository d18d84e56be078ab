"""Every moto patch is in place and does what it is for; another moto version is refused.

One test per patched attribute. Each runs the patched code through real boto3 clients on
``mock_aws`` (moto's in-process mode dispatches to the same response classes as its server).
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from cfcd.local import lambda_runtime, mail, moto_patches
from cfcd.local.faults import REGISTRY, Fault
from cfcd.local.lambda_runtime import InvokeResult
from tests.unit.local.test_cloudfront_policies import distribution_config

pytestmark = pytest.mark.unit

PATCHED = {
    "moto.core.responses.BaseResponse.call_action",
    "moto.s3.responses.S3Response.bucket_response",
    "moto.s3.responses.S3Response.key_response",
    "moto.cloudfront.urls.url_paths",
    "moto.cloudformation.parsing.get_model_map",
    "moto.cloudformation.models.CloudFormationBackend.update_stack",
    "moto.cloudformation.responses.CloudFormationResponse.create_stack",
    "moto.stepfunctions.responses.StepFunctionResponse.send_task_failure",
    "moto.awslambda.models.LambdaFunction.invoke",
    "moto.events.models.Rule.send_to_targets",
    "moto.stepfunctions.parser.backend.execution.BaseExecutionWorkerCommunication.terminated",
    "moto.sns.models.Topic.publish",
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
    with mock_aws():
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
    pyproject = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    assert f'"moto[server]=={moto_patches.MOTO_VERSION}"' in pyproject
    moto_patches.check_moto_version()


def test_every_patch_is_in_place() -> None:
    installed = moto_patches.installed()

    assert set(installed) == PATCHED
    for name, replacement in installed.items():
        current = resolve(name)
        if name.endswith("url_paths"):
            assert set(current.values()) == {replacement}
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
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
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
