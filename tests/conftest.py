"""Fake credentials, one moto stack for the whole session with the real state machine
executing, and the app under test.

The stack (the table, the state machine from infra/pathway.asl.json, an SES identity, the
pathway Lambda routed to the app's own function in this process) is built once per session and
made fresh for each test that asks for it: running executions stopped, the table emptied, the
outbox cleared. Tests of the use cases run on the in-memory adapters instead (`memory`).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.polling import wait_for
from devstack.stack import base_environment

# moto compares Wait-state timestamps with the local clock: run the tests in UTC.
os.environ["TZ"] = "UTC"
time.tzset()
os.environ.update(base_environment("http://testserver"))
os.environ["PHB_STAGE"] = "test"
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


class SessionStack:
    """The session's moto, started on first use; stopped while a test module runs the system
    as `make run` does (its moto server shares moto's backends), and started again after."""

    def __init__(self) -> None:
        self.mock: Any = None
        self.stack: Any = None

    def ensure(self) -> Any:
        if self.stack is None:
            from moto import mock_aws

            import app as application
            from devstack import stack

            self.mock = mock_aws(config=stack.MOTO_CONFIG)
            self.mock.start()
            stack.forget_settings_and_clients()
            self.stack = stack.create(application.pathway)
        return self.stack

    def fresh(self) -> Any:
        """The stack as new: no execution running, an empty table, the sender verified, an empty
    outbox."""
        import boto3

        from chalicelib.adapters.dynamo import table_definition
        from devstack import faults, outbox, stack

        created = self.ensure()
        faults.clear()
        dynamodb = boto3.client("dynamodb", region_name=stack.REGION)
        self.stop_executions_of_referrals_in(dynamodb, created)
        dynamodb.delete_table(TableName=created.table_name)
        dynamodb.create_table(**table_definition(created.table_name))
        # A test may have removed the sender's identity to make SES refuse: verify it again.
        boto3.client("ses", region_name=stack.REGION).verify_email_identity(
            EmailAddress=stack.SENDER)
        outbox.clear()
        os.environ["PHB_STATE_MACHINE_ARN"] = created.state_machine_arn
        # Settings are read again (a test may have changed one); the AWS clients stay: the
        # endpoint is the same moto all session.
        forget_settings()
        return created

    @staticmethod
    def stop_executions_of_referrals_in(dynamodb: Any, created: Any) -> None:
        """Stop the execution of each referral the last test stored (an execution is named by
        its referral's reference), so none acts on the next test's table. Listing every
        execution of the session's state machine instead grows slower with each test."""
        import contextlib

        import boto3

        from chalicelib.adapters.stepfunctions import execution_arn
        from devstack import stack

        sfn = boto3.client("stepfunctions", region_name=stack.REGION)
        items = dynamodb.scan(TableName=created.table_name, ProjectionExpression="#r, #p",
                              FilterExpression="sk = :r", ExpressionAttributeNames={
                                  "#r": "reference", "#p": "progress"},
                              ExpressionAttributeValues={":r": {"S": "REFERRAL"}})["Items"]
        for item in items:
            # Each attempt: a resumed referral runs as `<reference>-<attempt>`.
            progress = json.loads(item.get("progress", {}).get("S", "{}"))
            for attempt in range(1, int(progress.get("attempt", 1)) + 1):
                with contextlib.suppress(Exception):  # never started, or finished already
                    sfn.stop_execution(executionArn=execution_arn(
                        created.state_machine_arn, item["reference"]["S"], attempt))

    def stop(self) -> None:
        if self.mock is not None:
            from devstack import lambdas, stack

            stack.stop_executions(self.stack.state_machine_arn)
            lambdas.uninstall()
            self.mock.stop()
            stack.forget_settings_and_clients()
        self.mock = self.stack = None


SESSION = SessionStack()
ROOT = Path(__file__).resolve().parent.parent
# Every AWS call the functions made in this session, for `make iam` (infra/iam_check.py).
RECORDING = ROOT / "build" / "iam-calls.json"
# Runs after every other test: it checks the calls they all made.
LAST = "tests/test_iam.py::test_every_call_each_function_made_is_allowed_by_its_policy"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.nodeid.startswith(LAST))  # stable: the rest keep order


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from devstack import calls

    if calls.RECORDER.calls():
        calls.RECORDER.write(RECORDING)


@pytest.fixture(scope="session")
def packaged() -> subprocess.CompletedProcess[str]:
    """`make package`, once a session: out/deployment.zip and out/sam.json."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(
        ["make", "package"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="session")
def template(packaged: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The packaged SAM template, out/sam.json."""
    assert packaged.returncode == 0, f"make package failed:\n{packaged.stdout}\n{packaged.stderr}"
    result: dict[str, Any] = json.loads((ROOT / "out" / "sam.json").read_text(encoding="utf-8"))
    return result


@pytest.fixture(scope="session")
def translated(template: dict[str, Any]) -> dict[str, Any]:
    """SAM's translation of the packaged template into CloudFormation (the rehearsal's)."""
    from infra.rehearsal import translate

    return translate(template)


@pytest.fixture(scope="session", autouse=True)
def _stop_the_session_stack() -> Iterator[None]:
    yield
    SESSION.stop()


@pytest.fixture
def aws_stack() -> Iterator[Any]:
    created = SESSION.fresh()
    yield created
    # The next test's fresh stack stops this one's executions (and the session's end, all).
    forget_settings()


def forget_settings() -> None:
    from chalicelib import bootstrap
    from chalicelib.config import get_settings

    get_settings.cache_clear()
    bootstrap.reset()


@pytest.fixture
def client(aws_stack: Any) -> Iterator[Any]:
    import app as application
    from devstack.testclient import browser_client

    with browser_client(application.app, stage_name="local") as test_client:
        yield test_client


@pytest.fixture
def api(client: Any) -> Callable[..., Any]:
    def post(body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None) -> Any:
        return client.http.post(
            "/api/referrals",
            headers={"Content-Type": "application/json", **(headers or {})},
            body=raw if raw is not None else json.dumps(body),
        )

    return post


@pytest.fixture
def memory() -> Iterator[Any]:
    """The app's use cases on the in-memory store, mailer and workflow (no AWS at all); the
    same adapters serve every request of the test, whatever the settings."""
    from chalicelib import bootstrap
    from chalicelib.adapters.background import InlineBackground
    from chalicelib.adapters.memory import MemoryMailer, MemoryStore
    from chalicelib.adapters.memory_workflow import MemoryWorkflow
    from chalicelib.config import get_settings

    store, mailer, workflow = MemoryStore(), MemoryMailer(), MemoryWorkflow()
    get_settings.cache_clear()
    background = InlineBackground()
    with bootstrap.override(lambda settings: bootstrap.Services(settings, store, mailer,
                                                                workflow, background)):
        yield bootstrap.services()
    get_settings.cache_clear()


@pytest.fixture
def memory_client(memory: Any) -> Iterator[Any]:
    """The app through chalice.test.Client, on the in-memory adapters."""
    import app as application
    from devstack.testclient import browser_client

    with browser_client(application.app, stage_name="local") as test_client:
        yield test_client


def services() -> Any:
    """The services the app uses now (after a test changes a setting, too)."""
    from chalicelib.bootstrap import services as current

    return current()


def wait_for_execution(reference: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll the referral's execution until it stops; returns describe_execution."""
    from chalicelib.adapters import aws
    from chalicelib.adapters.stepfunctions import execution_arn
    from chalicelib.config import get_settings

    sfn = aws.client("stepfunctions")
    arn = execution_arn(get_settings().state_machine_arn, reference)

    def finished() -> dict[str, Any] | None:
        description = sfn.describe_execution(executionArn=arn)
        return None if description["status"] == "RUNNING" else description

    result: dict[str, Any] = wait_for(finished, timeout)
    return result


def wait_for_acknowledgement(reference: str, timeout: float = 20.0) -> None:
    """Intake is done: the sign-off tier is recorded and the referrer has been emailed."""
    referrals = services().store.referrals
    wait_for(lambda: referrals.email_already_sent(reference, "acknowledgement"), timeout)


def execution_status(reference: str) -> str:
    from chalicelib.adapters import aws
    from chalicelib.adapters.stepfunctions import execution_arn
    from chalicelib.config import get_settings

    arn = execution_arn(get_settings().state_machine_arn, reference)
    return str(aws.client("stepfunctions").describe_execution(executionArn=arn)["status"])


@pytest.fixture(scope="module")
def local_stack() -> Iterator[Any]:
    """The system as `make run` runs it (moto as a server, the app on a real port), for tests
    that need real HTTP: a browser, or generated API requests. Review and closure come two
    seconds after the step before, so a journey can be walked to the end."""
    from devstack.run import WALKTHROUGH_TIMINGS, free_port, start

    SESSION.stop()
    local = start("127.0.0.1", free_port("127.0.0.1"), timings=WALKTHROUGH_TIMINGS)
    local.serve_in_background()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """moto's server on a free local port, a stand-in AWS endpoint for tools that call AWS as
    the aws CLI would (`make preflight`); its address. The session's stack is stopped first:
    they would share moto's state, which the tests reset (`POST /moto-api/reset`)."""
    from moto.server import ThreadedMotoServer

    from devstack.run import free_port

    SESSION.stop()
    host = "127.0.0.1"
    port = free_port(host)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
