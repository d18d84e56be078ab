"""The approval links' HMAC key, read from Secrets Manager with a cache lifetime.

The secret rotates (template.yaml's RotationSchedule, functions/rotate_signing_key): links are
signed with its AWSCURRENT version and checked with AWSCURRENT, then AWSPREVIOUS, so a link mailed
before a rotation stays valid until it expires.
https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html

Each version is read through its own Powertools SecretsProvider: a provider's cache key is the
secret's name (and transform) only, never the `VersionStage` passed through to GetSecretValue, so
one provider asked for AWSCURRENT and then AWSPREVIOUS within the cache lifetime would answer the
cached AWSCURRENT. https://docs.powertools.aws.dev/lambda/python/latest/utilities/parameters/
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from cfcd_common import clients
from cfcd_common.approvals import SigningKeys
from cfcd_common.aws import error_code

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

MIN_SIGNING_KEY_BYTES = 32
# A rotated key is used by every sandbox within this many seconds; the previous key keeps older
# links valid meanwhile, so nothing depends on the moment each sandbox notices.
SIGNING_KEY_MAX_AGE_SECONDS = 300


class SigningKeySource:
    """The signing secret's current and previous versions, each cached for `max_age` seconds."""

    def __init__(
        self,
        client: SecretsManagerClient,
        secret_arn: str,
        max_age: int = SIGNING_KEY_MAX_AGE_SECONDS,
    ) -> None:
        self._secret_arn = secret_arn
        self._max_age = max_age
        self._current = SecretsProvider(boto3_client=client)
        self._previous = SecretsProvider(boto3_client=client)

    def keys(self) -> SigningKeys:
        current = self._read(self._current, "AWSCURRENT")
        if current is None:
            raise ValueError(f"signing secret {self._secret_arn} has no AWSCURRENT version")
        return SigningKeys(current=current, load_previous=self.previous)

    def previous(self) -> bytes | None:
        """The key before the last rotation; None while the secret was never rotated."""
        return self._read(self._previous, "AWSPREVIOUS")

    def _read(self, provider: SecretsProvider, stage: str) -> bytes | None:
        try:
            value = provider.get(self._secret_arn, max_age=self._max_age, VersionStage=stage)
        except GetParameterError as error:
            # Powertools wraps the client's error; a missing stage is ResourceNotFoundException.
            cause = error.__context__
            if isinstance(cause, ClientError) and error_code(cause) == "ResourceNotFoundException":
                return None
            raise
        if isinstance(value, str):
            key = value.encode()
        elif isinstance(value, bytes):
            key = value
        else:
            raise ValueError(f"signing secret {self._secret_arn} ({stage}) is not a string")
        if len(key) < MIN_SIGNING_KEY_BYTES:
            raise ValueError(f"signing secret must hold at least {MIN_SIGNING_KEY_BYTES} bytes ({stage})")
        return key


@cache
def _sandbox_source(secret_arn: str) -> SigningKeySource:
    return SigningKeySource(clients.secretsmanager(), secret_arn)


def sandbox_signing_keys(secret_arn: str) -> SigningKeys:
    """The keys as a function reads them: one source per sandbox and secret, so each version is
    read from Secrets Manager at most once per SIGNING_KEY_MAX_AGE_SECONDS."""
    return _sandbox_source(secret_arn).keys()
