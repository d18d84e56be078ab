"""The EventBridge event Step Functions sends when an execution changes status.

CleanupRelease and NotifyStatus are its targets (template.yaml rules on the deployment state
machine). Event envelope: https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
Detail: https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html (dates in epoch
milliseconds; `input` left out, and `inputDetails.included` false, when it is too large).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ExecutionStatus = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]


class ExecutionStatusDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    executionArn: str
    stateMachineArn: str
    name: str
    status: ExecutionStatus
    startDate: int
    stopDate: int | None = None
    input: str | None = None  # the execution input as JSON text
    output: str | None = None
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChange(BaseModel):
    """A "Step Functions Execution Status Change" event as EventBridge delivers it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: ExecutionStatusDetail
