"""Guards against drift between template.yaml, the ASL and the code."""

from __future__ import annotations

import copy
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

from cfcd.asl import SHARED_BLOCKS, definition_path, load_source, render
from tests.unit.conftest import ASL_PATH, ROOT, TEMPLATE_PATH, load_asl, load_template
from tests.unit.lint import cfn_lint

pytestmark = pytest.mark.unit

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_every_function_codeuri_exists_and_its_handler_imports() -> None:
    # Given the functions of the template
    template = load_template()
    default_handler = template["Globals"]["Function"]["Handler"]
    found = functions(template)
    assert len(found) >= 12
    for name, properties in found.items():
        code_dir = ROOT / properties["CodeUri"]
        module_name, handler_name = properties.get("Handler", default_handler).rsplit(".", 1)
        # When the handler module is imported the way the tests import it
        assert (code_dir / f"{module_name}.py").is_file(), f"{name}: no {module_name}.py in {code_dir}"
        assert (code_dir / "__init__.py").is_file(), f"{name}: {code_dir} is not a package"
        package = ".".join(code_dir.relative_to(ROOT).parts)
        module = importlib.import_module(f"{package}.{module_name}")
        # Then the handler exists and is callable
        assert callable(getattr(module, handler_name, None)), f"{name}: {handler_name} missing"


IMPORT_AS_LAMBDA = """
import importlib, sys
sys.path.insert(0, sys.argv[1])  # the layer
for code_dir in sys.argv[2:]:
    sys.path.insert(0, code_dir)
    sys.modules.pop("app", None)
    app = importlib.import_module("app")
    assert callable(app.lambda_handler), code_dir
    sys.path.remove(code_dir)
"""


def test_handlers_import_as_lambda_does_from_their_codeuri() -> None:
    # Lambda puts CodeUri and the layer (not the repository) on sys.path, then imports `app`.
    code_dirs = [str(ROOT / properties["CodeUri"]) for properties in functions(load_template()).values()]
    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "cfcd",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_AS_LAMBDA, str(ROOT / "functions" / "common"), *code_dirs],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-1500:]


def test_every_asl_placeholder_has_a_substitution_and_every_substitution_is_used() -> None:
    template = load_template()
    machine = template["Resources"]["DeploymentStateMachine"]["Properties"]
    substitutions = set(machine["DefinitionSubstitutions"])
    placeholders = set(PLACEHOLDER.findall(ASL_PATH.read_text()))
    assert placeholders - substitutions == set(), "placeholders without substitution"
    assert substitutions - placeholders == set(), "substitutions the ASL never uses"
    assert machine["DefinitionUri"] == str(ASL_PATH.relative_to(ROOT))


ASL_SOURCE_PATH = ASL_PATH.with_suffix(".yaml")
ASL_SOURCES = sorted((ROOT / "statemachine").glob("*.asl.yaml"))


def test_every_asl_definition_is_the_rendering_of_its_yaml_source() -> None:
    # Given the YAML sources, the deployed definition among them
    assert ASL_SOURCE_PATH in ASL_SOURCES and definition_path(ASL_SOURCE_PATH) == ASL_PATH
    for source in ASL_SOURCES:
        # When a source is rendered
        rendered = render(source.read_text())
        # Then the checked-in JSON is exactly that (byte for byte, so `make asl` leaves no diff)
        definition = definition_path(source)
        assert definition.read_text() == rendered, (
            f"{definition.name} is stale: edit {source.name}, run make asl"
        )


def walk(value: Any) -> Iterator[Any]:
    """`value` and every value inside it."""
    yield value
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for child in children:
        yield from walk(child)


def test_every_task_retries_with_a_shared_policy_and_no_shared_block_is_written_twice() -> None:
    # Given the source, whose aliases load as the very objects their anchors name
    source = load_source(ASL_SOURCE_PATH.read_text())
    blocks = list(source[SHARED_BLOCKS].values())
    states = source["States"]

    def is_shared(value: Any) -> bool:
        return any(value is block for block in blocks)

    # Then every Task's Retry is one of the shared policies (so a policy changes in one place)
    for name, state in states.items():
        if state["Type"] == "Task":
            assert is_shared(state["Retry"]), f"{name}: Retry is not a *shared policy"
    # And no state writes out a copy of a shared block instead of its alias
    aliases = [value for value in walk(states) if is_shared(value)]
    copies = [value for value in walk(states) if value in blocks and not is_shared(value)]
    assert copies == [], "write these as aliases (*name) of their x-shared blocks"
    assert len(aliases) > len(states) / 2  # the walk does see the aliases


def test_the_asl_renderer_refuses_a_state_name_given_twice() -> None:
    # PyYAML alone keeps the second state and silently drops the first.
    source = "StartAt: A\nStates:\n  A: {Type: Pass, End: true}\n  A: {Type: Succeed}\n"
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'A'"):
        render(source)


def test_every_function_arn_substitution_names_a_template_function() -> None:
    template = load_template()
    substitutions = template["Resources"]["DeploymentStateMachine"]["Properties"]["DefinitionSubstitutions"]
    names = set(functions(template))
    for key, value in substitutions.items():
        if key.endswith("FunctionArn"):
            assert value == {"Fn::GetAtt": [key.removesuffix("Arn"), "Arn"]}
            assert key.removesuffix("Arn") in names


def test_the_state_machine_may_invoke_exactly_the_functions_it_uses() -> None:
    template = load_template()
    machine = template["Resources"]["DeploymentStateMachine"]["Properties"]
    invoked = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for p in machine["Policies"]
        if "LambdaInvokePolicy" in p
    }
    used = {
        key.removesuffix("Arn") for key in machine["DefinitionSubstitutions"] if key.endswith("FunctionArn")
    }
    assert invoked == used


def test_cfn_lint_reports_nothing() -> None:
    # Same rules as `cfn-lint template.yaml` (errors, warnings and informational findings alike).
    assert cfn_lint(TEMPLATE_PATH) == []


class _OfflinePolicies(ManagedPolicyLoader):  # type: ignore[misc]
    """Managed policy ARNs without calling IAM (the transform runs offline)."""

    def __init__(self) -> None:
        pass

    def load(self) -> dict[str, str]:
        names = ["AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSXRayDaemonWriteAccess"]
        return {name: f"arn:aws:iam::aws:policy/service-role/{name}" for name in names}


def packaged_template() -> dict[str, Any]:
    """What `sam package` hands CloudFormation: code in S3, the definition inlined."""
    template = copy.deepcopy(load_template())
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if key in properties:
                properties[key] = f"s3://cfcd-artifacts/{properties[key].strip('/')}.zip"
        if "DefinitionUri" in properties:
            properties["Definition"] = json.loads((ROOT / properties.pop("DefinitionUri")).read_text())
    return template


def test_samtranslator_transforms_the_template_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the packaged template and a region (the transform needs one, nothing else)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # When SAM transforms it
    transformed = transform(packaged_template(), {}, _OfflinePolicies())
    resources = transformed["Resources"]
    types = {resource["Type"] for resource in resources.values()}
    # Then the resources the product needs exist
    assert {
        "AWS::Lambda::Function",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Url",
        "AWS::StepFunctions::StateMachine",
        "AWS::DynamoDB::Table",
        "AWS::SNS::Topic",
        "AWS::SecretsManager::Secret",
    } <= types
    machine = resources["DeploymentStateMachine"]["Properties"]
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is False
    # And every function runs with the common layer and active tracing
    lambdas = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(lambdas) == len(functions(load_template()))
    for properties in lambdas:
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["Layers"]


def test_no_aws_sdk_integration_and_no_hard_coded_arn() -> None:
    text = ASL_PATH.read_text()
    assert "aws-sdk:" not in text
    assert re.search(r"arn:aws[a-z-]*:", text) is None
    resources = {state.get("Resource") for state in load_asl()["States"].values() if state["Type"] == "Task"}
    assert resources == {"${LambdaInvoke}", "${LambdaInvokeWaitForTaskToken}"}


def test_motos_interpreter_parses_the_definition() -> None:
    # The local cloud runs the real ASL on moto's interpreter; a construct it cannot parse fails here.
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    definition = PLACEHOLDER.sub(
        lambda match: "arn:aws:states:::lambda:invoke" if match.group(1).startswith("LambdaInvoke") else "fn",
        ASL_PATH.read_text(),
    )
    program, _ = AmazonStateLanguageParser.parse(definition)
    assert program is not None
