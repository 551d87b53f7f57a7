"""Small, optional fixes for moto 5.2.5 bugs found in the devstack spike.

Both are process-wide and idempotent; ``apply_all()`` applies them.

* ``SendTaskFailure`` drops ``cause``: moto's ``StepFunctionResponse.send_task_failure``
  only forwards ``error`` to the backend, so a Catch sees ``"Cause": null``.
  :func:`fix_send_task_failure_cause` forwards it.
* ``GET /moto-api/data.json`` answers 500 as soon as one Lambda function exists
  and Docker is not available: it ``getattr``s every public attribute of every
  model and ``LambdaFunction.docker_client`` raises ``DockerException`` (only
  TypeError/AttributeError/ValueError are skipped).
  :func:`fix_data_json_without_docker` turns that into an AttributeError.
* ``StartExecution`` without ``name`` (execute_state_machine=True): moto names the
  execution ``None`` (ARN ``...:execution:<sm>:None``), so the 2nd nameless start
  raises ExecutionAlreadyExists - or, if the 1st is still RUNNING with the same
  input, silently returns the 1st. AWS generates a UUID.
  :func:`fix_start_execution_default_name` does the same.
"""

from __future__ import annotations

import functools
import threading
import uuid
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.core.responses import EmptyResult
from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse
from moto.utilities.docker_utilities import DockerModel

_original_send_task_failure = StepFunctionResponse.send_task_failure


def _send_task_failure(self: StepFunctionResponse) -> Any:
    backend = self.stepfunction_backend
    if not isinstance(backend, StepFunctionsParserBackend):  # non-executing backend: no cause arg
        return _original_send_task_failure(self)
    backend.send_task_failure(
        self._get_param("taskToken"),
        error=self._get_param("error"),
        cause=self._get_param("cause"),
    )
    return EmptyResult()


def fix_send_task_failure_cause() -> None:
    StepFunctionResponse.send_task_failure = _send_task_failure  # type: ignore[method-assign]


def _docker_client_or_attribute_error(self: LambdaFunction) -> Any:
    import docker.errors

    try:
        return DockerModel.docker_client.fget(self)  # type: ignore[attr-defined]
    except docker.errors.DockerException as exc:
        raise AttributeError(f"docker unavailable: {exc}") from exc


def fix_data_json_without_docker() -> None:
    # Only LambdaFunction is shadowed; DockerModel (used by Batch too) is untouched.
    LambdaFunction.docker_client = property(_docker_client_or_attribute_error)  # type: ignore[assignment]


_original_start_execution = StepFunctionsParserBackend.start_execution


@functools.wraps(_original_start_execution)
def _start_execution(self: StepFunctionsParserBackend, state_machine_arn: str, name: Any = None,
                     *args: Any, **kwargs: Any) -> Any:
    return _original_start_execution(self, state_machine_arn, name or str(uuid.uuid4()),
                                     *args, **kwargs)


def fix_start_execution_default_name() -> None:
    StepFunctionsParserBackend.start_execution = _start_execution  # type: ignore[method-assign]


_dynamodb_lock = threading.RLock()
_original_dynamodb_call = DynamoHandler.call_action


@functools.wraps(_original_dynamodb_call)
def _serialised_dynamodb_call(self: DynamoHandler) -> Any:
    with _dynamodb_lock:
        return _original_dynamodb_call(self)


def serialise_dynamodb() -> None:
    """moto's DynamoDB is not thread-safe: a transaction deep-copies items while another
    thread (a state machine task, a person's click) writes them. DynamoDB itself handles
    concurrent requests; here one request at a time gives the same results."""
    DynamoHandler.call_action = _serialised_dynamodb_call  # type: ignore[method-assign]


def apply_all() -> None:
    serialise_dynamodb()
    fix_send_task_failure_cause()
    fix_data_json_without_docker()
    fix_start_execution_default_name()
