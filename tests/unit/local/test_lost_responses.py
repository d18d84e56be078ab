"""Lost responses: ``when="after"`` faults let every AWS write the workflow makes take effect, then fail.

Each write is made through a real boto3 client against the local cloud's endpoint, as the
workflow's Lambdas make it. Also here: the edge fault that sends all traffic to the primary,
driven through the control API.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cfcd.local.cloud import LocalCloud, LocalCloudInfo
from cfcd.local.faults import FaultsClient
from cfcd.local.mail import list_mail
from tests.unit.local.test_cloudfront_policies import distribution_config, header_policy

pytestmark = pytest.mark.unit

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
ROLE = "arn:aws:iam::123456789012:role/cfcd-test"
SENDER = "cfcd@example.com"


@dataclass
class Account:
    """Real boto3 clients of the local cloud, and where its mail lands."""

    info: LocalCloudInfo
    state_dir: Path
    config: Config | None = NO_RETRIES

    def __call__(self, service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.info.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=self.config,
        )

    def subjects(self) -> list[str]:
        return [summary.subject for summary in list_mail(self.state_dir)]


@pytest.fixture
def aws(cloud: LocalCloud, info: LocalCloudInfo) -> Account:
    return Account(info, cloud.state_dir)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- one AWS write each: make it, then tell whether it took effect ---------------------------------


@dataclass
class Write:
    """A write of the workflow: ``prepare`` what it needs, ``make`` it, ``took_effect`` after."""

    service: str
    operation: str
    prepare: Callable[[Account], dict[str, Any]]
    make: Callable[[Account, dict[str, Any]], Any]
    took_effect: Callable[[Account, dict[str, Any]], bool]

    @property
    def id(self) -> str:
        return self.operation


def new_primary(aws: Account) -> dict[str, Any]:
    created = aws("cloudfront").create_distribution(DistributionConfig=distribution_config(unique("primary")))
    return {"primary": created["Distribution"]["Id"], "etag": created["ETag"]}


def with_staging(aws: Account) -> dict[str, Any]:
    context = new_primary(aws)
    copied = aws("cloudfront").copy_distribution(
        PrimaryDistributionId=context["primary"],
        Staging=True,
        IfMatch=context["etag"],
        CallerReference=unique("s"),
    )
    distribution = copied["Distribution"]
    return {**context, "staging": distribution["Id"], "staging_domain": distribution["DomainName"]}


def with_policy(aws: Account) -> dict[str, Any]:
    context = with_staging(aws)
    created = aws("cloudfront").create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(context["staging_domain"])
    )
    return {**context, "policy": created["ContinuousDeploymentPolicy"]["Id"], "policy_etag": created["ETag"]}


def with_attached_policy(aws: Account) -> dict[str, Any]:
    context = with_policy(aws)
    cloudfront = aws("cloudfront")
    staging = cloudfront.get_distribution_config(Id=context["staging"])
    staged = {**staging["DistributionConfig"], "Comment": "release 2.0.0"}
    staging_etag = cloudfront.update_distribution(
        Id=context["staging"], IfMatch=staging["ETag"], DistributionConfig=staged
    )["ETag"]
    primary = cloudfront.get_distribution_config(Id=context["primary"])
    attached = {**primary["DistributionConfig"], "ContinuousDeploymentPolicyId": context["policy"]}
    primary_etag = cloudfront.update_distribution(
        Id=context["primary"], IfMatch=primary["ETag"], DistributionConfig=attached
    )["ETag"]
    return {**context, "etags": f"{primary_etag}, {staging_etag}"}


def comment_of(aws: Account, distribution_id: str) -> str:
    return str(aws("cloudfront").get_distribution_config(Id=distribution_id)["DistributionConfig"]["Comment"])


def update_comment(aws: Account, context: dict[str, Any]) -> Any:
    current = aws("cloudfront").get_distribution_config(Id=context["primary"])
    changed = {**current["DistributionConfig"], "Comment": "changed"}
    return aws("cloudfront").update_distribution(
        Id=context["primary"], IfMatch=current["ETag"], DistributionConfig=changed
    )


def policy_targets(aws: Account) -> list[str]:
    """The staging domain every continuous deployment policy of the account routes to."""
    listed = aws("cloudfront").list_continuous_deployment_policies()["ContinuousDeploymentPolicyList"]
    configs = [
        entry["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"]
        for entry in listed.get("Items", [])
    ]
    return [name for config in configs for name in config["StagingDistributionDnsNames"]["Items"]]


def policy_enabled(aws: Account, policy_id: str) -> bool:
    config = aws("cloudfront").get_continuous_deployment_policy_config(Id=policy_id)
    return bool(config["ContinuousDeploymentPolicyConfig"]["Enabled"])


def disable_policy(aws: Account, context: dict[str, Any]) -> Any:
    config = {**header_policy(context["staging_domain"]), "Enabled": False}
    return aws("cloudfront").update_continuous_deployment_policy(
        Id=context["policy"], IfMatch=context["policy_etag"], ContinuousDeploymentPolicyConfig=config
    )


def stagings_of(aws: Account, context: dict[str, Any]) -> list[str]:
    listed = aws("cloudfront").list_distributions()["DistributionList"].get("Items", [])
    return [
        summary["Id"] for summary in listed if summary["Staging"] and summary["Id"] != context.get("staging")
    ]


def copy_staging(aws: Account, context: dict[str, Any]) -> Any:
    context["before"] = stagings_of(aws, context)
    return aws("cloudfront").copy_distribution(
        PrimaryDistributionId=context["primary"],
        Staging=True,
        IfMatch=context["etag"],
        CallerReference=unique("s"),
    )


def invalidations_of(aws: Account, distribution_id: str) -> int:
    return int(
        aws("cloudfront").list_invalidations(DistributionId=distribution_id)["InvalidationList"]["Quantity"]
    )


def topic_stack(topics: int) -> str:
    resources = {f"Topic{n}": {"Type": "AWS::SNS::Topic"} for n in range(topics)}
    return json.dumps({"Resources": resources})


def new_stack(aws: Account) -> dict[str, Any]:
    name = unique("stack")
    aws("cloudformation").create_stack(StackName=name, TemplateBody=topic_stack(1), RoleARN=ROLE)
    return {"stack": name}


def stack_resources(aws: Account, name: str) -> int:
    try:
        return len(aws("cloudformation").describe_stack_resources(StackName=name)["StackResources"])
    except ClientError:
        return 0


def new_table(aws: Account) -> dict[str, Any]:
    name = unique("table")
    aws("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    aws("dynamodb").put_item(TableName=name, Item={"pk": {"S": "existing"}, "state": {"S": "old"}})
    return {"table": name}


def item(aws: Account, table: str, key: str) -> dict[str, Any] | None:
    found: dict[str, Any] = aws("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True
    )
    return found.get("Item")


def new_topic(aws: Account) -> dict[str, Any]:
    topic = aws("sns").create_topic(Name=unique("approvals"))["TopicArn"]
    aws("sns").subscribe(TopicArn=topic, Protocol="email", Endpoint="ana@example.com")
    return {"topic": topic, "subject": unique("Approve")}


def new_sender(aws: Account) -> dict[str, Any]:
    aws("sesv2").create_email_identity(EmailIdentity=SENDER)
    return {"subject": unique("Released")}


def waiting_execution(aws: Account) -> dict[str, Any]:
    """An execution waiting for its task token, which it sent to a queue."""
    sqs = aws("sqs")
    queue_url = sqs.create_queue(QueueName=unique("tokens"))["QueueUrl"]
    definition = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    machine = aws("stepfunctions").create_state_machine(
        name=unique("approve"), definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    execution = aws("stepfunctions").start_execution(stateMachineArn=machine)["executionArn"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            return {"execution": execution, "token": json.loads(messages[0]["Body"])["token"]}
    raise AssertionError("the execution sent no task token before the deadline")


def execution_status(aws: Account, execution: str, wanted: str) -> bool:
    """Has the execution ended ``wanted``? An applied task answer ends it within moments."""
    deadline = time.monotonic() + 3
    status = ""
    while time.monotonic() < deadline:
        status = aws("stepfunctions").describe_execution(executionArn=execution)["status"]
        if status != "RUNNING":
            break
        time.sleep(0.1)
    return bool(status == wanted)


def new_bucket(aws: Account) -> dict[str, Any]:
    bucket = unique("site")
    aws("s3").create_bucket(Bucket=bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    return {"bucket": bucket, "policy": json.dumps(policy)}


def bucket_policy(aws: Account, bucket: str) -> str | None:
    try:
        return str(aws("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError:
        return None


WRITES = [
    Write(
        "cloudfront",
        "CopyDistribution",
        new_primary,
        copy_staging,
        lambda aws, context: len(stagings_of(aws, context)) == len(context["before"]) + 1,
    ),
    Write(
        "cloudfront",
        "UpdateDistribution",
        new_primary,
        update_comment,
        lambda aws, c: comment_of(aws, c["primary"]) == "changed",
    ),
    Write(
        "cloudfront",
        "CreateContinuousDeploymentPolicy",
        with_staging,
        lambda aws, c: aws("cloudfront").create_continuous_deployment_policy(
            ContinuousDeploymentPolicyConfig=header_policy(c["staging_domain"])
        ),
        lambda aws, c: c["staging_domain"] in policy_targets(aws),
    ),
    Write(
        "cloudfront",
        "UpdateContinuousDeploymentPolicy",
        with_policy,
        disable_policy,
        lambda aws, c: not policy_enabled(aws, c["policy"]),
    ),
    Write(
        "cloudfront",
        "UpdateDistributionWithStagingConfig",
        with_attached_policy,
        lambda aws, c: aws("cloudfront").update_distribution_with_staging_config(
            Id=c["primary"], StagingDistributionId=c["staging"], IfMatch=c["etags"]
        ),
        lambda aws, c: comment_of(aws, c["primary"]) == "release 2.0.0",
    ),
    Write(
        "cloudfront",
        "CreateInvalidation",
        new_primary,
        lambda aws, c: aws("cloudfront").create_invalidation(
            DistributionId=c["primary"],
            InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "release"},
        ),
        lambda aws, c: invalidations_of(aws, c["primary"]) == 1,
    ),
    Write(
        "cloudformation",
        "CreateStack",
        lambda aws: {"stack": unique("stack")},
        lambda aws, c: aws("cloudformation").create_stack(
            StackName=c["stack"], TemplateBody=topic_stack(1), RoleARN=ROLE
        ),
        lambda aws, c: stack_resources(aws, c["stack"]) == 1,
    ),
    Write(
        "cloudformation",
        "UpdateStack",
        new_stack,
        lambda aws, c: aws("cloudformation").update_stack(StackName=c["stack"], TemplateBody=topic_stack(2)),
        lambda aws, c: stack_resources(aws, c["stack"]) == 2,
    ),
    Write(
        "dynamodb",
        "PutItem",
        new_table,
        lambda aws, c: aws("dynamodb").put_item(
            TableName=c["table"], Item={"pk": {"S": "lock"}}, ConditionExpression="attribute_not_exists(pk)"
        ),
        lambda aws, c: item(aws, c["table"], "lock") is not None,
    ),
    Write(
        "dynamodb",
        "UpdateItem",
        new_table,
        lambda aws, c: aws("dynamodb").update_item(
            TableName=c["table"],
            Key={"pk": {"S": "existing"}},
            UpdateExpression="SET #s = :new",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":new": {"S": "new"}},
        ),
        lambda aws, c: (item(aws, c["table"], "existing") or {}).get("state") == {"S": "new"},
    ),
    Write(
        "dynamodb",
        "DeleteItem",
        new_table,
        lambda aws, c: aws("dynamodb").delete_item(TableName=c["table"], Key={"pk": {"S": "existing"}}),
        lambda aws, c: item(aws, c["table"], "existing") is None,
    ),
    Write(
        "sns",
        "Publish",
        new_topic,
        lambda aws, c: aws("sns").publish(TopicArn=c["topic"], Subject=c["subject"], Message="approve?"),
        lambda aws, c: c["subject"] in aws.subjects(),
    ),
    Write(
        "sesv2",
        "SendEmail",
        new_sender,
        lambda aws, c: aws("sesv2").send_email(
            FromEmailAddress=SENDER,
            Destination={"ToAddresses": ["ana@example.com"]},
            Content={"Simple": {"Subject": {"Data": c["subject"]}, "Body": {"Text": {"Data": "done"}}}},
        ),
        lambda aws, c: c["subject"] in aws.subjects(),
    ),
    Write(
        "stepfunctions",
        "SendTaskSuccess",
        waiting_execution,
        lambda aws, c: aws("stepfunctions").send_task_success(taskToken=c["token"], output="{}"),
        lambda aws, c: execution_status(aws, c["execution"], "SUCCEEDED"),
    ),
    Write(
        "stepfunctions",
        "SendTaskFailure",
        waiting_execution,
        lambda aws, c: aws("stepfunctions").send_task_failure(
            taskToken=c["token"], error="Rejected", cause="no"
        ),
        lambda aws, c: execution_status(aws, c["execution"], "FAILED"),
    ),
    Write(
        "s3",
        "PutBucketPolicy",
        new_bucket,
        lambda aws, c: aws("s3").put_bucket_policy(Bucket=c["bucket"], Policy=c["policy"]),
        lambda aws, c: bucket_policy(aws, c["bucket"]) is not None,
    ),
]


@pytest.mark.parametrize("when", ["after", "before"])
@pytest.mark.parametrize("write", WRITES, ids=lambda write: write.id)
def test_a_fault_after_the_write_loses_its_response_one_before_prevents_it(
    aws: Account, faults: FaultsClient, write: Write, when: Literal["before", "after"]
) -> None:
    # Given what the write needs, and a fault set for it
    context = write.prepare(aws)
    faults.inject(write.service, write.operation, "ServiceUnavailable", 503, when=when)

    # When the write is made
    with pytest.raises(ClientError) as failed:
        write.make(aws, context)

    # Then the caller got the error either way; the write took effect only if the fault came after
    assert failed.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert write.took_effect(aws, context) is (when == "after")
    assert faults.pending() == []


def test_boto3_retry_of_a_lost_copy_sees_the_copy_it_made(aws: Account, faults: FaultsClient) -> None:
    # Given boto3's own retries, and the answer to a CopyDistribution lost once with a retryable 503
    retrying = Account(aws.info, aws.state_dir, config=None)
    context = new_primary(retrying)
    faults.inject("cloudfront", "CopyDistribution", "ServiceUnavailable", 503, when="after")

    # When the copy is made once by the caller, Then boto3's retry finds the caller reference taken
    with pytest.raises(ClientError) as retried:
        copy_staging(retrying, context)
    assert retried.value.response["Error"]["Code"] == "DistributionAlreadyExists"
    assert len(stagings_of(retrying, context)) == len(context["before"]) + 1
    copies = [call for call in faults.calls() if call.operation == "CopyDistribution"]
    assert len(copies) == 2


def test_a_write_refused_for_its_own_reason_keeps_the_lost_response_pending(
    aws: Account, faults: FaultsClient
) -> None:
    context = new_table(aws)
    faults.inject("dynamodb", "PutItem", "ServiceUnavailable", 503, when="after")
    put = {
        "TableName": context["table"],
        "Item": {"pk": {"S": "existing"}},
        "ConditionExpression": "attribute_not_exists(pk)",
    }

    with pytest.raises(ClientError) as refused:
        aws("dynamodb").put_item(**put)

    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert [(fault.operation, fault.count, fault.when) for fault in faults.pending()] == [
        ("PutItem", 1, "after")
    ]


def edge_text(info: LocalCloudInfo, host: str, headers: dict[str, str]) -> str:
    request = urllib.request.Request(info.edge_endpoint + "/", headers={"Host": host, **headers})
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


def test_edge_fault_sends_all_traffic_to_the_primary(
    aws: Account, info: LocalCloudInfo, faults: FaultsClient
) -> None:
    # Given a primary serving release 1.0.0 and a header policy to a staging copy serving 2.0.0
    assert info.site is not None
    cloudfront = aws("cloudfront")
    primary = cloudfront.get_distribution_config(Id=info.site.primary_distribution_id)
    primary_config = {**primary["DistributionConfig"], "CallerReference": unique("edge")}
    created = cloudfront.create_distribution(
        DistributionConfig={**primary_config, "Aliases": {"Quantity": 0}}
    )
    context = {"primary": created["Distribution"]["Id"], "etag": created["ETag"]}
    staging = copy_staging(aws, context)["Distribution"]
    staged = cloudfront.get_distribution_config(Id=staging["Id"])
    staged_config = staged["DistributionConfig"]
    staged_config["Origins"]["Items"][0]["OriginPath"] = "/2.0.0"
    cloudfront.update_distribution(Id=staging["Id"], IfMatch=staged["ETag"], DistributionConfig=staged_config)
    policy = cloudfront.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
    )["ContinuousDeploymentPolicy"]["Id"]
    current = cloudfront.get_distribution_config(Id=context["primary"])
    attached = {**current["DistributionConfig"], "ContinuousDeploymentPolicyId": policy}
    cloudfront.update_distribution(
        Id=context["primary"], IfMatch=current["ETag"], DistributionConfig=attached
    )
    host, to_staging = created["Distribution"]["DomainName"], {"aws-cf-cd-env": "staging"}
    assert "v2 App" in edge_text(info, host, to_staging)

    # When CloudFront sends all traffic to the primary, Then staging is not served until it stops
    faults.send_all_traffic_to_primary()
    assert "v1 App" in edge_text(info, host, to_staging)
    faults.clear_edge_faults()
    assert "v2 App" in edge_text(info, host, to_staging)
