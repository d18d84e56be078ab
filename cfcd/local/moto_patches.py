"""Every change cfcd makes to moto's internals, in one place, for the moto version pinned below.

moto offers no plug-in points for what the local cloud needs, so :func:`install` replaces a few
of its methods and fills two of its tables. The behaviour lives in the modules named next to each
patch; this module only plugs it in. :func:`install` refuses any other moto version than the one
the patches were written against: a patch that silently no longer fits would make every local
test prove nothing. Run it once per process before ``mock_aws()`` is used or moto's server builds
its app (it reads the CloudFront URL table then); it is idempotent.

What is patched, and why:

- ``moto.core.responses.BaseResponse.call_action`` and S3's ``S3Response.bucket_response`` /
  ``key_response``: every AWS call is recorded and may be answered by an injected fault, before
  or after it takes effect (:func:`cfcd.local.aws.answer_with_faults`).
- ``moto.cloudfront.urls.url_paths``: every CloudFront URL, plus those moto lacks (continuous
  deployment, CopyDistribution, promotion), goes to the CloudFront emulator
  (:class:`cfcd.local.cloudfront.api.FaithfulCloudFrontResponse`).
- moto's CloudFormation resource-type registry (``moto.cloudformation.parsing``'s cached model
  maps): ``AWS::CloudFront::Distribution`` and ``::ContinuousDeploymentPolicy``
  (:mod:`cfcd.local.cloudfront_stack`).
- ``moto.cloudformation.models.CloudFormationBackend.update_stack``: an update without
  ``RoleARN`` keeps the stack's role instead of dropping it.
- ``moto.cloudformation.parsing.ResourceMap.update``: a stack update also modifies the resources
  whose resolved properties changed (a new SSM parameter value, a parameter used in ``Fn::Sub``);
  ``CloudFormationResponse._validate_different_update``: "No updates" only when the template, the
  parameters and the SSM parameters' values are all unchanged;
  ``CloudFormationResponse.describe_stack_resources`` takes ``PhysicalResourceId``;
  ``Stack.parameter_list`` names SSM-typed parameters' keys and ``ResolvedValue``
  (:mod:`cfcd.local.stack_updates`).
- ``moto.cloudformation.responses.CloudFormationResponse.create_stack``: a CreateStack resent with
  the ``ClientRequestToken`` that made the stack is that same request (a lost answer's retry).
- ``moto.stepfunctions.responses.StepFunctionResponse.send_task_failure``: keeps the ``cause``.
- ``moto.stepfunctions.responses.StepFunctionResponse.get_execution_history``: pages as AWS does
  (``maxResults``, ``reverseOrder``, ``nextToken``; :mod:`cfcd.local.stepfunctions_history`).
- ``moto.stepfunctions.parser.asl.eval.event.event_manager.EventManager.__init__`` /
  ``add_event`` and
  ``moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl.ErrorEqualsDecl._eval_body``:
  Step Functions' history limit (an execution fails ``States.Runtime`` at its 25,000th event, or
  the lower limit a test set, past every Retry and Catch), and ``States.ALL`` no longer matching
  ``States.DataLimitExceeded`` or ``States.Runtime`` (:mod:`cfcd.local.stepfunctions_quotas`).
- ``moto.awslambda.models.LambdaFunction.invoke``: functions run on the local Lambda runtime
  (:func:`cfcd.local.lambda_runtime.invoke_registered`).
- ``moto.events.models.Rule.send_to_targets`` and
  ``moto.stepfunctions.parser.backend.execution.BaseExecutionWorkerCommunication.terminated``:
  EventBridge delivers to state machines and functions, executions emit their status change
  events (:mod:`cfcd.local.events`).
- ``moto.backends.list_of_moto_modules`` (read once),
  ``moto.stepfunctions.parser.backend.execution_worker.ExecutionWorker._get_evaluation_entrypoint``
  and ``moto.stepfunctions.parser.models.StepFunctionsParserBackend._validate_definition`` (a
  definition parsed once for its validation and all its executions,
  :mod:`cfcd.local.stepfunctions_programs`),
  ``moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils.boto_client_for``
  (one Lambda client for every invoke), ``moto.core.serialize.XFormedAttributePicker.get_possible_keys``
  (worked out once per member shape) and ``moto.core.serialize.ResponseSerializer.get_value`` (a
  dict's member picked directly, :mod:`cfcd.local.serializer_keys`),
  ``moto.core.serialize.RestXMLSerializer._serialize_body`` (CloudFront's XML written directly,
  :mod:`cfcd.local.xml_bodies`), the ``parse`` of
  ``moto.stepfunctions.parser.asl.utils.json_path`` and
  ``moto.stepfunctions.parser.asl.component.common.path.result_path`` (each JSONPath of a
  definition compiled once): speed only; what they answer is unchanged.
- ``moto.sns.models.Topic.publish``, ``moto.ses.responses.EmailResponse.send_email`` /
  ``send_raw_email`` and ``moto.sesv2.responses.SESV2Response.send_email``: mail is captured
  (:mod:`cfcd.local.mail`).
- ``boto3.session.Session.get_available_regions``, only while moto's CloudFormation (and so its
  EC2 module) is imported: one session lists the regions (speed only, the same lists).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Iterator
from importlib import metadata
from types import ModuleType
from typing import Any

import boto3.session

# pyproject.toml pins the same version; the patches below were written against its source.
MOTO_VERSION = "5.2.5"

_ROOT = "{0}/2020-05-31"
# CloudFront URLs of the operations moto does not route at all (request URIs from botocore's model).
MISSING_CLOUDFRONT_PATHS = (
    _ROOT + "/distribution/(?P<distribution_id>[^/]+)/copy$",
    _ROOT + "/distribution/(?P<distribution_id>[^/]+)/promote-staging-config$",
    _ROOT + "/continuous-deployment-policy$",
    _ROOT + "/continuous-deployment-policy/(?P<policy_id>[^/]+)$",
    _ROOT + "/continuous-deployment-policy/(?P<policy_id>[^/]+)/config$",
)

# Compiled JSONPaths kept: a definition's paths are a few dozen; the bound only caps the memory.
JSONPATHS_KEPT = 1024

_lock = threading.Lock()
_installed: dict[str, Any] = {}


class MotoVersionMismatch(RuntimeError):
    """The installed moto is not the version cfcd's patches were written for."""


def check_moto_version(installed: str | None = None) -> None:
    found = installed if installed is not None else metadata.version("moto")
    if found != MOTO_VERSION:
        raise MotoVersionMismatch(
            f"cfcd's local cloud patches the internals of moto {MOTO_VERSION}, but moto {found} is "
            f"installed: install moto[server]=={MOTO_VERSION} (pyproject.toml pins it), or port "
            "cfcd/local/moto_patches.py to the new version and its tests along with it"
        )


def install() -> None:
    """Patch moto (idempotent; raises :class:`MotoVersionMismatch` for another moto version)."""
    check_moto_version()
    with _lock:
        if _installed:
            return
        _patch_fault_dispatch()
        _patch_cloudfront()
        _patch_cloudformation()
        _patch_cloudformation_request_tokens()
        _patch_stepfunctions()
        _patch_lambda()
        _patch_events()
        _patch_mail()
        _patch_speed()


def installed() -> dict[str, Any]:
    """What :func:`install` put in place, by the dotted name of the moto attribute it replaced."""
    with _lock:
        return dict(_installed)


def _replace(owner: type | ModuleType, attribute: str, replacement: Any) -> None:
    setattr(owner, attribute, replacement)
    where = owner.__name__ if isinstance(owner, ModuleType) else f"{owner.__module__}.{owner.__qualname__}"
    _installed[f"{where}.{attribute}"] = replacement


def _around(owner: type, attribute: str, wrapper: Callable[..., Any]) -> None:
    """Replace ``owner.attribute`` by ``wrapper(original, self, *args, **kwargs)``."""
    original = getattr(owner, attribute)

    @functools.wraps(original)
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        return wrapper(original, self, *args, **kwargs)

    _replace(owner, attribute, patched)


def _then(owner: type, attribute: str, hook: Callable[..., None]) -> None:
    """Replace ``owner.attribute`` by the original followed by ``hook(self, *args, **kwargs)``."""

    def wrapper(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        hook(self, *args, **kwargs)
        return result

    _around(owner, attribute, wrapper)


def _patch_fault_dispatch() -> None:
    from moto.core.responses import BaseResponse
    from moto.s3.responses import S3Response
    from moto.s3.utils import bucket_name_from_url
    from moto.s3bucket_path.utils import bucket_name_from_url as bucketpath_bucket_name_from_url

    from cfcd.local.aws import answer_with_faults, request_text, s3_operation

    def call_action(original: Callable[[Any], Any], self: Any) -> Any:
        try:
            service = str(self.boto3_service_name or "")
            operation = str(self._get_action() or "")
        except Exception:  # an unroutable request: let moto answer it as it would
            return original(self)
        return answer_with_faults(
            self, service, operation, lambda: original(self), lambda: request_text(self)
        )

    def s3_dispatch(key: bool) -> Callable[..., Any]:
        def dispatch(
            original: Callable[..., Any], self: Any, request: Any, full_url: str, headers: Any
        ) -> Any:
            # As moto reads the bucket: from the host name (virtual-hosted style) or the path.
            subdomain = S3Response.subdomain_based_buckets(request)
            bucket = (bucket_name_from_url if subdomain else bucketpath_bucket_name_from_url)(full_url)
            target = "key" if key else "bucket" if bucket else "service"
            operation = s3_operation(request.method, target, full_url, dict(request.headers))
            return answer_with_faults(
                self, "s3", operation, lambda: original(self, request, full_url, headers), lambda: full_url
            )

        return dispatch

    _around(BaseResponse, "call_action", call_action)
    _around(S3Response, "bucket_response", s3_dispatch(key=False))
    _around(S3Response, "key_response", s3_dispatch(key=True))


def _patch_cloudfront() -> None:
    """Every CloudFront URL, moto's and the missing ones, to the emulator's response class.

    It subclasses moto's ``CloudFrontResponse``, so operations it does not override (tags, origin
    access controls, functions, ...) behave exactly as in moto.
    """
    import moto.cloudfront.urls as cloudfront_urls

    from cfcd.local.cloudfront.api import FaithfulCloudFrontResponse

    handler = FaithfulCloudFrontResponse.dispatch
    url_paths: dict[str, Callable[..., Any]] = cloudfront_urls.url_paths
    for path in [*url_paths, *MISSING_CLOUDFRONT_PATHS]:
        url_paths[path] = handler
    _installed["moto.cloudfront.urls.url_paths"] = handler


def _patch_cloudformation() -> None:
    with regions_listed_by_one_session():
        # The resource registry imports moto's EC2 module, whose class body lists the regions.
        from moto.cloudformation import parsing
    from moto.cloudformation.models import CloudFormationBackend, Stack
    from moto.cloudformation.parsing import ResourceMap
    from moto.cloudformation.responses import CloudFormationResponse

    # moto finds resource types through CloudFormationModel.__subclasses__() behind lru_cache:
    # defining the classes (importing the module) and clearing those caches is the registration.
    import cfcd.local.cloudfront_stack  # noqa: F401
    from cfcd.local import stack_updates

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    _installed["moto.cloudformation.parsing.get_model_map"] = parsing.get_model_map

    def update_stack(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
        # RoleARN: "If you don't specify a value, CloudFormation uses the role that was previously
        # associated with the stack." https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html
        call = inspect.signature(original).bind(self, *args, **kwargs)
        given = call.arguments.get("role_arn")
        call.arguments["role_arn"] = given or self.get_stack(call.arguments["name"]).role_arn
        return original(*call.args, **call.kwargs)

    _around(CloudFormationBackend, "update_stack", update_stack)
    _around(ResourceMap, "update", stack_updates.update_resolved)
    _around(CloudFormationResponse, "describe_stack_resources", stack_updates.describe_stack_resources)
    _replace(CloudFormationResponse, "_validate_different_update", stack_updates.validate_different_update)
    listed = vars(Stack)["parameter_list"]  # moto's property
    _replace(
        Stack,
        "parameter_list",
        property(lambda stack: stack_updates.parameter_list(stack, listed.__get__(stack))),
    )


@contextlib.contextmanager
def regions_listed_by_one_session() -> Iterator[None]:
    """While moto's EC2 module is imported: boto3's region lists from one session.

    Its ``RegionsAndZonesBackend`` makes a new boto3 Session for each of its three lists, and each
    Session reads EC2's service model from disk again: 0.7 s of CPU in every local cloud and test
    process. The lists depend only on botocore's data files, which every session reads alike.
    """
    one = boto3.session.Session()
    original = boto3.session.Session.get_available_regions

    def get_available_regions(
        self: boto3.session.Session,
        service_name: str,
        partition_name: str = "aws",
        allow_non_regional: bool = False,
    ) -> list[str]:
        return original(one, service_name, partition_name, allow_non_regional)

    boto3.session.Session.get_available_regions = get_available_regions  # type: ignore[method-assign]
    try:
        yield
    finally:
        boto3.session.Session.get_available_regions = original  # type: ignore[method-assign]


# (account, region, stack name, ClientRequestToken) -> the id of the stack that CreateStack made.
_STACKS_BY_REQUEST_TOKEN: dict[tuple[str, str, str, str], str] = {}


def _patch_cloudformation_request_tokens() -> None:
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def create_stack(original: Callable[[Any], Any], self: Any) -> Any:
        # ClientRequestToken: "Specify this token if you plan to retry requests so that
        # CloudFormation knows that you're not attempting to create a stack with the same name."
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
        # A CreateStack resent after its answer was lost is the request that made the stack, not
        # AlreadyExistsException. Known assumption (the reference is silent): it answers that StackId.
        backend = self.cloudformation_backend
        name, token = self._get_param("StackName"), self._get_param("ClientRequestToken")
        key = (backend.account_id, backend.region_name, name, token)
        if token and _STACKS_BY_REQUEST_TOKEN.get(key) in backend.stacks:
            return ActionResult({"StackId": _STACKS_BY_REQUEST_TOKEN[key]})
        answer = original(self)
        if token:
            _STACKS_BY_REQUEST_TOKEN[key] = backend.get_stack(name).stack_id
        return answer

    _around(CloudFormationResponse, "create_stack", create_stack)


def _patch_stepfunctions() -> None:
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.responses import StepFunctionResponse

    from cfcd.local import stepfunctions_history
    from cfcd.local import stepfunctions_quotas as quotas

    def send_task_failure(self: Any) -> Any:
        # moto's handler passes only `error` to the backend, so a rejection's "Rejected by X:
        # comment" never reached the execution's cause. The backend itself takes the cause.
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    _replace(StepFunctionResponse, "send_task_failure", send_task_failure)
    _replace(StepFunctionResponse, "get_execution_history", stepfunctions_history.get_execution_history)
    _then(EventManager, "__init__", lambda manager, *args, **kwargs: quotas.keep_history_limit(manager))
    _around(EventManager, "add_event", quotas.add_event_within_limit)
    _around(ErrorEqualsDecl, "_eval_body", quotas.match_error_equals)


def _patch_speed() -> None:
    """Costs moto pays again at every request, execution or Lambda task, paid once."""
    import moto.backends
    from moto.core.serialize import ResponseSerializer, RestXMLSerializer, XFormedAttributePicker
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    from cfcd.local import serializer_keys, stepfunctions_programs, xml_bodies

    # moto's server lists its package directory (one stat per service) at every request to tell
    # a service name from a host; the package does not change while it runs.
    moto_modules = tuple(moto.backends.list_of_moto_modules())
    _replace(moto.backends, "list_of_moto_modules", lambda: moto_modules)
    _replace(ExecutionWorker, "_get_evaluation_entrypoint", stepfunctions_programs.evaluation_entrypoint)
    validate = StepFunctionsParserBackend._validate_definition
    _replace(
        StepFunctionsParserBackend,
        "_validate_definition",
        staticmethod(stepfunctions_programs.validated_once(validate)),
    )
    _replace(
        XFormedAttributePicker,
        "get_possible_keys",
        serializer_keys.possible_keys_once_per_shape(XFormedAttributePicker.get_possible_keys),
    )
    picked_directly = serializer_keys.dict_members_picked_directly(ResponseSerializer.get_value)
    _replace(ResponseSerializer, "get_value", picked_directly)
    xml_written = xml_bodies.written_directly(RestXMLSerializer._serialize_body)
    _replace(RestXMLSerializer, "_serialize_body", xml_written)
    # moto's Lambda task makes a boto3 client per invoke, and the executions of a batch each made
    # boto3's default session at their first one. Its clients differ only by region and by
    # whether moto intercepts in-process; botocore clients are thread-safe.
    _replace(lambda_eval_utils, "boto_client_for", _one_client_each(boto_client_for))
    # jsonpath_ng's parse builds its yacc parser anew at every call: about 10 % of the local
    # cloud's CPU went to compiling the same few paths of the definitions at every state. A
    # compiled path is never changed by finding or updating with it, so threads can share it.
    for module in (json_path, result_path):
        _replace(module, "parse", functools.lru_cache(maxsize=JSONPATHS_KEPT)(module.parse))


def _one_client_each(make_client: Callable[..., Any]) -> Callable[..., Any]:
    from moto.core.models import botocore_stubber

    clients: dict[tuple[str, str, bool], Any] = {}
    lock = threading.Lock()  # one botocore session must not create clients on two threads at once

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, botocore_stubber.enabled)
        with lock:
            if key not in clients:
                clients[key] = make_client(
                    region=region, service=service, state_credentials=state_credentials
                )
            return clients[key]

    return client_for


def _patch_lambda() -> None:
    from moto.awslambda.models import LambdaFunction

    from cfcd.local.lambda_runtime import invoke_registered

    def invoke(
        original: Callable[..., Any], self: Any, body: Any, request_headers: Any, response_headers: Any
    ) -> Any:
        answer = invoke_registered(self.function_name, body, request_headers, response_headers)
        return original(self, body, request_headers, response_headers) if answer is None else answer

    _around(LambdaFunction, "invoke", invoke)


def _patch_events() -> None:
    from moto.events.models import Rule
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    from cfcd.local import events

    def send_to_targets(
        original: Callable[..., Any], self: Any, event: Any, transform_input: bool = True
    ) -> None:
        events.send_to_targets(self, event, transform_input, original)

    _around(Rule, "send_to_targets", send_to_targets)
    _then(
        BaseExecutionWorkerCommunication,
        "terminated",
        lambda worker: events.report_execution_end(worker.execution),
    )


def _patch_mail() -> None:
    from moto.ses.responses import EmailResponse
    from moto.sesv2.responses import SESV2Response
    from moto.sns.models import Topic

    from cfcd.local import mail

    # Each hook runs after moto accepted the call, so a call moto rejects is not captured as sent.
    _then(Topic, "publish", mail.capture_sns)
    _then(EmailResponse, "send_email", mail.capture_ses_email)
    _then(EmailResponse, "send_raw_email", mail.capture_ses_raw_email)
    _then(SESV2Response, "send_email", mail.capture_sesv2_email)
