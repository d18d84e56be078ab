"""The Lambda functions as ``template.yaml`` declares them (no second list): code, layers, env, memory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cfcd.local.deploy import load_template

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "template.yaml"
SERVERLESS_FUNCTION = "AWS::Serverless::Function"
SERVERLESS_LAYER = "AWS::Serverless::LayerVersion"


class LambdaFunction(BaseModel):
    logical_id: str
    handler: str
    code_dir: Path
    layer_dirs: list[Path]
    environment: dict[str, str]
    memory_mb: int
    architecture: str

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]


def _merged(globals_value: Any, own_value: Any) -> Any:
    return own_value if own_value is not None else globals_value


def _env_value(value: Any, parameters: dict[str, Any], name: str) -> str | None:
    """A plain value as is; ``Ref`` to a parameter its default; any other resource a placeholder.

    The value only has to exist at import time (handlers read their settings lazily), so a
    stand-in for a table name or an ARN is as good as the real thing for an init measurement.
    """
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        ref = str(value["Ref"])
        if ref in parameters:
            return str(parameters[ref].get("Default", ""))
        return f"bench-{ref}"
    if isinstance(value, dict) and "Fn::If" in value:
        return None  # conditional settings are off with the template's default parameters
    return f"bench-{name}"


def _layer_dirs(layers: list[Any], resources: dict[str, Any]) -> list[Path]:
    dirs = []
    for layer in layers:
        ref = layer.get("Ref") if isinstance(layer, dict) else None
        resource = resources.get(str(ref), {})
        if resource.get("Type") == SERVERLESS_LAYER:
            dirs.append((REPO_ROOT / resource["Properties"]["ContentUri"]).resolve())
    return dirs


def template_functions(template_path: Path = TEMPLATE) -> list[LambdaFunction]:
    template = load_template(template_path)
    defaults: dict[str, Any] = template.get("Globals", {}).get("Function", {})
    parameters: dict[str, Any] = template.get("Parameters", {})
    resources: dict[str, Any] = template.get("Resources", {})
    functions = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != SERVERLESS_FUNCTION:
            continue
        properties: dict[str, Any] = resource.get("Properties", {})
        variables = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **properties.get("Environment", {}).get("Variables", {}),
        }
        environment = {
            name: resolved
            for name, value in variables.items()
            if (resolved := _env_value(value, parameters, name)) is not None
        }
        architectures = _merged(defaults.get("Architectures"), properties.get("Architectures")) or ["x86_64"]
        functions.append(
            LambdaFunction(
                logical_id=logical_id,
                handler=str(_merged(defaults.get("Handler"), properties.get("Handler"))),
                code_dir=(
                    REPO_ROOT / str(_merged(defaults.get("CodeUri"), properties.get("CodeUri")))
                ).resolve(),
                layer_dirs=_layer_dirs(
                    _merged(defaults.get("Layers"), properties.get("Layers")) or [], resources
                ),
                environment=environment,
                memory_mb=int(_merged(defaults.get("MemorySize"), properties.get("MemorySize")) or 128),
                architecture=str(architectures[0]),
            )
        )
    return functions


def layer_requirements(function: LambdaFunction) -> list[Path]:
    """The ``requirements.txt`` of each layer SAM builds (BuildMethod python3.x installs it)."""
    return [path for layer in function.layer_dirs if (path := layer / "requirements.txt").exists()]
