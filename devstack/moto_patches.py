"""Small, optional fixes for moto 5.2.5 bugs found in the devstack spike.

All are process-wide and idempotent; ``apply_all()`` applies them.

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
* Every execution parses its definition with ANTLR again (about 0.2 s):
  :func:`cache_parse_trees` keeps each definition's parse tree; and every Lambda task makes a
  new boto3 client: :func:`reuse_task_clients` keeps one (and records its calls for the IAM
  check, as the state machine's role's: devstack/calls.py).
* ``SendRawEmail`` naming a configuration set that does not exist is sent: SES refuses it
  (``ConfigurationSetDoesNotExist``). :func:`refuse_unknown_configuration_set` does too.
"""

from __future__ import annotations

import functools
import threading
import uuid
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.core.responses import EmptyResult
from moto.dynamodb.responses import DynamoHandler
from moto.ses.exceptions import ConfigurationSetDoesNotExist
from moto.ses.responses import EmailResponse
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
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


_parse_trees: dict[str, Any] = {}
_original_parse = AmazonStateLanguageParser.parse


def _parse_with_cached_tree(definition: str) -> tuple[Any, Any]:
    # ANTLR reads the same definition again for every execution (about 0.2 s each here). The
    # parse tree is only read by the preprocessor, so keep it; the components the executions
    # run (which hold per-run state) are still made afresh each time.
    tree = _parse_trees.get(definition)
    if tree is None:
        program, tree = _original_parse(definition)
        _parse_trees[definition] = tree
        return program, tree
    return Preprocessor().visit(tree), tree


def cache_parse_trees() -> None:
    """Parse each state machine definition once per process (moto parses it per execution)."""
    AmazonStateLanguageParser.parse = staticmethod(_parse_with_cached_tree)  # type: ignore[method-assign]


_clients: dict[tuple[Any, ...], Any] = {}


def _cached_client(region: str, service: str, state_credentials: Any = None) -> Any:
    # A boto3 client takes about 15 ms to make; the engine made one for every Lambda task.
    # Clients are thread-safe; one per session, endpoint and region is reused.
    import boto3
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port

    key = (id(boto3.DEFAULT_SESSION), botocore_stubber.enabled, moto_server_port(), region,
           service)
    if key not in _clients:
        from devstack import calls

        made = _original_client_for(region, service, state_credentials)
        calls.RECORDER.hook(made, as_function=calls.STATE_MACHINE)
        _clients[key] = made
    return _clients[key]


_original_client_for = boto_client_for


def reuse_task_clients() -> None:
    """Step Functions' Lambda tasks share one client (moto makes one per invocation)."""
    # lambda_eval_utils imported the name itself: replace it there.
    setattr(lambda_eval_utils, "boto_client_for", _cached_client)  # noqa: B010


_original_send_raw_email = EmailResponse.send_raw_email


@functools.wraps(_original_send_raw_email)
def _send_raw_email(self: EmailResponse) -> Any:
    name = self._get_param("ConfigurationSetName")
    if name and name not in self.backend.config_sets:
        raise ConfigurationSetDoesNotExist(f"Configuration set <{name}> does not exist.")
    return _original_send_raw_email(self)


def refuse_unknown_configuration_set() -> None:
    """An email naming a configuration set that does not exist is refused, as by SES."""
    EmailResponse.send_raw_email = _send_raw_email  # type: ignore[method-assign]


def apply_all() -> None:
    refuse_unknown_configuration_set()
    serialise_dynamodb()
    cache_parse_trees()
    reuse_task_clients()
    fix_send_task_failure_cause()
    fix_data_json_without_docker()
    fix_start_execution_default_name()
