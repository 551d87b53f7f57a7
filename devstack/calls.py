"""Which AWS calls each Lambda function makes, and what IAM authorises each against: the
recording that `make iam` (infra/iam_check.py) checks against the functions' policies.

Locally every function's code runs in this process, each entry point inside `running(name)`
(by its logical id in the template: APIHandler, Pathway, Reconcile, Retention): the tests'
HTTP client stands in for API Gateway invoking APIHandler, moto's Step Functions and SES's
simulated events invoke Pathway, and `client.lambda_.invoke` is EventBridge's schedules. A
context variable carries the name, so a thread started meanwhile (another invocation, moto's
execution of the state machine) starts without it, as another Lambda invocation would. The
hook on the app's own AWS clients (`chalicelib.adapters.aws.CLIENT_HOOKS`) records each call
with the function running and the IAM action and resource ARNs AWS checks for it. A call made
while no function runs is a test's own (looking at what the app did) and is counted apart.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"  # moto's account: the ARNs AWS would check name it
NO_FUNCTION = "(a test's own call)"
# moto's Step Functions calls Lambda for the state machine's tasks with its role.
STATE_MACHINE = "PathwayStateMachine"
UNMODELLED = "?"  # a resource this module cannot yet say: the check refuses the call

FUNCTION: ContextVar[str | None] = ContextVar("phb_lambda_function", default=None)


@dataclass(frozen=True, order=True)
class Authorization:
    """One IAM request a call makes: the action, on every one of these resources."""

    action: str
    resources: tuple[str, ...]


@contextlib.contextmanager
def running(function: str) -> Iterator[None]:
    """AWS calls made inside are the named Lambda function's (its template logical id)."""
    token = FUNCTION.set(function)
    try:
        yield
    finally:
        FUNCTION.reset(token)


def as_function[F: Callable[..., Any]](function: str, handler: F) -> F:
    """The handler, running as the named Lambda function whenever it is invoked."""
    @functools.wraps(handler)
    def invoked(*args: Any, **kwargs: Any) -> Any:
        with running(function):
            return handler(*args, **kwargs)

    return invoked  # type: ignore[return-value]


# --------------------------------------------------------------------------- what IAM checks
def _arn(service: str, region: str, rest: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{rest}"


def _table(region: str, name: str, index: str | None = None) -> str:
    table = name if name.startswith("arn:") else _arn("dynamodb", region, f"table/{name}")
    return f"{table}/index/{index}" if index else table


# TransactWriteItems is authorised as each item's own action (DynamoDB's "Using IAM with
# transactions"); TransactGetItems as GetItem of each.
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def _dynamodb(operation: str, params: dict[str, Any], region: str) -> list[Authorization]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return sorted({Authorization(f"dynamodb:{TRANSACT_ACTIONS[kind]}",
                                     (_table(region, body["TableName"]),))
                       for item in params.get("TransactItems", [])
                       for kind, body in item.items()})
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [Authorization(f"dynamodb:{operation}", (_table(region, name),))
                for name in sorted(params.get("RequestItems", {}))]
    if "TableName" in params:
        return [Authorization(f"dynamodb:{operation}",
                              (_table(region, params["TableName"], params.get("IndexName")),))]
    return [Authorization(f"dynamodb:{operation}", (UNMODELLED,))]


def _states(operation: str, params: dict[str, Any], region: str) -> list[Authorization]:
    if operation.startswith("SendTask"):
        # A task token names no resource: IAM authorises these against "*" only.
        return [Authorization(f"states:{operation}", ("*",))]
    arn = params.get("executionArn") or params.get("stateMachineArn") or UNMODELLED
    return [Authorization(f"states:{operation}", (arn,))]


def _ses(operation: str, params: dict[str, Any], region: str) -> list[Authorization]:
    if operation not in ("SendRawEmail", "SendEmail"):
        return [Authorization(f"ses:{operation}", (UNMODELLED,))]
    source = str(params.get("Source", ""))
    address = source.rsplit("<", 1)[-1].rstrip(">").strip()
    identities: tuple[str, ...]
    if params.get("SourceArn"):
        identities = (str(params["SourceArn"]),)
    else:
        # SES authorises the verified identity the address is sent as: the address itself or
        # its domain, whichever the deployer verified (DEPLOY.md allows either), so both must
        # be allowed.
        identities = (_arn("ses", region, f"identity/{address}"),
                      _arn("ses", region, f"identity/{address.rsplit('@', 1)[-1]}"))
    # A configuration set named in the call is a resource SES checks of its own.
    named = params.get("ConfigurationSetName")
    sets = (_arn("ses", region, f"configuration-set/{named}"),) if named else ()
    return [Authorization(f"ses:{operation}", identities + sets)]


def _lambda(operation: str, params: dict[str, Any], region: str) -> list[Authorization]:
    action = {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeAsync"}.get(operation, operation)
    name = str(params.get("FunctionName", UNMODELLED))
    arn = name if name.startswith("arn:") else _arn("lambda", region, f"function:{name}")
    if params.get("Qualifier"):
        arn = f"{arn}:{params['Qualifier']}"
    return [Authorization(f"lambda:{action}", (arn,))]


def _sns(operation: str, params: dict[str, Any], region: str) -> list[Authorization]:
    return [Authorization(f"sns:{operation}", (params.get("TopicArn") or UNMODELLED,))]


def _ssm(operation: str, params: dict[str, Any], region: str) -> list[Authorization]:
    # A parameter's ARN is `parameter` then its name, whose leading slash is the separator.
    name = str(params.get("Name", UNMODELLED))
    return [Authorization(f"ssm:{operation}", (_arn("ssm", region,
                                                    f"parameter/{name.lstrip('/')}"),))]


SERVICES: dict[str, Callable[[str, dict[str, Any], str], list[Authorization]]] = {
    "dynamodb": _dynamodb, "states": _states, "ses": _ses, "lambda": _lambda, "sns": _sns,
    "ssm": _ssm}


def authorizations(prefix: str, operation: str, params: dict[str, Any],
                   region: str) -> list[Authorization]:
    """What IAM checks for one API call (`prefix` is the service's, e.g. `states`)."""
    model = SERVICES.get(prefix)
    if model is None:
        return [Authorization(f"{prefix}:{operation}", (UNMODELLED,))]
    return model(operation, params, region)


# --------------------------------------------------------------------------- the recording
class Recorder:
    """Every call the app's clients make, counted by function, operation and authorisation
    (with the first test that made each), from the moment `hook` is on a client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str, tuple[Authorization, ...]], list[Any]] = {}

    def hook(self, client: Any, as_function: str | None = None) -> None:
        """Record each call of this client (a `chalicelib.adapters.aws.CLIENT_HOOKS` hook):
        as the function running at the time, or always as `as_function`."""
        client.meta.events.register(
            "before-parameter-build", functools.partial(self._record, as_function))

    def _record(self, as_function: str | None, params: dict[str, Any], model: Any,
                **kwargs: Any) -> None:
        # IAM's prefix for the service is its signing name (SES's endpoint is `email`).
        prefix = model.service_model.signing_name
        operation = f"{prefix}:{model.name}"
        region = kwargs.get("context", {}).get("client_region") or os.environ.get(
            "AWS_DEFAULT_REGION", "eu-west-2")
        needed = tuple(authorizations(prefix, model.name, params, region))
        key = (as_function or FUNCTION.get() or NO_FUNCTION, operation, needed)
        test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
        with self._lock:
            entry = self._calls.setdefault(key, [0, test])
            entry[0] += 1

    def calls(self) -> list[dict[str, Any]]:
        """The recording as JSON-ready rows: function, operation, count, first test, and the
        authorisations (action and resources) IAM checks."""
        with self._lock:
            items = sorted(self._calls.items())
        return [{"function": function, "operation": operation, "count": count, "test": test,
                 "authorizations": [{"action": a.action, "resources": list(a.resources)}
                                    for a in needed]}
                for (function, operation, needed), (count, test) in items]

    def clear(self) -> None:
        """Forget what was recorded."""
        with self._lock:
            self._calls.clear()

    def write(self, path: Path) -> None:
        """Save the recording for infra/iam_check.py."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"calls": self.calls()}, indent=1) + "\n", encoding="utf-8")


RECORDER = Recorder()


def _hook_app_client(client: Any) -> None:
    RECORDER.hook(client)


def install() -> None:
    """Record the calls of every AWS client the app makes from now on (once)."""
    from chalicelib.adapters import aws

    if _hook_app_client not in aws.CLIENT_HOOKS:
        aws.CLIENT_HOOKS.append(_hook_app_client)
