"""Step Functions: one Standard execution per referral, named by its reference.

The state machine is `infra/pathway.asl.json` (written by `infra/pathway.py`): CloudFormation
deploys it with `DefinitionSubstitutions`; the tests and the local stack load the same file.
"""

from __future__ import annotations

import json
from typing import Any


def execution_arn(state_machine_arn: str, reference: str) -> str:
    prefix = state_machine_arn.replace(":stateMachine:", ":execution:")
    return f"{prefix}:{reference}"


class StepFunctionsWorkflow:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self.client = client
        self.state_machine_arn = state_machine_arn

    def start(self, reference: str) -> bool:
        # Step Functions answers a running execution's name and input with that execution, and
        # a finished one's with ExecutionAlreadyExists: starting twice is harmless.
        try:
            self.client.start_execution(stateMachineArn=self.state_machine_arn, name=reference,
                                        input=json.dumps({"referral_id": reference}))
        except self.client.exceptions.ExecutionAlreadyExists:
            return False
        return True

    def complete(self, token: str, outcome: str) -> bool:
        try:
            self.client.send_task_success(taskToken=token,
                                          output=json.dumps({"outcome": outcome}))
        except (self.client.exceptions.InvalidToken, self.client.exceptions.TaskTimedOut,
                self.client.exceptions.TaskDoesNotExist):
            return False
        return True
