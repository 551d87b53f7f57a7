"""Step Functions: starting a referral's execution.

The state machine is one ASL file, `infra/pathway.asl.json`: CloudFormation deploys it with
`DefinitionSubstitutions`; the tests and the local stack load the same file (devstack/stack.py).
"""

from __future__ import annotations

import json
from typing import Any


def start(sfn: Any, state_machine_arn: str, reference: str) -> bool:
    """Start the referral's execution, named by its reference: starting twice is harmless
    (Step Functions answers a running execution's name and input with that execution, and a
    finished one's with ExecutionAlreadyExists). Returns False in the second case."""
    try:
        sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=reference,
            input=json.dumps({"referral_id": reference}),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        return False
    return True


def execution_arn(state_machine_arn: str, reference: str) -> str:
    prefix = state_machine_arn.replace(":stateMachine:", ":execution:")
    return f"{prefix}:{reference}"
