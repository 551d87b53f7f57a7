"""The app on moto in this process, as the tests run it (tests/conftest.py): fake credentials,
moto with the real state machine executing, the pathway Lambda routed to the app's own function.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench import ROOT
from devstack.polling import wait_for

__all__ = ["TimedHandler", "http_client", "moto_stack", "wait_for"]

PUBLIC_BASE_URL = "http://testserver"


def prepare_environment(extra: dict[str, str] | None = None) -> None:
    """Call before importing the app: the local stack's variables, in UTC (moto compares
    Wait-state timestamps with the local clock)."""
    from devstack.stack import base_environment

    os.environ["TZ"] = "UTC"
    time.tzset()
    os.environ.update(base_environment(PUBLIC_BASE_URL))
    os.environ["PHB_STAGE"] = "test"
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(extra or {})


class TimedHandler:
    """The app's `pathway` Lambda handler, timing each invocation (what Lambda bills)."""

    def __init__(self) -> None:
        import app

        self._handler = app.pathway
        self._lock = threading.Lock()
        self.durations: list[float] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._handler(event, context)
        finally:
            with self._lock:
                self.durations.append(time.perf_counter() - started)

    def take(self) -> list[float]:
        with self._lock:
            taken, self.durations = self.durations, []
        return taken


@contextlib.contextmanager
def moto_stack(handler: Callable[..., Any],
               hook: Callable[[Any], None] | None = None) -> Iterator[Any]:
    """A fresh moto with the app's stack in it; `hook(session)` is given boto3's default
    session before any client is created from it."""
    import boto3
    from moto import mock_aws

    from devstack import lambdas, stack

    with mock_aws(config=stack.MOTO_CONFIG):
        boto3.setup_default_session()
        if hook is not None:
            hook(boto3.DEFAULT_SESSION)
        stack.forget_settings_and_clients()
        created = stack.create(handler)
        try:
            yield created
        finally:
            with contextlib.suppress(Exception):
                stack.stop_executions(created.state_machine_arn)
            lambdas.uninstall()
            stack.forget_settings_and_clients()


@contextlib.contextmanager
def http_client() -> Iterator[Any]:
    import app
    from devstack.testclient import browser_client

    with browser_client(app.app, stage_name="local", project_dir=str(ROOT)) as client:
        yield client
