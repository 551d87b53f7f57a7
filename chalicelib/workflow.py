"""Step Functions: starting a referral's execution, and the state machine definition.

The definition is one ASL file, `infra/pathway.asl.json`: CloudFormation deploys it with
`DefinitionSubstitutions`, and the tests and local stack load the same file here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DEFINITION_FILE = Path(__file__).resolve().parent.parent / "infra" / "pathway.asl.json"


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


def definition(substitutions: dict[str, str]) -> str:
    """The ASL with `${Name}` placeholders filled, as CloudFormation's substitutions would."""
    text = DEFINITION_FILE.read_text(encoding="utf-8")
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    json.loads(text)
    return text
