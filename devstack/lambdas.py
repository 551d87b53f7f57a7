"""Run moto Lambda functions as in-process Python callables (no Docker).

moto (5.2.x) can really execute Step Functions state machines
(``config={"stepfunctions": {"execute_state_machine": True}}``), but without
Docker its Lambda backend (``use_docker: False``) answers every Invoke with a
canned payload (the request body echoed back). This module routes invocations
of selected function *names* to plain Python callables::

    def handler(event: dict, context: LambdaContext) -> Any: ...

Usage::

    with mock_aws(config=MOTO_CONFIG), route_lambdas({"load_referral": load}):
        create_functions(lambda_client, iam_client, ["load_referral"])
        ...  # start executions; Task states that invoke load_referral call load()

or, for a long-lived dev server: ``install({...})`` / ``uninstall()``.

Behaviour mirrors real Lambda (Python runtime) as far as Step Functions can see:

* return value -> JSON payload (``Payload`` of ``lambda:invoke``); a value that
  is not JSON serialisable becomes a ``Runtime.MarshalError`` function error.
* an exception -> response header ``X-Amz-Function-Error: Unhandled`` and payload
  ``{"errorMessage", "errorType", "requestId", "stackTrace"}`` where
  ``errorType`` is the exception's class name. moto's Step Functions
  interpreter turns that into a TaskFailed whose *error* is ``errorType`` (so
  ``Retry``/``Catch`` can match ``"ReferralNotFound"``, ``"States.TaskFailed"``
  or ``"States.ALL"``) and whose *cause* is the payload JSON string - the same
  as AWS.
* unknown function -> moto raises ResourceNotFoundException, which Step
  Functions reports as ``Lambda.ResourceNotFoundException`` (as AWS does).
* ``InvocationType=Event`` runs the handler on a daemon thread (fire and
  forget); ``DryRun`` does not run it.
* The function timeout/memory limit are NOT enforced (use the state's
  ``TimeoutSeconds`` - moto enforces that - if you need a timeout).

moto internals this relies on (checked against moto 5.2.5):

* ``moto.awslambda.models.LambdaFunction.invoke(self, body, request_headers,
  response_headers) -> bytes``: used by LambdaBackend.invoke (the Docker
  backend) and by moto's own integrations (SNS, S3 notifications, DynamoDB
  streams, ...). Patched.
* ``moto.awslambda_simple.models.LambdaSimpleBackend.invoke(self,
  function_name, qualifier, body, headers, response_headers) -> bytes``: the
  backend used for the Invoke API when ``lambda.use_docker`` is False. It does
  not call ``LambdaFunction.invoke``; patched to do so for routed functions.
* ``moto.awslambda.responses.LambdaResponse.invoke`` copies
  ``response_headers`` (incl. ``x-amz-function-error``) to the HTTP response;
  botocore exposes it as ``FunctionError``.
* Step Functions (``moto.stepfunctions.parser...lambda_eval_utils``) invokes
  Lambda with a fresh ``boto3.client("lambda")``: intercepted in-process under
  ``mock_aws``, or sent to ``http://localhost:$MOTO_PORT`` (default 5000) when
  moto runs as a server - set ``MOTO_PORT`` to the server's port.

The patch is process-wide (moto's backends are global), so it works both
under ``mock_aws`` and with an in-process ``ThreadedMotoServer``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.config import DefaultConfig

__all__ = [
    "DEFAULT_ROLE_NAME",
    "MOTO_CONFIG",
    "Handler",
    "LambdaContext",
    "create_functions",
    "install",
    "route_lambdas",
    "routed_functions",
    "uninstall",
    "wait_for_events",
]

LOG = logging.getLogger(__name__)

Handler = Callable[[Any, "LambdaContext"], Any]

#: mock_aws(config=...) / POST /moto-api/config body enabling real ASL execution
#: with Docker-less Lambda.
MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

DEFAULT_ROLE_NAME = "devstack-lambda-role"

_lock = threading.RLock()
_routes: dict[str, Handler] = {}
_strict = False
_originals: dict[str, Callable[..., Any]] = {}
_events: list[threading.Thread] = []  # asynchronous invocations, for wait_for_events


# --------------------------------------------------------------------------- context
@dataclass
class LambdaContext:
    """Subset of the Python runtime's context object."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    timeout_seconds: float
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _context_for(fn: LambdaFunction, request_id: str) -> LambdaContext:
    timeout = float(getattr(fn, "timeout", 3) or 3)
    return LambdaContext(
        function_name=fn.function_name,
        function_version=str(getattr(fn, "version", "$LATEST")),
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(getattr(fn, "memory_size", 128) or 128),
        aws_request_id=request_id,
        log_group_name=f"/aws/lambda/{fn.function_name}",
        log_stream_name=f"devstack/[{getattr(fn, 'version', '$LATEST')}]{request_id}",
        timeout_seconds=timeout,
        _deadline=time.monotonic() + timeout,
    )


# --------------------------------------------------------------------------- invocation
def _header(headers: Any, name: str, default: str) -> str:
    if not headers:
        return default
    for key, value in dict(headers).items():
        if key.lower() == name:
            return str(value)
    return default


def _decode_event(body: Any) -> Any:
    if body is None or body == "" or body == b"":
        return {}
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8")
    if isinstance(body, str):
        return json.loads(body)
    return body  # already decoded by the caller (e.g. LambdaFunction.invoke callers)


def _error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        # Skip our own _run_handler frame, like the real runtime does.
        "stackTrace": traceback.format_tb(
            exc.__traceback__.tb_next if exc.__traceback__ else None
        ),
    }


def _run_handler(
    handler: Handler, fn: LambdaFunction, body: Any
) -> tuple[bytes, bool]:
    """Returns (payload bytes, errored)."""
    request_id = str(uuid.uuid4())
    context = _context_for(fn, request_id)
    try:
        event = _decode_event(body)
        result = handler(event, context)
    except Exception as exc:
        LOG.warning("Lambda %s raised %s", fn.function_name, type(exc).__name__, exc_info=True)
        return json.dumps(_error_payload(exc, request_id)).encode(), True
    try:
        return json.dumps(result).encode(), False
    except (TypeError, ValueError) as exc:
        payload = {
            "errorMessage": f"Unable to marshal response: {exc}",
            "errorType": "Runtime.MarshalError",
            "requestId": request_id,
            "stackTrace": [],
        }
        return json.dumps(payload).encode(), True


def _missing_handler_payload(fn: LambdaFunction) -> bytes:
    return json.dumps(
        {
            "errorMessage": f"No devstack handler routed for function {fn.function_name!r}",
            "errorType": "Runtime.HandlerNotFound",
            "requestId": str(uuid.uuid4()),
            "stackTrace": [],
        }
    ).encode()


def _patched_function_invoke(
    self: LambdaFunction, body: Any, request_headers: Any, response_headers: Any
) -> Any:
    with _lock:
        handler = _routes.get(self.function_name)
        strict = _strict
    if handler is None:
        if strict:
            response_headers["x-amz-function-error"] = "Unhandled"
            return _missing_handler_payload(self)
        return _originals["LambdaFunction.invoke"](
            self, body, request_headers, response_headers
        )

    invocation_type = _header(request_headers, "x-amz-invocation-type", "RequestResponse")
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        thread = threading.Thread(
            target=_run_handler,
            args=(handler, self, body),
            name=f"devstack-lambda-{self.function_name}",
            daemon=True,
        )
        with _lock:
            _events[:] = [t for t in _events if t.is_alive()] + [thread]
        thread.start()
        return b""

    payload, errored = _run_handler(handler, self, body)
    if errored:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["x-amz-executed-version"] = str(getattr(self, "version", "$LATEST"))
    return payload


def _patched_simple_backend_invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> Any:
    with _lock:
        route_all = _strict
        names = set(_routes)
    # Resolve name / ARN / partial ARN (+ qualifier). Raises moto's
    # UnknownFunctionException (-> ResourceNotFoundException) if missing.
    if route_all or names:
        fn = self.get_function(function_name, qualifier)
        if route_all or fn.function_name in names:
            payload = fn.invoke(body, headers, response_headers)
            response_headers["Content-Length"] = str(len(payload))
            return payload
    return _originals["LambdaSimpleBackend.invoke"](
        self, function_name, qualifier, body, headers, response_headers
    )


def _apply_patches() -> None:
    if _originals:
        return
    _originals["LambdaFunction.invoke"] = LambdaFunction.invoke
    _originals["LambdaSimpleBackend.invoke"] = LambdaSimpleBackend.invoke
    LambdaFunction.invoke = _patched_function_invoke  # type: ignore[method-assign]
    LambdaSimpleBackend.invoke = _patched_simple_backend_invoke  # type: ignore[method-assign]


def _remove_patches() -> None:
    if not _originals:
        return
    LambdaFunction.invoke = _originals.pop("LambdaFunction.invoke")  # type: ignore[method-assign]
    LambdaSimpleBackend.invoke = _originals.pop("LambdaSimpleBackend.invoke")  # type: ignore[method-assign]


# --------------------------------------------------------------------------- public API
def install(handlers: Mapping[str, Handler], *, strict: bool | None = None) -> None:
    """Route the named functions to Python callables (process-wide, idempotent).

    Keys are Lambda *function names* (not ARNs); the Invoke call may use the
    name, full or partial ARN, with or without qualifier. Later calls add to /
    override earlier routes. ``strict=True`` makes invocations of functions
    without a handler fail with errorType ``Runtime.HandlerNotFound`` instead of
    moto's canned echo response.
    """
    global _strict
    with _lock:
        _apply_patches()
        _routes.update(handlers)
        if strict is not None:
            _strict = strict


def uninstall(names: Iterable[str] | None = None) -> None:
    """Remove the given routes (all if None); unpatch moto when none are left."""
    global _strict
    with _lock:
        if names is None:
            _routes.clear()
        else:
            for name in names:
                _routes.pop(name, None)
        if not _routes:
            _strict = False
            _remove_patches()


def wait_for_events(timeout: float = 20.0) -> None:
    """Wait until every asynchronous (``Event``) invocation started so far has finished (a
    test of what a hand-off did, or did not do). Raises TimeoutError if one is still running."""
    deadline = time.monotonic() + timeout
    with _lock:
        started = list(_events)
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            raise TimeoutError(f"{thread.name} still running after {timeout} s")


def routed_functions() -> dict[str, Handler]:
    with _lock:
        return dict(_routes)


@contextlib.contextmanager
def route_lambdas(
    handlers: Mapping[str, Handler], *, strict: bool = False
) -> Iterator[None]:
    """Context manager form of :func:`install`; restores previous routes on exit."""
    global _strict
    with _lock:
        previous_routes, previous_strict, was_patched = dict(_routes), _strict, bool(_originals)
        install(handlers, strict=strict)
    try:
        yield
    finally:
        with _lock:
            _routes.clear()
            _routes.update(previous_routes)
            _strict = previous_strict
            if not was_patched and not _routes:
                _remove_patches()


def _dummy_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "handler.py",
            "def handler(event, context):\n"
            "    raise RuntimeError('placeholder: routed by devstack.lambdas')\n",
        )
    return buf.getvalue()


def _ensure_role(iam_client: Any, role_name: str = DEFAULT_ROLE_NAME) -> str:
    try:
        return str(iam_client.get_role(RoleName=role_name)["Role"]["Arn"])
    except iam_client.exceptions.NoSuchEntityException:
        pass
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return str(iam_client.create_role(
        RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust), Path="/"
    )["Role"]["Arn"])


def create_functions(
    lambda_client: Any,
    iam_client_or_role_arn: Any,
    names: Iterable[str],
    *,
    runtime: str = "python3.13",
    timeout: int = 30,
    environment: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Create placeholder functions in moto so their ARNs exist. Idempotent.

    ``iam_client_or_role_arn``: an IAM role ARN, or a boto3 IAM client (a role
    named ``devstack-lambda-role`` is created if needed - moto's create_function
    checks that the role exists). Returns ``{name: function_arn}``.
    """
    if isinstance(iam_client_or_role_arn, str):
        role_arn = iam_client_or_role_arn
    else:
        role_arn = _ensure_role(iam_client_or_role_arn)
    code = _dummy_zip()
    arns: dict[str, str] = {}
    for name in names:
        try:
            arns[name] = lambda_client.get_function(FunctionName=name)["Configuration"][
                "FunctionArn"
            ]
            continue
        except lambda_client.exceptions.ResourceNotFoundException:
            pass
        kwargs: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": runtime,
            "Role": role_arn,
            "Handler": "handler.handler",
            "Code": {"ZipFile": code},
            "Timeout": timeout,
        }
        if environment:
            kwargs["Environment"] = {"Variables": dict(environment)}
        arns[name] = lambda_client.create_function(**kwargs)["FunctionArn"]
    return arns
