"""RecordOriginPath: after a promotion, write the origin path now live to promotion.originPathParameter.

The primary's own template reads that SSM String parameter (an `AWS::SSM::Parameter::Value<String>`
parameter, CDK's `valueForStringParameter`, Terraform's `aws_ssm_parameter` data source), so the
next update of its stack keeps the promoted release instead of putting the old one back.

Every promotion passes here, whatever made its staging config. Retry-safe: the parameter is read
first and written (Overwrite) only when it holds something else, so a retried attempt after a
lost answer writes nothing and makes no new version (Parameter Store keeps only 100 of them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from cfcd_common import clients
from cfcd_common.aws import error_code
from cfcd_common.cloudfront import origin_path_of
from cfcd_common.errors import OriginPathNotRecorded
from cfcd_common.models import CopyStaging, Staging, TaskRequest, TaskResult
from cfcd_common.task import logger, metrics, task_handler, tracer

if TYPE_CHECKING:
    from mypy_boto3_cloudfront import CloudFrontClient
    from mypy_boto3_ssm import SSMClient

# What AWS::SSM::Parameter::Value<String> reads; PutParameter's Type and Overwrite (default false:
# an existing name fails with ParameterAlreadyExists).
# https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
PARAMETER_TYPE: Final[Literal["String"]] = "String"


class RecordRequest(TaskRequest):
    primaryDistributionId: str
    parameterName: str
    # Which origin: staging.overrides.originId, by default the default cache behavior's origin.
    staging: Staging


class OriginPathRecord(TaskResult):
    parameterName: str
    originPath: str
    version: int
    written: bool  # False: the parameter already held it (a retried attempt, or no change)


@tracer.capture_method
def record_origin_path(
    cloudfront: CloudFrontClient, ssm: SSMClient, request: RecordRequest
) -> OriginPathRecord:
    origin_id = request.staging.overrides.originId if isinstance(request.staging, CopyStaging) else None
    config = cloudfront.get_distribution_config(Id=request.primaryDistributionId)["DistributionConfig"]
    origin_path = origin_path_of(dict(config), origin_id)
    name = request.parameterName
    if not origin_path:
        raise OriginPathNotRecorded(
            f"the origin path live on {request.primaryDistributionId} is empty, which the SSM "
            f"parameter {name} cannot hold"
        )
    current = _read(ssm, name)
    if current is not None and current["Value"] == origin_path:
        return OriginPathRecord(
            parameterName=name, originPath=origin_path, version=int(current["Version"]), written=False
        )
    if current is not None and current["Type"] != PARAMETER_TYPE:
        raise OriginPathNotRecorded(f"{name} is a {current['Type']} parameter, not a {PARAMETER_TYPE}")
    version = ssm.put_parameter(
        Name=name,
        Value=origin_path,
        Type=PARAMETER_TYPE,
        Overwrite=True,
        Description=f"Origin path live on CloudFront distribution {request.primaryDistributionId} (cfcd)",
    )["Version"]
    logger.info(
        "origin path recorded", extra={"parameter": name, "originPath": origin_path, "version": version}
    )
    return OriginPathRecord(parameterName=name, originPath=origin_path, version=version, written=True)


def _read(ssm: SSMClient, name: str) -> dict[str, Any] | None:
    try:
        return dict(ssm.get_parameter(Name=name)["Parameter"])
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return None
        raise


@task_handler()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    record = record_origin_path(clients.cloudfront(), clients.ssm(), RecordRequest.model_validate(event))
    metrics.add_metric(name="OriginPathsWritten", unit=MetricUnit.Count, value=int(record.written))
    return record.model_dump()
