"""Work handed off from a request to the pathway Lambda function, which runs it after the
request has answered: an asynchronous (`Event`) invocation, which Lambda queues, runs, and
tries twice more if it fails.

`InlineBackground` is the in-memory stand-in for the use-case tests: it runs the task at once
on the same services, as the function would a moment later (tests/contract proves both run
the task).
"""

from __future__ import annotations

import json
from typing import Any


class LambdaBackground:
    def __init__(self, client: Any, function_name: str) -> None:
        self.client = client
        self.function_name = function_name

    def start(self, task: str, payload: dict[str, Any]) -> None:
        if not self.function_name:
            raise RuntimeError("PHB_PATHWAY_FUNCTION is not set: nothing can run later")
        self.client.invoke(FunctionName=self.function_name, InvocationType="Event",
                           Payload=json.dumps({"task": task, **payload}).encode("utf-8"))


class InlineBackground:
    """Runs each task at once, on the services in force (the tests' in-memory ones)."""

    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []

    def start(self, task: str, payload: dict[str, Any]) -> None:
        from chalicelib.bootstrap import services
        from chalicelib.workflow import tasks

        self.started.append((task, dict(payload)))
        tasks.run(services(), {"task": task, **payload})
