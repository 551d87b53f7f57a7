"""Spike: real Step Functions execution in moto 5.2.5 with in-process Python Lambdas.

Run:  .venv/bin/python -m pytest devstack/test_spike.py -s   (-s shows timings)
"""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import socket
import threading
import time
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any, Callable

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from devstack import moto_patches
from devstack.lambdas import MOTO_CONFIG, create_functions, route_lambdas

# moto bug: Wait Timestamp/TimestampPath compares the UTC "Z" timestamp with the
# *local* naive clock (datetime.now()), so waits are off by the UTC offset unless TZ=UTC.
os.environ["TZ"] = "UTC"
time.tzset()

REGION = "eu-west-2"
ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/sfn-role"


# --------------------------------------------------------------------------- helpers
def substitute(definition: dict | str, values: dict[str, str]) -> str:
    """Poor man's DefinitionSubstitutions (moto has none): replace ${Key}."""
    text = definition if isinstance(definition, str) else json.dumps(definition)
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    assert "${" not in text, f"unsubstituted placeholder in {text}"
    return text


def wait_for(predicate: Callable[[], Any], timeout: float = 15, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting")


def wait_done(sfn, execution_arn: str, timeout: float = 15) -> dict:
    def done():
        d = sfn.describe_execution(executionArn=execution_arn)
        return d if d["status"] != "RUNNING" else None

    return wait_for(done, timeout)


def history(sfn, execution_arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def utc_z(when: dt.datetime) -> str:
    # moto only accepts ...Z (no +00:00 offsets) for Timestamp/TimestampPath
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ReferralNotFound(Exception):
    pass


class Timer:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.marks: list[tuple[str, float]] = []

    def mark(self, label: str) -> None:
        self.marks.append((label, time.monotonic() - self.t0))

    def report(self, title: str) -> None:
        print(f"\n[timings] {title}: " + ", ".join(f"{k}={v:.3f}s" for k, v in self.marks))


PIPELINE = {
    "Comment": "PHB Pathway spike",
    "StartAt": "LoadReferral",
    "States": {
        "LoadReferral": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${LoadReferralFn}", "Payload.$": "$"},
            "ResultSelector": {"referral.$": "$.Payload", "status.$": "$.StatusCode"},
            "ResultPath": "$.load",
            "Retry": [
                {
                    "ErrorEquals": ["ReferralNotFound"],
                    "IntervalSeconds": 1,  # moto minimum is 1 (real sleep)
                    "MaxAttempts": 2,
                    "BackoffRate": 1.0,
                }
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "LoadFailed"}],
            "Next": "IsUrgent",
        },
        "IsUrgent": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.load.referral.urgent", "BooleanEquals": True, "Next": "RequestApproval"}
            ],
            "Default": "WaitUntilNotifyAt",
        },
        "WaitUntilNotifyAt": {
            "Type": "Wait",
            "TimestampPath": "$.load.referral.notify_at",
            "Next": "RequestApproval",
        },
        "RequestApproval": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {
                "FunctionName": "${RequestApprovalArn}",
                "Payload": {"token.$": "$$.Task.Token", "referral_id.$": "$.load.referral.id"},
            },
            "ResultPath": "$.approval",
            "Catch": [{"ErrorEquals": ["ApprovalRejected"], "ResultPath": "$.error", "Next": "Rejected"}],
            "Next": "Approved",
        },
        "Approved": {"Type": "Succeed"},
        "Rejected": {"Type": "Pass", "Result": "rejected", "ResultPath": "$.outcome", "End": True},
        "LoadFailed": {"Type": "Pass", "Result": "load-failed", "ResultPath": "$.outcome", "End": True},
    },
}


class Handlers:
    """Python 'Lambdas' for the pipeline; records calls and task tokens."""

    def __init__(self, fail_first: int = 1, urgent: bool = False, wait_seconds: int = 2,
                 error: type[Exception] = ReferralNotFound) -> None:
        self.fail_first, self.urgent, self.wait_seconds, self.error = fail_first, urgent, wait_seconds, error
        self.load_calls: list[tuple[float, dict]] = []
        self.tokens: dict[str, str] = {}
        self.contexts: list[Any] = []

    def load_referral(self, event: dict, context: Any) -> dict:
        self.load_calls.append((time.monotonic(), event))
        self.contexts.append(context)
        if len(self.load_calls) <= self.fail_first:
            raise self.error(f"referral {event['referral_id']} not found yet")
        notify_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=self.wait_seconds)
        return {"id": event["referral_id"], "urgent": self.urgent, "notify_at": utc_z(notify_at)}

    def request_approval(self, event: dict, context: Any) -> dict:
        self.tokens[event["referral_id"]] = event["token"]
        return {"queued": True}

    def routes(self) -> dict:
        return {"load_referral": self.load_referral, "request_approval": self.request_approval}


def deploy_pipeline(sfn, lam, iam) -> str:
    arns = create_functions(lam, iam, ["load_referral", "request_approval"])
    definition = substitute(
        PIPELINE,
        {"LoadReferralFn": "load_referral", "RequestApprovalArn": arns["request_approval"]},
    )
    return sfn.create_state_machine(name="pathway", definition=definition, roleArn=ROLE_ARN)[
        "stateMachineArn"
    ]


# --------------------------------------------------------------------------- in-process fixture
@pytest.fixture
def aws():
    with mock_aws(config=MOTO_CONFIG):
        yield {
            name: boto3.client(name, region_name=REGION)
            for name in ("stepfunctions", "lambda", "iam", "ses")
        }


# --------------------------------------------------------------------------- in-process tests
def test_lambda_invoke_api_routes_to_python(aws):
    lam = aws["lambda"]
    seen = {}

    def echo(event, context):
        seen["ctx"] = context
        return {"got": event, "fn": context.function_name}

    def boom(event, context):
        raise ReferralNotFound("nope")

    with route_lambdas({"echo": echo, "boom": boom}):
        arns = create_functions(lam, aws["iam"], ["echo", "boom", "echo"])
        r = lam.invoke(FunctionName=arns["echo"], Payload=json.dumps({"a": 1}))
        assert "FunctionError" not in r
        assert json.loads(r["Payload"].read()) == {"got": {"a": 1}, "fn": "echo"}
        assert seen["ctx"].invoked_function_arn == arns["echo"]
        assert 0 < seen["ctx"].get_remaining_time_in_millis() <= 30_000

        r = lam.invoke(FunctionName="boom", Payload=b"{}")
        assert r["FunctionError"] == "Unhandled"
        body = json.loads(r["Payload"].read())
        assert body["errorType"] == "ReferralNotFound" and body["errorMessage"] == "nope"
        assert "test_spike.py" in body["stackTrace"][0]

    # outside the context manager moto's canned Docker-less behaviour is back (echoes the body)
    r = lam.invoke(FunctionName="echo", Payload=b'{"x": 2}')
    assert json.loads(r["Payload"].read()) == {"x": 2}


def test_pipeline_retry_choice_wait_and_task_token(aws):
    sfn, lam, iam = aws["stepfunctions"], aws["lambda"], aws["iam"]
    h = Handlers(fail_first=1, urgent=False, wait_seconds=2)
    with route_lambdas(h.routes()):
        sm_arn = deploy_pipeline(sfn, lam, iam)
        timer = Timer()
        ex_arn = sfn.start_execution(
            stateMachineArn=sm_arn, name="ref-1", input=json.dumps({"referral_id": "R1"})
        )["executionArn"]
        timer.mark("start_execution returned")
        wait_for(lambda: len(h.load_calls) >= 1)
        timer.mark("1st lambda call")
        wait_for(lambda: len(h.load_calls) >= 2)
        timer.mark("2nd lambda call (after Retry)")
        token = wait_for(lambda: h.tokens.get("R1"))
        timer.mark("task token handed to lambda (after Wait)")
        sfn.send_task_success(taskToken=token, output=json.dumps({"approved_by": "gp-42"}))
        done = wait_done(sfn, ex_arn)
        timer.mark("SUCCEEDED visible")
        timer.report("pipeline")

    assert done["status"] == "SUCCEEDED", done
    out = json.loads(done["output"])
    assert out["load"]["status"] == 200
    assert out["load"]["referral"]["id"] == "R1"
    assert out["approval"] == {"approved_by": "gp-42"}
    gap = h.load_calls[1][0] - h.load_calls[0][0]
    assert 0.9 < gap < 2.5, gap  # IntervalSeconds=1 is a real sleep
    events = history(sfn, ex_arn)
    types = [e["type"] for e in events]
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert failed[0]["error"] == "ReferralNotFound"
    assert json.loads(failed[0]["cause"])["errorMessage"] == "referral R1 not found yet"
    assert "WaitStateEntered" in types and "ChoiceStateEntered" in types
    assert types[-1] == "ExecutionSucceeded"


def test_choice_urgent_skips_wait(aws):
    sfn = aws["stepfunctions"]
    h = Handlers(fail_first=0, urgent=True, wait_seconds=3600)
    with route_lambdas(h.routes()):
        sm_arn = deploy_pipeline(sfn, aws["lambda"], aws["iam"])
        t0 = time.monotonic()
        ex_arn = sfn.start_execution(stateMachineArn=sm_arn, input='{"referral_id": "R2"}')["executionArn"]
        token = wait_for(lambda: h.tokens.get("R2"))
        print(f"\n[timings] urgent path: token after {time.monotonic() - t0:.3f}s")
        sfn.send_task_success(taskToken=token, output="{}")
        assert wait_done(sfn, ex_arn)["status"] == "SUCCEEDED"
    assert "WaitStateEntered" not in [e["type"] for e in history(sfn, ex_arn)]


@pytest.mark.parametrize("catch_on", ["ValueError", "States.TaskFailed", "States.ALL"])
def test_unretried_error_is_caught(aws, catch_on):
    sfn, lam = aws["stepfunctions"], aws["lambda"]

    def bad(event, context):
        raise ValueError("bad referral")

    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "bad", "Payload.$": "$"},
                "Retry": [{"ErrorEquals": ["ReferralNotFound"], "MaxAttempts": 3}],
                "Catch": [{"ErrorEquals": [catch_on], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    with route_lambdas({"bad": bad}):
        create_functions(lam, aws["iam"], ["bad"])
        sm = sfn.create_state_machine(name="c", definition=json.dumps(definition), roleArn=ROLE_ARN)
        ex_arn = sfn.start_execution(stateMachineArn=sm["stateMachineArn"], input="{}")["executionArn"]
        done = wait_done(sfn, ex_arn)
    assert done["status"] == "SUCCEEDED"
    err = json.loads(done["output"])["error"]
    assert err["Error"] == "ValueError"
    cause = json.loads(err["Cause"])
    assert cause["errorType"] == "ValueError" and cause["errorMessage"] == "bad referral"


def test_retry_exhausted_then_caught_and_direct_arn_resource(aws):
    """Legacy Resource = function ARN form, error surfaces the same way."""
    sfn, lam = aws["stepfunctions"], aws["lambda"]
    calls = []

    def always(event, context):
        calls.append(event)
        raise ReferralNotFound("still missing")

    with route_lambdas({"always": always}):
        arn = create_functions(lam, aws["iam"], ["always"])["always"]
        definition = {
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": arn,
                    "Retry": [{"ErrorEquals": ["ReferralNotFound"], "IntervalSeconds": 1,
                               "MaxAttempts": 1}],
                    "Catch": [{"ErrorEquals": ["ReferralNotFound"], "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {"Type": "Pass", "End": True},
            },
        }
        sm = sfn.create_state_machine(name="d", definition=json.dumps(definition), roleArn=ROLE_ARN)
        ex_arn = sfn.start_execution(stateMachineArn=sm["stateMachineArn"], input='{"k": 1}')["executionArn"]
        done = wait_done(sfn, ex_arn)
    assert done["status"] == "SUCCEEDED" and len(calls) == 2 and calls[0] == {"k": 1}
    assert json.loads(done["output"])["Error"] == "ReferralNotFound"


@pytest.mark.parametrize("fix_cause", [False, True])
def test_send_task_failure_is_caught(aws, fix_cause):
    sfn = aws["stepfunctions"]
    h = Handlers(fail_first=0, urgent=True)
    if fix_cause:
        moto_patches.fix_send_task_failure_cause()
    try:
        with route_lambdas(h.routes()):
            sm_arn = deploy_pipeline(sfn, aws["lambda"], aws["iam"])
            ex_arn = sfn.start_execution(stateMachineArn=sm_arn, input='{"referral_id": "R3"}')["executionArn"]
            token = wait_for(lambda: h.tokens.get("R3"))
            sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause="GP said no")
            done = wait_done(sfn, ex_arn)
            # token is spent: reusing it is rejected
            with pytest.raises(ClientError) as exc:
                sfn.send_task_success(taskToken=token, output="{}")
            print(f"\n[answer] reuse of spent token -> {exc.value.response['Error']['Code']}")
    finally:
        moto_patches.undo_send_task_failure_cause_fix()
    out = json.loads(done["output"])
    assert out["outcome"] == "rejected"
    # moto bug: SendTaskFailure drops `cause` unless devstack.moto_patches is applied
    expected_cause = "GP said no" if fix_cause else None
    assert out["error"] == {"Error": "ApprovalRejected", "Cause": expected_cause}


def test_lambda_service_and_runtime_errors(aws):
    sfn, lam = aws["stepfunctions"], aws["lambda"]

    def unserialisable(event, context):
        return {"when": dt.datetime.now()}

    def task(fn: str) -> dict:
        return {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": fn, "Payload": {}},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
            "End": True,
        }

    results = {}
    with route_lambdas({"marshal": unserialisable}, strict=True):
        create_functions(lam, aws["iam"], ["marshal", "unrouted"])
        for fn in ("marshal", "unrouted", "does-not-exist"):
            definition = {"StartAt": "T", "States": {"T": task(fn), "Caught": {"Type": "Pass", "End": True}}}
            sm = sfn.create_state_machine(name=f"e-{fn}", definition=json.dumps(definition), roleArn=ROLE_ARN)
            ex_arn = sfn.start_execution(stateMachineArn=sm["stateMachineArn"])["executionArn"]
            results[fn] = json.loads(wait_done(sfn, ex_arn)["output"])["Error"]
    assert results == {
        "marshal": "Runtime.MarshalError",
        "unrouted": "Runtime.HandlerNotFound",
        "does-not-exist": "Lambda.ResourceNotFoundException",
    }


def test_start_execution_same_name(aws):
    sfn = aws["stepfunctions"]
    h = Handlers(fail_first=0, urgent=True)
    with route_lambdas(h.routes()):
        sm_arn = deploy_pipeline(sfn, aws["lambda"], aws["iam"])
        inp = '{"referral_id": "R4"}'
        first = sfn.start_execution(stateMachineArn=sm_arn, name="dup", input=inp)["executionArn"]
        # same name + same input while RUNNING -> idempotent, same ARN (as AWS Standard)
        again = sfn.start_execution(stateMachineArn=sm_arn, name="dup", input=inp)["executionArn"]
        assert again == first
        # same name, different input -> ExecutionAlreadyExists
        with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
            sfn.start_execution(stateMachineArn=sm_arn, name="dup", input='{"referral_id": "other"}')
        token = wait_for(lambda: h.tokens.get("R4"))
        sfn.send_task_success(taskToken=token, output="{}")
        wait_done(sfn, first)
        # same name + same input after it finished -> ExecutionAlreadyExists
        with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
            sfn.start_execution(stateMachineArn=sm_arn, name="dup", input=inp)


def test_start_execution_without_name(aws):
    """moto bug: nameless executions are all called 'None'; moto_patches fixes it."""
    sfn = aws["stepfunctions"]
    d = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    sm_arn = sfn.create_state_machine(name="n", definition=json.dumps(d), roleArn=ROLE_ARN)["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=sm_arn)["executionArn"]
    assert first.endswith(":None")
    wait_done(sfn, first)
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=sm_arn)
    moto_patches.fix_start_execution_default_name()
    try:
        a = sfn.start_execution(stateMachineArn=sm_arn)["executionArn"]
        b = sfn.start_execution(stateMachineArn=sm_arn)["executionArn"]
    finally:
        moto_patches.undo_start_execution_default_name_fix()
    assert a != b and not a.endswith(":None")
    assert wait_done(sfn, b)["status"] == "SUCCEEDED"


def _token_machine(extra: dict, catch_on: list[str] | None = None) -> str:
    catch_on = catch_on or ["States.Timeout", "States.HeartbeatTimeout"]
    return json.dumps({
        "StartAt": "Wait4Token",
        "States": {
            "Wait4Token": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "request_approval",
                               "Payload": {"token.$": "$$.Task.Token", "referral_id.$": "$.id"}},
                "Catch": [{"ErrorEquals": catch_on, "ResultPath": "$.error", "Next": "TimedOut"}],
                **extra,
                "End": True,
            },
            "TimedOut": {"Type": "Pass", "End": True},
        },
    })


@pytest.mark.parametrize(
    "extra, catch_on, expected_status, expected_error",
    [
        ({"TimeoutSeconds": 1}, ["States.Timeout"], "SUCCEEDED", "States.Timeout"),
        # moto reports a heartbeat timeout as States.Timeout (AWS: States.HeartbeatTimeout,
        # which a States.Timeout catcher also matches) ...
        ({"TimeoutSeconds": 30, "HeartbeatSeconds": 1}, ["States.Timeout"], "SUCCEEDED",
         "States.Timeout"),
        # ... so a catcher on States.HeartbeatTimeout alone does NOT fire in moto.
        ({"TimeoutSeconds": 30, "HeartbeatSeconds": 1}, ["States.HeartbeatTimeout"], "FAILED",
         "States.Timeout"),
    ],
    ids=["timeout", "heartbeat-caught-as-timeout", "heartbeat-only-catcher-misses"],
)
def test_wait_for_task_token_timeouts_are_enforced(aws, extra, catch_on, expected_status,
                                                   expected_error):
    sfn = aws["stepfunctions"]
    h = Handlers()
    with route_lambdas(h.routes()):
        create_functions(aws["lambda"], aws["iam"], ["request_approval"])
        sm = sfn.create_state_machine(name="t", definition=_token_machine(extra, catch_on),
                                      roleArn=ROLE_ARN)
        t0 = time.monotonic()
        ex_arn = sfn.start_execution(stateMachineArn=sm["stateMachineArn"], input='{"id": "T"}')["executionArn"]
        token = wait_for(lambda: h.tokens.get("T"))
        done = wait_done(sfn, ex_arn)
        print(f"\n[timings] {extra}: timed out after {time.monotonic() - t0:.3f}s")
        with pytest.raises(ClientError) as exc:
            sfn.send_task_success(taskToken=token, output="{}")
        print(f"[answer] send_task_success after timeout -> {exc.value.response['Error']['Code']}")
    assert done["status"] == expected_status
    if expected_status == "SUCCEEDED":
        assert json.loads(done["output"])["error"]["Error"] == expected_error
    else:
        assert done["error"] == expected_error


def test_heartbeat_keeps_task_alive(aws):
    sfn = aws["stepfunctions"]
    h = Handlers()
    with route_lambdas(h.routes()):
        create_functions(aws["lambda"], aws["iam"], ["request_approval"])
        sm = sfn.create_state_machine(
            name="hb", definition=_token_machine({"TimeoutSeconds": 30, "HeartbeatSeconds": 1}),
            roleArn=ROLE_ARN,
        )
        ex_arn = sfn.start_execution(stateMachineArn=sm["stateMachineArn"], input='{"id": "H"}')["executionArn"]
        token = wait_for(lambda: h.tokens.get("H"))
        for _ in range(4):  # 2s total > HeartbeatSeconds
            time.sleep(0.5)
            sfn.send_task_heartbeat(taskToken=token)
        sfn.send_task_success(taskToken=token, output='{"ok": true}')
        done = wait_done(sfn, ex_arn)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"ok": True}


def test_lambda_task_timeout_seconds(aws):
    """TimeoutSeconds on a plain lambda:invoke task: slow handler -> States.Timeout."""
    sfn = aws["stepfunctions"]

    def slow(event, context):
        time.sleep(2)
        return {}

    definition = {
        "StartAt": "Slow",
        "States": {
            "Slow": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "slow"}, "TimeoutSeconds": 1, "End": True,
            }
        },
    }
    with route_lambdas({"slow": slow}):
        create_functions(aws["lambda"], aws["iam"], ["slow"])
        sm = sfn.create_state_machine(name="slow", definition=json.dumps(definition), roleArn=ROLE_ARN)
        ex_arn = sfn.start_execution(stateMachineArn=sm["stateMachineArn"])["executionArn"]
        done = wait_done(sfn, ex_arn)
        time.sleep(1.2)  # let the orphaned handler thread finish inside the mock
    assert done["status"] == "FAILED" and done["error"] == "States.Timeout"


def test_no_definition_substitutions(aws):
    """moto has no DefinitionSubstitutions: ${X} stays a literal string."""
    sfn = aws["stepfunctions"]
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": "${Thing}"}, "End": True}}}
    sm = sfn.create_state_machine(name="s", definition=json.dumps(definition), roleArn=ROLE_ARN)
    ex_arn = sfn.start_execution(stateMachineArn=sm["stateMachineArn"])["executionArn"]
    assert json.loads(wait_done(sfn, ex_arn)["output"]) == {"v": "${Thing}"}


def test_string_output_is_not_json_encoded(aws):
    """moto quirk: a bare string result comes back unquoted ('x', AWS: '"x"')."""
    sfn = aws["stepfunctions"]
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "x", "End": True}}}
    sm = sfn.create_state_machine(name="str", definition=json.dumps(definition), roleArn=ROLE_ARN)
    ex_arn = sfn.start_execution(stateMachineArn=sm["stateMachineArn"])["executionArn"]
    assert wait_done(sfn, ex_arn)["output"] == "x"


# --------------------------------------------------------------------------- SES (in-process)
def _mime(sender: str, to: str) -> str:
    msg = MIMEMultipart("alternative")
    msg["Subject"], msg["From"], msg["To"] = "Referral R1", sender, to
    msg.attach(MIMEText("plain body", "plain"))
    msg.attach(MIMEText("<p>html body</p>", "html"))
    return msg.as_string()


def test_ses_in_process(aws):
    from moto.ses.models import ses_backends

    ses = aws["ses"]
    sender, to = "noreply@phb.example.nhs.uk", "patient@example.com"
    message = {
        "Subject": {"Data": "Your referral"},
        "Body": {"Text": {"Data": "plain body"}, "Html": {"Data": "<p>html body</p>"}},
    }
    with pytest.raises(ClientError) as exc:
        ses.send_email(Source=sender, Destination={"ToAddresses": [to]}, Message=message)
    assert exc.value.response["Error"]["Code"] == "MessageRejected"

    ses.verify_email_identity(EmailAddress=sender)  # or ses.verify_domain_identity(Domain=...)
    msg_id = ses.send_email(Source=sender, Destination={"ToAddresses": [to]}, Message=message)["MessageId"]
    raw_id = ses.send_raw_email(RawMessage={"Data": _mime(sender, to)})["MessageId"]

    sent = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    simple, raw = sent
    assert (simple.id, simple.source, simple.subject) == (msg_id, sender, "Your referral")
    assert simple.destinations == {"ToAddresses": [to]}
    assert simple.body == "<p>html body</p>"  # moto keeps only Html when both are given
    assert raw.id == raw_id and raw.source == sender and raw.destinations == [to]
    parsed = email.message_from_string(raw.raw_data)
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in parsed.walk()
             if not p.is_multipart()}
    assert parts == {"text/plain": "plain body", "text/html": "<p>html body</p>"}


# --------------------------------------------------------------------------- server mode
@pytest.fixture
def moto_server(monkeypatch):
    with socket.socket() as s:  # pick a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # moto's Step Functions interpreter calls Lambda at http://localhost:$MOTO_PORT
    monkeypatch.setenv("MOTO_PORT", str(port))
    # GET/POST /moto-api/config only *echoes* batch+lambda, but POST does set stepfunctions.
    before = {k: dict(default_user_config[k]) for k in ("lambda", "stepfunctions")}
    r = requests.post(f"{url}/moto-api/config", json=MOTO_CONFIG)
    assert r.status_code == 201 and r.json()["lambda"] == {"use_docker": False}
    assert default_user_config["stepfunctions"] == {"execute_state_machine": True}
    kw = dict(endpoint_url=url, region_name=REGION,
              aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        yield url, {n: boto3.client(n, **kw) for n in ("stepfunctions", "lambda", "iam", "ses")}
    finally:
        requests.post(f"{url}/moto-api/reset")
        requests.post(f"{url}/moto-api/config", json=before)
        server.stop()


def test_server_mode_pipeline_and_ses(moto_server):
    url, c = moto_server
    sfn = c["stepfunctions"]
    h = Handlers(fail_first=1, urgent=True)
    with route_lambdas(h.routes()):
        sm_arn = deploy_pipeline(sfn, c["lambda"], c["iam"])
        timer = Timer()
        ex_arn = sfn.start_execution(stateMachineArn=sm_arn, name="srv", input='{"referral_id": "S1"}')[
            "executionArn"
        ]
        token = wait_for(lambda: h.tokens.get("S1"))
        timer.mark("token (after 1 retry)")
        sfn.send_task_success(taskToken=token, output='{"approved_by": "srv"}')
        done = wait_done(sfn, ex_arn)
        timer.mark("SUCCEEDED visible")
        timer.report("server-mode pipeline")
        with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
            sfn.start_execution(stateMachineArn=sm_arn, name="srv", input='{"referral_id": "S1"}')
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["approval"] == {"approved_by": "srv"}
    assert len(h.load_calls) == 2

    ses = c["ses"]
    ses.verify_domain_identity(Domain="phb.example.nhs.uk")  # whole domain may send
    sender, to = "noreply@phb.example.nhs.uk", "patient@example.com"
    ses.send_email(
        Source=sender, Destination={"ToAddresses": [to]},
        Message={"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "t"}, "Html": {"Data": "<b>h</b>"}}},
    )
    ses.send_raw_email(RawMessage={"Data": _mime(sender, to)})

    # (a) server runs in this process -> read the backend directly (always works)
    from moto.ses.models import ses_backends
    assert [type(m).__name__ for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages] == [
        "Message", "RawMessage"]
    # (b) /moto-api/data.json: moto bug -> 500 while a Lambda function exists without Docker
    assert requests.get(f"{url}/moto-api/data.json").status_code == 500
    moto_patches.fix_data_json_without_docker()
    try:
        data = requests.get(f"{url}/moto-api/data.json").json()
    finally:
        moto_patches.undo_data_json_fix()
    msgs = data["ses"]["Message"]
    raws = data["ses"]["RawMessage"]
    assert [(m["subject"], m["body"], m["destinations"]) for m in msgs] == [
        ("Hi", "<b>h</b>", {"ToAddresses": [to]})
    ]
    assert raws[0]["source"] == sender and "text/plain" in raws[0]["raw_data"]
