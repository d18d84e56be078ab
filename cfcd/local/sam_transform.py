"""Write a SAM template as CloudFormation gets it after the transform, for cfn-lint to check.

cfn-lint checks the IAM actions of plain CloudFormation policies, but not those SAM writes from
its policy templates and connectors; in the transformed template they are plain policies. The
transform runs offline (samtranslator, as the local cloud deploys); local ``CodeUri`` and
``DefinitionUri`` paths become placeholder S3 locations.

    python -m cfcd.local.sam_transform template.yaml build/template.transformed.json \
        --parameter SiteBucketName=example-site

A parameter without a default needs a value (`--parameter NAME=VALUE`), as on CloudFormation.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from cfcd.local.deploy import transformed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("template", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE")
    arguments = parser.parse_args(argv)
    overrides = dict(str(value).split("=", 1) for value in arguments.parameter)
    template, _, _ = transformed(arguments.template, arguments.region, overrides)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(template, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
