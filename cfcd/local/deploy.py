"""Deploy ``template.yaml`` itself into the local endpoint: no second list of functions anywhere.

The SAM template is transformed offline with samtranslator, then its CloudFormation resources
are created one by one, in dependency order, through boto3 against the local endpoint. moto's own
CloudFormation cannot take the result (no ``AWS::Lambda::Url``, and a state machine it creates
lands outside the backend that executes), so this module is a small CloudFormation of its own.

Local artifacts (``CodeUri``, ``ContentUri``, ``DefinitionUri``) are swapped for placeholder S3
locations before the transform (samtranslator only accepts S3) and mapped back afterwards.
"""

from __future__ import annotations

import copy
import graphlib
import hashlib
import io
import json
import logging
import os
import secrets
import string
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from cfcd.client.cfn_template import IntrinsicResolver, ResourceState, parse_template, references
from cfcd.local import lambda_packages
from cfcd.local.lambda_runtime import FunctionSpec, LambdaRuntime
from cfcd.local.sessions import LocalClients

LOG = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"  # moto's default account, the one boto3 with test keys lands in
ARTIFACT_BUCKET = "cfcd-local-artifacts"
Json = Any


class DeployError(RuntimeError):
    pass


class FunctionUrlHost(Protocol):
    def serve(self, function_name: str) -> str:
        """Serve the function's URL on loopback; return it (ends with '/', like AWS)."""
        ...


# --- loading and transforming -----------------------------------------------------------------------


def load_template(path: Path) -> dict[str, Json]:
    return parse_template(path.read_text())


@dataclass
class LocalArtifacts:
    """S3 key placeholder -> the local path it stands for."""

    paths: dict[str, Path] = field(default_factory=dict)

    def path_for(self, location: Json) -> Path | None:
        if isinstance(location, dict) and location.get("S3Bucket", location.get("Bucket")) == ARTIFACT_BUCKET:
            return self.paths.get(str(location.get("S3Key", location.get("Key"))))
        return None


_ARTIFACT_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::StateMachine": "DefinitionUri",
}


def externalize_artifacts(
    template: dict[str, Json], base_dir: Path
) -> tuple[dict[str, Json], LocalArtifacts]:
    """Replace local artifact paths with placeholder S3 URIs samtranslator accepts."""
    prepared = copy.deepcopy(template)
    artifacts = LocalArtifacts()
    global_code_uri = prepared.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    for logical_id, resource in prepared.get("Resources", {}).items():
        prop = _ARTIFACT_PROPERTIES.get(resource.get("Type", ""))
        if prop is None:
            continue
        properties = resource.setdefault("Properties", {})
        local = properties.get(prop, global_code_uri if prop == "CodeUri" else None)
        if isinstance(local, str) and not local.startswith("s3://"):
            artifacts.paths[logical_id] = (base_dir / local).resolve()
            properties[prop] = f"s3://{ARTIFACT_BUCKET}/{logical_id}"
    return prepared, artifacts


class _NoIamPolicyLoader:
    """samtranslator asks IAM for managed policy ARNs only when its bundled map lacks a name."""

    def load(self) -> dict[str, str]:
        return {}


def transform(template: dict[str, Json], region: str, parameters: Mapping[str, Json]) -> dict[str, Json]:
    if "Transform" not in template:
        return copy.deepcopy(template)
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    from samtranslator.translator.transform import transform as sam_transform

    result: dict[str, Json] = sam_transform(copy.deepcopy(template), dict(parameters), _NoIamPolicyLoader())
    return result


def transformed(
    template_path: Path, region: str, parameter_overrides: Mapping[str, str]
) -> tuple[dict[str, Json], dict[str, Json], LocalArtifacts]:
    """The template as CloudFormation gets it after the SAM transform, its parameter values, and
    the local paths its artifact locations stand for."""
    source = load_template(template_path)
    parameters = _parameter_values(source.get("Parameters", {}), parameter_overrides)
    prepared, artifacts = externalize_artifacts(source, template_path.parent)
    return transform(prepared, region, parameters), parameters, artifacts


# --- the deployer ----------------------------------------------------------------------------------


@dataclass
class DeployResult:
    outputs: dict[str, str]
    resources: dict[str, ResourceState]
    functions: dict[str, str]  # logical id -> function name
    function_urls: dict[str, str]  # logical id of the AWS::Lambda::Url -> URL


def physical_name(stack_name: str, logical_id: str, max_length: int = 64) -> str:
    """Stable CloudFormation-style name: ``<stack>-<LogicalId>-<SUFFIX>``."""
    suffix = hashlib.sha1(f"{stack_name}/{logical_id}".encode()).hexdigest()[:10].upper()
    head = f"{stack_name}-{logical_id}"[: max_length - len(suffix) - 1]
    return f"{head}-{suffix}"


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "The local cloud runs this function's CodeUri directly.\n")
    return buffer.getvalue()


# Resource policies: nothing on the local cloud checks them.
_SKIPPED_QUIETLY = {
    "AWS::Lambda::Permission",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::IAM::Policy",
}


class Deployer:
    def __init__(
        self,
        clients: LocalClients,
        runtime: LambdaRuntime,
        function_urls: FunctionUrlHost,
        stack_name: str = "cfcd",
    ) -> None:
        self._clients = clients
        self._runtime = runtime
        self._function_urls = function_urls
        self._region = clients.region
        self._stack_name = stack_name
        self._layer_dirs: dict[str, tuple[Path, ...]] = {}
        self._artifacts = LocalArtifacts()
        self._functions: dict[str, str] = {}
        self._urls: dict[str, str] = {}

    def _client(self, service: str) -> Any:
        return self._clients.client(service)

    def deploy(
        self, template_path: Path, parameter_overrides: Mapping[str, str] | None = None
    ) -> DeployResult:
        template, parameters, self._artifacts = transformed(
            template_path, self._region, parameter_overrides or {}
        )
        resolver = IntrinsicResolver(
            parameters,
            template.get("Conditions", {}),
            template.get("Mappings", {}),
            self._region,
            self._stack_name,
            account_id=ACCOUNT_ID,
        )
        resources: dict[str, Json] = template.get("Resources", {})
        for logical_id in _creation_order(resources):
            definition = resources[logical_id]
            condition = definition.get("Condition")
            if condition is not None and not resolver.condition(condition):
                continue
            properties = resolver.resolve(definition.get("Properties", {}))
            resolver.resources[logical_id] = self._create(logical_id, definition["Type"], properties)
        outputs: dict[str, str] = {}
        for name, output in template.get("Outputs", {}).items():
            if "Condition" in output and not resolver.condition(output["Condition"]):
                continue
            outputs[name] = str(resolver.resolve(output["Value"]))
        return DeployResult(outputs, dict(resolver.resources), dict(self._functions), dict(self._urls))

    def _create(self, logical_id: str, resource_type: str, properties: dict[str, Json]) -> ResourceState:
        creator = {
            "AWS::Lambda::LayerVersion": self._layer_version,
            "AWS::IAM::Role": self._role,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::Url": self._function_url,
            "AWS::DynamoDB::Table": self._table,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::SES::EmailIdentity": self._email_identity,
            "AWS::Events::Rule": self._rule,
            "AWS::SQS::Queue": self._queue,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::Lambda::EventInvokeConfig": self._event_invoke_config,
            "AWS::SecretsManager::RotationSchedule": self._rotation_schedule,
        }.get(resource_type)
        if creator is None:
            log = LOG.debug if resource_type in _SKIPPED_QUIETLY else LOG.warning
            log("skipping %s (%s): the local cloud does not create this type", logical_id, resource_type)
            return ResourceState(ref=logical_id)
        LOG.debug("creating %s (%s)", logical_id, resource_type)
        return creator(logical_id, properties)

    def _layer_version(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        name = properties.get("LayerName") or physical_name(self._stack_name, logical_id, 140)
        response = self._client("lambda").publish_layer_version(
            LayerName=name,
            Content={"ZipFile": _dummy_zip()},
            CompatibleRuntimes=properties.get("CompatibleRuntimes", []),
        )
        arn = str(response["LayerVersionArn"])
        path = self._artifacts.path_for(properties.get("Content"))
        if path is None:
            raise DeployError(f"{logical_id}: only a local ContentUri can run locally")
        # `sam build` (BuildMethod python3.x) installs the layer's requirements.txt next to its code.
        requirements = path / "requirements.txt"
        installed = (lambda_packages.layer_requirements(requirements),) if requirements.exists() else ()
        self._layer_dirs[arn] = (path, *installed)
        return ResourceState(ref=arn, attributes={"LayerVersionArn": arn})

    def _role(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        iam = self._client("iam")
        name = properties.get("RoleName") or physical_name(self._stack_name, logical_id)
        role = iam.create_role(
            RoleName=name,
            Path=properties.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(properties.get("AssumeRolePolicyDocument", {})),
        )["Role"]
        for policy in properties.get("Policies", []):
            # IAM reads a document without Version as the 2008 language; moto insists on one.
            document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
            iam.put_role_policy(
                RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document)
            )
        for arn in properties.get("ManagedPolicyArns", []):
            try:
                iam.attach_role_policy(RoleName=name, PolicyArn=arn)
            except Exception as error:  # moto loads AWS managed policies only on request; nothing checks them
                LOG.debug("%s: managed policy %s not attached locally (%s)", logical_id, arn, error)
        return ResourceState(ref=name, attributes={"Arn": role["Arn"], "RoleId": role["RoleId"]})

    def _function(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        code_dir = self._artifacts.path_for(properties.get("Code"))
        if code_dir is None:
            raise DeployError(f"{logical_id}: only a local CodeUri can run locally")
        name = properties.get("FunctionName") or physical_name(self._stack_name, logical_id)
        environment = {k: str(v) for k, v in properties.get("Environment", {}).get("Variables", {}).items()}
        layers = [str(arn) for arn in properties.get("Layers", [])]
        timeout = int(properties.get("Timeout", 3))
        memory = int(properties.get("MemorySize", 128))
        response = self._client("lambda").create_function(
            FunctionName=name,
            Runtime=properties.get("Runtime", "python3.12"),
            Role=properties["Role"],
            Handler=properties["Handler"],
            Code={"ZipFile": _dummy_zip()},
            Timeout=timeout,
            MemorySize=memory,
            Environment={"Variables": environment},
            Layers=layers,
        )
        self._runtime.register(
            FunctionSpec(
                name=name,
                arn=str(response["FunctionArn"]),
                handler=str(properties["Handler"]),
                code_dir=code_dir,
                layer_dirs=tuple(path for arn in layers for path in self._layer_dirs.get(arn, ())),
                environment=environment,
                timeout_seconds=float(timeout),
                memory_mb=memory,
            )
        )
        self._functions[logical_id] = name
        return ResourceState(ref=name, attributes={"Arn": response["FunctionArn"]})

    def _function_url(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        target = str(properties["TargetFunctionArn"])
        function_name = target.rsplit(":", 1)[-1] if target.startswith("arn:") else target
        url = self._function_urls.serve(function_name)
        self._urls[logical_id] = url
        arn = f"arn:aws:lambda:{self._region}:{ACCOUNT_ID}:function:{function_name}"
        return ResourceState(ref=arn, attributes={"FunctionUrl": url, "FunctionArn": arn})

    def _table(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        dynamodb = self._client("dynamodb")
        name = properties.get("TableName") or physical_name(self._stack_name, logical_id, 255)
        arguments: dict[str, Json] = {
            "TableName": name,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": properties.get("BillingMode", "PROVISIONED"),
        }
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput"):
            if key in properties:
                arguments[key] = properties[key]
        if "StreamSpecification" in properties:
            view = properties["StreamSpecification"]["StreamViewType"]
            arguments["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        table = dynamodb.create_table(**arguments)["TableDescription"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        attributes = {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn", "")}
        return ResourceState(ref=name, attributes=attributes)

    def _topic(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        sns = self._client("sns")
        name = properties.get("TopicName") or physical_name(self._stack_name, logical_id, 256)
        attributes = {"DisplayName": properties["DisplayName"]} if "DisplayName" in properties else {}
        arn = str(sns.create_topic(Name=name, Attributes=attributes)["TopicArn"])
        for subscription in properties.get("Subscription", []):
            sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
        return ResourceState(ref=arn, attributes={"TopicArn": arn, "TopicName": name})

    def _subscription(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        response = self._client("sns").subscribe(
            TopicArn=properties["TopicArn"], Protocol=properties["Protocol"], Endpoint=properties["Endpoint"]
        )
        return ResourceState(ref=str(response["SubscriptionArn"]))

    def _secret(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        name = properties.get("Name") or physical_name(self._stack_name, logical_id, 512)
        value = properties.get("SecretString")
        if value is None:
            value = generate_secret_string(properties.get("GenerateSecretString", {}))
        arn = str(self._client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"])
        return ResourceState(ref=arn, attributes={"Id": arn})

    def _log_group(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        logs = self._client("logs")
        name = properties.get("LogGroupName") or physical_name(self._stack_name, logical_id, 512)
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in properties:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(properties["RetentionInDays"]))
        arn = f"arn:aws:logs:{self._region}:{ACCOUNT_ID}:log-group:{name}:*"
        return ResourceState(ref=name, attributes={"Arn": arn})

    def _email_identity(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        identity = str(properties["EmailIdentity"])
        self._client("ses").verify_email_identity(EmailAddress=identity)
        return ResourceState(ref=identity)

    def _rule(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        # moto keeps the rule and matches events; cfcd.local.events delivers what moto cannot
        # (state machine and Lambda targets) and emits the Step Functions status changes.
        client = self._client("events")
        bus = str(properties.get("EventBusName", "default")).rsplit("/", 1)[-1]  # a name or an ARN
        existing = {found["Name"] for found in client.list_event_buses(NamePrefix=bus)["EventBuses"]}
        if bus not in existing:
            client.create_event_bus(Name=bus)  # on AWS the bus exists before the stack uses it
        name = properties.get("Name") or physical_name(self._stack_name, logical_id)
        arguments: dict[str, Json] = {
            "Name": name,
            "EventBusName": bus,
            "State": properties.get("State", "ENABLED"),
        }
        if "EventPattern" in properties:
            pattern = properties["EventPattern"]
            arguments["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        for key in ("ScheduleExpression", "Description", "RoleArn"):
            if key in properties:
                arguments[key] = properties[key]
        arn = str(client.put_rule(**arguments)["RuleArn"])
        if properties.get("Targets"):
            client.put_targets(Rule=name, EventBusName=bus, Targets=properties["Targets"])
        return ResourceState(ref=name, attributes={"Arn": arn})

    def _queue(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        sqs = self._client("sqs")
        name = properties.get("QueueName") or physical_name(self._stack_name, logical_id, 80)
        attributes = {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in properties.items()
            if key not in ("QueueName", "Tags")
        }
        url = str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return ResourceState(ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url})

    def _alarm(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        name = properties.get("AlarmName") or physical_name(self._stack_name, logical_id, 255)
        self._client("cloudwatch").put_metric_alarm(**{**properties, "AlarmName": name})
        arn = f"arn:aws:cloudwatch:{self._region}:{ACCOUNT_ID}:alarm:{name}"
        return ResourceState(ref=name, attributes={"Arn": arn})

    def _event_invoke_config(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        self._client("lambda").put_function_event_invoke_config(**properties)
        return ResourceState(ref=f"{properties['FunctionName']}:{properties.get('Qualifier', '$LATEST')}")

    def _rotation_schedule(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        # Records the rotation function and rules with the secret, and lets Secrets Manager (moto)
        # run the function's testSecret step once. Unlike CloudFormation it does not rotate at once:
        # the local cloud starts with the key it generated; RotateSecret rotates it on request.
        secret_id = str(properties["SecretId"])
        rules = dict(properties.get("RotationRules", {}))
        if "AutomaticallyAfterDays" in rules:
            rules["AutomaticallyAfterDays"] = int(rules["AutomaticallyAfterDays"])
        self._client("secretsmanager").rotate_secret(
            SecretId=secret_id,
            RotationLambdaARN=str(properties["RotationLambdaARN"]),
            RotationRules=rules,
            RotateImmediately=False,
        )
        return ResourceState(ref=secret_id)

    def _state_machine(self, logical_id: str, properties: dict[str, Json]) -> ResourceState:
        definition = self._definition_text(logical_id, properties)
        for key, value in properties.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        name = properties.get("StateMachineName") or physical_name(self._stack_name, logical_id, 80)
        response = self._client("stepfunctions").create_state_machine(
            name=name,
            definition=definition,
            roleArn=properties["RoleArn"],
            type=properties.get("StateMachineType", "STANDARD"),
        )
        arn = str(response["stateMachineArn"])
        return ResourceState(ref=arn, attributes={"Arn": arn, "Name": name})

    def _definition_text(self, logical_id: str, properties: dict[str, Json]) -> str:
        if "DefinitionString" in properties:
            return str(properties["DefinitionString"])
        if "Definition" in properties:
            return json.dumps(properties["Definition"])
        path = self._artifacts.path_for(properties.get("DefinitionS3Location"))
        if path is None:
            raise DeployError(f"{logical_id}: no local definition")
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            return json.dumps(yaml.safe_load(text))
        return text


def _parameter_values(declared: Mapping[str, Json], overrides: Mapping[str, str]) -> dict[str, Json]:
    values: dict[str, Json] = {}
    for name, declaration in declared.items():
        value = overrides.get(name, declaration.get("Default"))
        if value is None:
            raise DeployError(f"parameter {name} has no default and no override")
        if str(declaration.get("Type", "")).startswith(("CommaDelimitedList", "List<")):
            value = [item.strip() for item in str(value).split(",")] if isinstance(value, str) else value
        values[name] = value
    unknown = set(overrides) - set(declared)
    if unknown:
        raise DeployError(f"unknown parameter overrides: {sorted(unknown)}")
    return values


def _creation_order(resources: Mapping[str, Json]) -> list[str]:
    graph: dict[str, set[str]] = {}
    for logical_id, definition in resources.items():
        depends_on = definition.get("DependsOn", [])
        depends = {depends_on} if isinstance(depends_on, str) else set(depends_on)
        graph[logical_id] = (references(definition.get("Properties", {})) | depends) & set(resources)
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        # CloudFormation refuses such a template too ("Circular dependency between resources").
        cycle = " -> ".join(error.args[1])
        raise DeployError(f"circular dependency between resources: {cycle}") from error


def generate_secret_string(spec: Mapping[str, Json]) -> str:
    """``GenerateSecretString`` done locally, with the same options as Secrets Manager."""
    alphabet = ""
    if not spec.get("ExcludeLowercase"):
        alphabet += string.ascii_lowercase
    if not spec.get("ExcludeUppercase"):
        alphabet += string.ascii_uppercase
    if not spec.get("ExcludeNumbers"):
        alphabet += string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += string.punctuation
    if spec.get("IncludeSpace"):
        alphabet += " "
    excluded = set(str(spec.get("ExcludeCharacters", "")))
    alphabet = "".join(char for char in alphabet if char not in excluded)
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    template = spec.get("SecretStringTemplate")
    if template is None:
        return value
    document = json.loads(template)
    document[spec.get("GenerateStringKey", "password")] = value
    return json.dumps(document)
