"""RotateSigningKey: Secrets Manager's rotation function of the approval links' signing key.

Secrets Manager calls it four times per rotation, each with the secret, the new version's id
(ClientRequestToken) and a step; each step may run again and must then change nothing more
(https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html,
the steps of the generic template
https://github.com/aws-samples/aws-secrets-manager-rotation-lambdas/blob/master/SecretsManagerRotationTemplate/lambda_function.py):

- createSecret: a new random key as the AWSPENDING version (unless an earlier run made it);
- setSecret, testSecret: the key is ours alone (no database to tell); test that it is one;
- finishSecret: AWSCURRENT moves to the new version, and AWSPREVIOUS with it to the old one
  (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_UpdateSecretVersionStage.html),
  which keeps the links signed before valid until they expire (cfcd_common.approval_keys).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from cfcd_common import clients
from cfcd_common.approval_keys import MIN_SIGNING_KEY_BYTES
from cfcd_common.aws import error_code
from cfcd_common.errors import InvalidInput
from cfcd_common.task import logger, task_handler

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

# 48 random bytes, 64 URL-safe characters: like the template's GenerateSecretString (64 characters).
NEW_KEY_BYTES = 48


class RotationStep(BaseModel):
    """The event Secrets Manager sends the rotation function."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    secret_id: str = Field(alias="SecretId", min_length=1)
    token: str = Field(alias="ClientRequestToken", min_length=1)
    step: Literal["createSecret", "setSecret", "testSecret", "finishSecret"] = Field(alias="Step")


def rotate(client: SecretsManagerClient, request: RotationStep) -> str:
    """Run one step; returns what it did (for the log)."""
    stages = _stages_of(client, request)
    if "AWSCURRENT" in stages:
        return "already current"  # finishSecret ran already
    if "AWSPENDING" not in stages:
        raise InvalidInput(f"version {request.token} of the secret is not pending rotation")
    if request.step == "createSecret":
        return create_key(client, request)
    if request.step == "testSecret":
        return test_key(client, request)
    if request.step == "finishSecret":
        return finish(client, request)
    return "nothing to set: only cfcd uses this key"


def create_key(client: SecretsManagerClient, request: RotationStep) -> str:
    client.get_secret_value(SecretId=request.secret_id, VersionStage="AWSCURRENT")
    try:
        client.get_secret_value(
            SecretId=request.secret_id, VersionId=request.token, VersionStage="AWSPENDING"
        )
        return "pending key exists"
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
    client.put_secret_value(
        SecretId=request.secret_id,
        ClientRequestToken=request.token,
        SecretString=secrets.token_urlsafe(NEW_KEY_BYTES),
        VersionStages=["AWSPENDING"],
    )
    return "pending key created"


def test_key(client: SecretsManagerClient, request: RotationStep) -> str:
    value = client.get_secret_value(
        SecretId=request.secret_id, VersionId=request.token, VersionStage="AWSPENDING"
    ).get("SecretString", "")
    if len(value.encode()) < MIN_SIGNING_KEY_BYTES:
        raise InvalidInput(f"the pending key is shorter than {MIN_SIGNING_KEY_BYTES} bytes")
    return "pending key tested"


def finish(client: SecretsManagerClient, request: RotationStep) -> str:
    versions = client.describe_secret(SecretId=request.secret_id).get("VersionIdsToStages", {})
    current = next((version for version, stages in versions.items() if "AWSCURRENT" in stages), None)
    client.update_secret_version_stage(
        SecretId=request.secret_id,
        VersionStage="AWSCURRENT",
        MoveToVersionId=request.token,
        **({"RemoveFromVersionId": current} if current else {}),
    )
    return "new key is current"


def _stages_of(client: SecretsManagerClient, request: RotationStep) -> list[str]:
    described = client.describe_secret(SecretId=request.secret_id)
    if not described.get("RotationEnabled"):
        raise InvalidInput(f"rotation is not enabled on {request.secret_id}")
    versions = described.get("VersionIdsToStages", {})
    if request.token not in versions:
        raise InvalidInput(f"version {request.token} is not a version of the secret")
    return list(versions[request.token])


# The event holds no key; the answer neither. The token names the rotation in the logs.
@task_handler("ClientRequestToken")
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    request = RotationStep.model_validate(event)
    done = rotate(clients.secretsmanager(), request)
    logger.info("rotation step done", extra={"step": request.step, "result": done})
    return {"step": request.step, "result": done}
