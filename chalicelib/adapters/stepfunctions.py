"""Step Functions: one Standard execution per referral, named by its reference.

The state machine is `infra/pathway.asl.json` (written by `infra/pathway.py`): CloudFormation
deploys it with `DefinitionSubstitutions`; the tests and the local stack load the same file.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any


def execution_name(reference: str, attempt: int = 1) -> str:
    """A referral's first execution is named by its reference; each resumed one adds its
    attempt number (`PHB-ABCD-EFGH-2`), so starting an attempt twice is harmless."""
    return reference if attempt <= 1 else f"{reference}-{attempt}"


def reference_of_execution(name: str) -> str:
    """The referral an execution is for, from its name."""
    head, _, tail = name.rpartition("-")
    return head if tail.isdigit() and head.count("-") == 2 else name


def execution_arn(state_machine_arn: str, reference: str, attempt: int = 1) -> str:
    prefix = state_machine_arn.replace(":stateMachine:", ":execution:")
    return f"{prefix}:{execution_name(reference, attempt)}"


class StepFunctionsWorkflow:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self.client = client
        self.state_machine_arn = state_machine_arn

    def start(self, reference: str, attempt: int = 1) -> bool:
        # Step Functions answers a running execution's name and input with that execution, and
        # a finished one's with ExecutionAlreadyExists: starting twice is harmless. A resumed
        # attempt starts where the referral is (the state machine's Resume state).
        try:
            self.client.start_execution(
                stateMachineArn=self.state_machine_arn, name=execution_name(reference, attempt),
                input=json.dumps({"referral_id": reference, "attempt": attempt}))
        except self.client.exceptions.ExecutionAlreadyExists:
            return False
        return True

    def status(self, reference: str, attempt: int = 1) -> str | None:
        try:
            described = self.client.describe_execution(
                executionArn=execution_arn(self.state_machine_arn, reference, attempt))
        except self.client.exceptions.ExecutionDoesNotExist:
            return None
        return str(described["status"])

    def stop(self, reference: str, attempt: int = 1) -> None:
        missing = (self.client.exceptions.ExecutionDoesNotExist,
                   self.client.exceptions.InvalidArn)
        with contextlib.suppress(*missing):
            self.client.stop_execution(
                executionArn=execution_arn(self.state_machine_arn, reference, attempt),
                cause="Resumed by a new attempt")

    def running(self) -> set[str]:
        pages = self.client.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn, statusFilter="RUNNING")
        return {execution["name"] for page in pages for execution in page["executions"]}

    def complete(self, token: str, outcome: str) -> bool:
        try:
            self.client.send_task_success(taskToken=token,
                                          output=json.dumps({"outcome": outcome}))
        except (self.client.exceptions.InvalidToken, self.client.exceptions.TaskTimedOut,
                self.client.exceptions.TaskDoesNotExist):
            return False
        return True
