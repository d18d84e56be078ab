"""Render a state machine's YAML source (``statemachine/*.asl.yaml``) to the JSON beside it.

The YAML source writes each block several states share (the retry policy, the catch to the
rollback) once, as a YAML anchor under ``x-shared``, and refers to it with aliases. What SAM deploys
and the local cloud runs stays the rendered ``*.asl.json``, because nothing on the way resolves
aliases for us:

- ``sam package`` uploads ``DefinitionUri``'s file to S3 as it is (aws-sam-cli
  ``samcli/lib/package/packageable_resources.py``, ``ServerlessStateMachineResource``), and the SAM
  transform hands that object to CloudFormation as ``DefinitionS3Location``.
- CloudFormation documents only that the object "must be a JSON or YAML file"
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-stepfunctions-statemachine-s3location.html);
  users report that a definition using aliases fails with ``SCHEMA_VALIDATION_FAILED``
  (https://github.com/aws-cloudformation/cfn-language-discussion/issues/49), and the AWS Toolkit
  cannot draw one (https://github.com/aws/aws-toolkit-vscode/issues/3537).
- moto's ASL parser, which the local cloud runs, reads JSON only.

``make asl`` runs this module; a unit test fails while a JSON file is not the rendering of its source.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

SHARED_BLOCKS = "x-shared"


class _NoDuplicateKeysLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a state pasted twice under one name must not vanish."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_source(source: str) -> dict[str, Any]:
    """The source as data, ``x-shared`` included; an alias is the very object its anchor names."""
    document = yaml.load(source, Loader=_NoDuplicateKeysLoader)  # a SafeLoader: plain data only
    if not isinstance(document, dict) or "States" not in document:
        raise ValueError("an ASL source is a mapping with States")
    return document


def render(source: str) -> str:
    """The ASL JSON of a YAML source: aliases expanded, ``x-shared`` dropped, key order kept."""
    document = load_source(source)
    document.pop(SHARED_BLOCKS, None)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def definition_path(source: Path) -> Path:
    """``deployment.asl.yaml`` -> ``deployment.asl.json``, beside it."""
    if not source.name.endswith(".asl.yaml"):
        raise ValueError(f"{source}: an ASL source is named <name>.asl.yaml")
    return source.with_suffix(".json")


def main(sources: list[str]) -> None:
    for source in map(Path, sources):
        target = definition_path(source)
        rendered = render(source.read_text(encoding="utf-8"))
        if not target.is_file() or target.read_text(encoding="utf-8") != rendered:
            target.write_text(rendered, encoding="utf-8")
            print(f"wrote {target}")


if __name__ == "__main__":
    main(sys.argv[1:])
