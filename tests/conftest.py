"""Fake credentials, moto with the real state machine executing, and the app under test.

Every test that touches AWS gets a fresh moto: the table, the state machine from
infra/pathway.asl.json, an SES identity, and the pathway Lambda routed to the app's own
function in this process.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
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


@pytest.fixture
def aws_stack() -> Iterator[Any]:
    from moto import mock_aws

    import app as application
    from chalicelib import aws as clients
    from chalicelib.config import get_settings
    from devstack import lambdas, stack

    with mock_aws(config=stack.MOTO_CONFIG):
        clients.reset()
        get_settings.cache_clear()
        created = stack.create(application.pathway)
        try:
            yield created
        finally:
            stack.stop_executions(created.state_machine_arn)
            lambdas.uninstall()
            clients.reset()
            get_settings.cache_clear()


@pytest.fixture
def client(aws_stack: Any) -> Iterator[Any]:
    from chalice.test import Client

    import app as application

    with Client(application.app, stage_name="local") as test_client:
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


def wait_for_execution(reference: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll the referral's execution until it stops; returns describe_execution."""
    from chalicelib import aws, workflow
    from chalicelib.config import get_settings

    sfn = aws.client("stepfunctions")
    arn = workflow.execution_arn(get_settings().state_machine_arn, reference)

    def finished() -> dict[str, Any] | None:
        description = sfn.describe_execution(executionArn=arn)
        return None if description["status"] == "RUNNING" else description

    result: dict[str, Any] = wait_for(finished, timeout)
    return result


def wait_for_acknowledgement(reference: str, timeout: float = 20.0) -> None:
    """Intake is done: the sign-off tier is recorded and the referrer has been emailed."""
    from chalicelib import aws
    from chalicelib.config import get_settings
    from chalicelib.store import ReferralStore

    referrals = ReferralStore(aws.client("dynamodb"), get_settings().table_name)
    wait_for(lambda: referrals.email_already_sent(reference, "acknowledgement"), timeout)


def execution_status(reference: str) -> str:
    from chalicelib import aws, workflow
    from chalicelib.config import get_settings

    arn = workflow.execution_arn(get_settings().state_machine_arn, reference)
    return str(aws.client("stepfunctions").describe_execution(executionArn=arn)["status"])


@pytest.fixture(scope="module")
def local_stack() -> Iterator[Any]:
    """The system as `make run` runs it (moto as a server, the app on a real port), for tests
    that need real HTTP: a browser, or generated API requests. Review and closure come two
    seconds after the step before, so a journey can be walked to the end."""
    from devstack.run import WALKTHROUGH_TIMINGS, free_port, start

    local = start("127.0.0.1", free_port("127.0.0.1"), timings=WALKTHROUGH_TIMINGS)
    local.serve_in_background()
    try:
        yield local
    finally:
        local.stop()
