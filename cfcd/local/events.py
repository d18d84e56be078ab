"""EventBridge on the local cloud: rules reach Step Functions and Lambda, executions report how
they ended, as on AWS.

moto keeps the buses and rules and matches events against rule patterns (its ``EventPattern``),
but a rule target that is a state machine or a Lambda function raises ``NotImplementedError``
inside moto, and moto's Step Functions emits no events at all. :mod:`cfcd.local.moto_patches`
routes two moto methods here:

* ``Rule.send_to_targets`` to :func:`send_to_targets`: a state machine target starts an
  execution with a unique name (an unnamed execution on moto is called ``None``, so a second one
  would clash), a Lambda target is invoked asynchronously as EventBridge does; both after
  ``Input``/``InputPath``/``InputTransformer``. Every other target type goes to moto as before.
* ``BaseExecutionWorkerCommunication.terminated``, where moto's interpreter records how an
  execution ended, to :func:`report_execution_end`: a Standard execution puts an ``aws.states``
  "Step Functions Execution Status Change" event (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) on the
  default bus of its account and region, with AWS's detail fields.

Deliveries never fail the call that caused them: on AWS, PutEvents succeeds whatever the targets do.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

LOG = logging.getLogger(__name__)

STATUS_CHANGE_SOURCE = "aws.states"
STATUS_CHANGE_DETAIL_TYPE = "Step Functions Execution Status Change"
# Target types delivered here; moto delivers the rest (SQS, log groups, archives, buses, HTTP).
DELIVERED_HERE = frozenset({"states", "lambda"})

Event = dict[str, Any]


# --- what a target receives ------------------------------------------------------------------------


def aws_event(message: Mapping[str, Any]) -> Event:
    """moto's internal event message as AWS delivers it: ISO time, no moto-only fields."""
    event = {key: copy.deepcopy(value) for key, value in message.items() if key != "ingestion-time"}
    if isinstance(event.get("time"), int | float):
        event["time"] = datetime.fromtimestamp(float(event["time"]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def json_path_value(path: str, event: Event) -> Any:
    """The first value ``path`` (EventBridge's JSONPath subset, e.g. ``$.detail``) selects, or None."""
    from jsonpath_ng.ext.parser import parse  # a moto dependency

    matches = parse(path).find(event)
    return matches[0].value if matches else None


_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def render_input_template(template: str, values: Mapping[str, Any]) -> str:
    """An ``InputTemplate`` with its ``<name>`` placeholders filled in.

    As in EventBridge, a placeholder inside a JSON string takes the value's text; anywhere else it
    takes the value as JSON (an object stays an object). Unknown names are left alone.
    """
    rendered: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            continue
        before = template[position : match.start()]
        rendered.append(before)
        value = values[name]
        if _inside_json_string("".join(rendered)):
            text = value if isinstance(value, str) else ("" if value is None else json.dumps(value))
            rendered.append(json.dumps(text)[1:-1])
        else:
            rendered.append(json.dumps(value))
        position = match.end()
    rendered.append(template[position:])
    return "".join(rendered)


def _inside_json_string(prefix: str) -> bool:
    """Does ``prefix`` end inside a JSON string (an odd number of unescaped quotes)?"""
    unescaped_quotes = len(re.findall(r'(?<!\\)(?:\\\\)*"', prefix))
    return unescaped_quotes % 2 == 1


def target_input(target: Mapping[str, Any], event: Event, rule_name: str = "", rule_arn: str = "") -> str:
    """The text a target receives: ``Input``, ``InputPath``, ``InputTransformer`` or the whole event."""
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        return json.dumps(json_path_value(str(target["InputPath"]), event))
    transformer = target.get("InputTransformer")
    if transformer:
        values: dict[str, Any] = {
            name: json_path_value(str(path), event)
            for name, path in (transformer.get("InputPathsMap") or {}).items()
        }
        values.update(
            {
                "aws.events.event.json": event,
                "aws.events.event": event,
                "aws.events.rule-name": rule_name,
                "aws.events.rule-arn": rule_arn,
                "aws.events.event.ingestion-time": event.get("time"),
            }
        )
        return render_input_template(str(transformer["InputTemplate"]), values)
    return json.dumps(event)


def execution_name() -> str:
    """EventBridge names the executions it starts; unique, within the 80 characters allowed."""
    return str(uuid.uuid4())


# --- delivery ----------------------------------------------------------------------------------------


def deliver(target: Mapping[str, Any], payload: str) -> str | None:
    """Deliver to a state machine (StartExecution) or a Lambda function (asynchronous invoke).

    Returns the execution ARN for a state machine, None for a function.
    """
    from moto.utilities.arns import parse_arn

    arn = parse_arn(str(target["Arn"]))
    if arn.service == "states":
        from moto.stepfunctions.responses import get_backend  # the executing backend when that is on

        backend = get_backend(arn.account, arn.region)
        execution = backend.start_execution(
            str(target["Arn"]), name=execution_name(), execution_input=payload
        )
        return str(execution.execution_arn)
    if arn.service == "lambda":
        from moto.awslambda.models import lambda_backends

        function_name, _, qualifier = arn.resource_id.partition(":")
        lambda_backends[arn.account][arn.region].invoke(
            function_name, qualifier or None, payload, {"x-amz-invocation-type": "Event"}, {}
        )
        return None
    raise ValueError(f"not a target delivered by the local cloud: {target['Arn']}")


def is_delivered_here(target: Mapping[str, Any]) -> bool:
    arn = str(target.get("Arn", ""))
    return arn.startswith("arn:") and arn.split(":")[2] in DELIVERED_HERE


def send_to_targets(rule: Any, message: Mapping[str, Any], transform_input: bool, moto_send: Any) -> None:
    """What moto's ``Rule.send_to_targets`` does, with state machine and Lambda targets added."""
    if rule.state != "ENABLED" or not rule.event_pattern.matches_event(message):
        return
    ours = [target for target in rule.targets if is_delivered_here(target)]
    if len(ours) < len(rule.targets):
        others = copy.copy(rule)
        others.targets = [target for target in rule.targets if not is_delivered_here(target)]
        moto_send(others, message, transform_input)
    event = aws_event(message)
    for target in ours:
        try:
            payload = target_input(target, event, rule.name, rule.arn)
            started = deliver(target, payload)
            LOG.info("rule %s delivered event %s to %s", rule.name, event.get("id"), started or target["Arn"])
        except Exception:  # EventBridge retries and gives up silently; the log is all we keep
            LOG.exception(
                "rule %s could not deliver event %s to %s", rule.name, event.get("id"), target["Arn"]
            )


# --- Step Functions status change events --------------------------------------------------------------


def _epoch_millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def status_change_detail(execution: Any) -> dict[str, Any]:
    """The ``detail`` AWS puts in a Step Functions Execution Status Change event."""
    described = execution.to_describe_output()
    output = described.get("output")
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": execution.status,
        "startDate": _epoch_millis(execution.start_date),
        "stopDate": _epoch_millis(execution.stop_date),
        "input": described.get("input"),
        "output": output,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if output is not None else None,
        "error": execution.error,
        "cause": execution.cause,
    }


def publish_status_change(execution: Any) -> None:
    """Put the status change of an ended Standard execution on its default event bus."""
    from moto.events.models import events_backends

    if str(getattr(execution.sm_type, "value", execution.sm_type)) != "STANDARD":
        return  # AWS sends these events for Standard workflows only
    detail = status_change_detail(execution)
    stopped = execution.stop_date.timestamp() if execution.stop_date else None
    entry: dict[str, Any] = {
        "Source": STATUS_CHANGE_SOURCE,
        "DetailType": STATUS_CHANGE_DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "Resources": [execution.exec_arn],
    }
    if stopped is not None:
        entry["Time"] = stopped
    events_backends[execution.account_id][execution.region_name].put_events([entry])


def report_execution_end(execution: Any) -> None:
    """After moto recorded how ``execution`` ended: its status change event, never an error."""
    try:
        publish_status_change(execution)
    except Exception:  # the execution's own record is already complete
        LOG.exception("could not publish the status change of %s", execution.exec_arn)


__all__ = [
    "STATUS_CHANGE_DETAIL_TYPE",
    "STATUS_CHANGE_SOURCE",
    "aws_event",
    "deliver",
    "publish_status_change",
    "render_input_template",
    "report_execution_end",
    "send_to_targets",
    "status_change_detail",
    "target_input",
]
