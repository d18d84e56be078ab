"""The emulator in moto's server (as the local cloud runs it), through a boto3 client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from cfcd.local import moto_patches
from tests.unit.local.test_cloudfront_policies import distribution_config, header_policy

pytestmark = pytest.mark.unit


@pytest.fixture
def endpoint() -> Iterator[str]:
    moto_patches.install()  # before the server builds its CloudFront app
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_policy_round_trip_in_server_mode(endpoint: str) -> None:
    # Given a client of the server, a primary distribution and its staging copy
    client: Any = boto3.client(
        "cloudfront",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    primary = client.create_distribution(DistributionConfig=distribution_config("server-primary"))
    staging = client.copy_distribution(
        PrimaryDistributionId=primary["Distribution"]["Id"],
        Staging=True,
        IfMatch=primary["ETag"],
        CallerReference="server-staging",
    )["Distribution"]

    # When a policy is created, read, disabled and deleted
    created = client.create_continuous_deployment_policy(
        ContinuousDeploymentPolicyConfig=header_policy(staging["DomainName"])
    )
    policy_id = created["ContinuousDeploymentPolicy"]["Id"]
    config = client.get_continuous_deployment_policy_config(Id=policy_id)
    updated = client.update_continuous_deployment_policy(
        Id=policy_id,
        IfMatch=config["ETag"],
        ContinuousDeploymentPolicyConfig={**config["ContinuousDeploymentPolicyConfig"], "Enabled": False},
    )
    with pytest.raises(client.exceptions.PreconditionFailed):
        client.delete_continuous_deployment_policy(Id=policy_id, IfMatch=created["ETag"])
    client.delete_continuous_deployment_policy(Id=policy_id, IfMatch=updated["ETag"])

    # Then the round trip saw each state and the policy is gone
    assert config["ContinuousDeploymentPolicyConfig"]["Enabled"] is True
    assert updated["ContinuousDeploymentPolicy"]["ContinuousDeploymentPolicyConfig"]["Enabled"] is False
    assert client.list_continuous_deployment_policies()["ContinuousDeploymentPolicyList"]["Quantity"] == 0
