"""A Lambda function's settings: its environment variables (template.yaml) as a pydantic model.

The one way a handler reads its environment: `SomeSettings.from_environment()` when it runs, never
at import, so a test only sets the variables. A missing or malformed variable fails the invocation
with an error naming the variable and the rule.
"""

from __future__ import annotations

import os
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cfcd_common.errors import UnexpectedError
from cfcd_common.models import describe_errors


class Settings(BaseModel):
    """Base of every function's settings: each field aliased to its environment variable."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, variables: Any) -> Any:
        # An optional template parameter arrives as "" when not given: the field's default applies.
        if isinstance(variables, dict):
            return {name: value for name, value in variables.items() if value != ""}
        return variables

    @classmethod
    def from_environment(cls) -> Self:
        try:
            return cls.model_validate(dict(os.environ))
        except ValidationError as error:
            raise UnexpectedError(f"the function's environment: {describe_errors(error)}") from None


class TableSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)


class TopicSettings(Settings):
    topic_arn: str = Field(alias="TOPIC_ARN", min_length=1)


class EdgeSettings(Settings):
    # Set by the local cloud's runtime: HTTP checks and the mails' test commands go to its edge.
    edge_endpoint: str | None = Field(default=None, alias="CFCD_EDGE_ENDPOINT")


class ApprovalSettings(TableSettings, EdgeSettings):
    """What both approval functions (RequestApproval and the approval page) need."""

    signing_secret_arn: str = Field(alias="SIGNING_SECRET_ARN", min_length=1)
