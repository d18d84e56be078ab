"""``make sfn-local``: the same ASL on AWS Step Functions Local, for people who have Docker.

Step Functions Local (the ``amazon/aws-stepfunctions-local`` image) runs the state machine;
every Task is a Lambda invoke, so pointing its ``LAMBDA_ENDPOINT`` at the local cloud runs our
real handlers. The approval function must answer Step Functions Local, not moto, so the
functions get ``AWS_ENDPOINT_URL_SFN``. AWS calls Step Functions Local unsupported and without
feature parity: this path is optional and not part of ``make test``.

Usage: ``python -m cfcd.local.sfn_local [--state-dir DIR]``; runs until interrupted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from cfcd.local.cloud import LocalCloud

IMAGE = "amazon/aws-stepfunctions-local"
CONTAINER = "cfcd-sfn-local"
PORT = 8083
STATE_MACHINE_NAME = "cfcd-deployment"
DUMMY_ROLE = "arn:aws:iam::123456789012:role/cfcd-sfn-local"


class DockerUnavailable(RuntimeError):
    """No Docker engine answers: Step Functions Local cannot run here."""


def require_docker() -> None:
    if shutil.which("docker") is None:
        raise DockerUnavailable("make sfn-local needs Docker: no docker command on PATH")
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise DockerUnavailable(
            "make sfn-local needs a running Docker engine (`docker info` failed). "
            "Everything else runs without it: make demo, make test."
        )


def docker_run_command(lambda_endpoint: str, region: str) -> list[str]:
    # Host networking: the local cloud listens on loopback only.
    return [
        "docker", "run", "--rm", "--detach", "--name", CONTAINER, "--network", "host",
        "--env", f"LAMBDA_ENDPOINT={lambda_endpoint}",
        "--env", f"AWS_DEFAULT_REGION={region}",
        "--env", "AWS_ACCESS_KEY_ID=testing", "--env", "AWS_SECRET_ACCESS_KEY=testing",
        IMAGE,
    ]  # fmt: skip


def sfn_local_client(region: str) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=f"http://127.0.0.1:{PORT}",
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def wait_until_ready(client: Any, timeout_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            client.list_state_machines()
            return
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Step Functions Local did not answer on port {PORT}") from None
            time.sleep(0.5)


def release_input(primary_distribution_id: str) -> dict[str, Any]:
    return {
        "primaryDistributionId": primary_distribution_id,
        "staging": {"mode": "copy", "overrides": {"originPath": "/2.0.0"}},
        "traffic": {"type": "SingleHeader", "header": "aws-cf-cd-env", "value": "staging"},
        "probe": {"path": "/index.html", "expect": {"status": 200, "bodyContains": "v2 App"}},
        "approval": {"timeoutSeconds": 3600},
        "timing": {"pollSeconds": 1, "deployTimeoutSeconds": 120, "probeTimeoutSeconds": 120},
    }


def run(state_dir: Path) -> None:
    require_docker()
    cloud = LocalCloud(
        state_dir=state_dir,
        seed=True,
        propagation_seconds=1.0,
        extra_lambda_environment={"AWS_ENDPOINT_URL_SFN": f"http://127.0.0.1:{PORT}"},
    )
    info = cloud.start()
    try:
        subprocess.run(docker_run_command(info.aws_endpoint, cloud.region), check=True)
        try:
            sfn = sfn_local_client(cloud.region)
            wait_until_ready(sfn)
            # The definition moto holds already has every DefinitionSubstitution resolved.
            moto_sfn = boto3.client(
                "stepfunctions",
                endpoint_url=info.aws_endpoint,
                region_name=cloud.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            if info.state_machine_arn is None or info.site is None:
                raise RuntimeError("the local cloud deployed no state machine or seeded no site")
            definition = moto_sfn.describe_state_machine(stateMachineArn=info.state_machine_arn)["definition"]
            machine = sfn.create_state_machine(
                name=STATE_MACHINE_NAME, definition=definition, roleArn=DUMMY_ROLE
            )
            execution = sfn.start_execution(
                stateMachineArn=machine["stateMachineArn"],
                name=f"sfn-local-{int(time.time())}",
                input=json.dumps(release_input(info.site.primary_distribution_id)),
            )
            print(f"Step Functions Local on http://127.0.0.1:{PORT}, Lambdas on {info.aws_endpoint}")
            print(f"started {execution['executionArn']}")
            print(f"follow:  aws stepfunctions --endpoint-url http://127.0.0.1:{PORT} get-execution-history "
                  f"--execution-arn {execution['executionArn']}")  # fmt: skip
            print(f"approve: open the link in {state_dir / 'mail'}; Ctrl-C to stop")
            while True:
                time.sleep(3600)
        finally:
            subprocess.run(["docker", "stop", CONTAINER], capture_output=True, check=False)
    finally:
        cloud.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cfcd.local.sfn_local", description=__doc__)
    parser.add_argument("--state-dir", type=Path, default=Path(".cfcd/sfn-local"))
    args = parser.parse_args(argv)
    try:
        run(args.state_dir)
    except DockerUnavailable as error:
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
