"""The local AWS stack on moto: the same table, state machine (the deployed ASL file) and SES
identity as on AWS, with the state machine's Lambda tasks running the Chalice app's own
functions in this process. Used by `make run` (moto as a server) and by the tests (mock_aws).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack import calls, lambdas, moto_patches, simulator

REGION = "eu-west-2"
TABLE_NAME = "phb-pathway-local"
STATE_MACHINE_NAME = "phb-pathway-local"
PATHWAY_FUNCTION = "phb-pathway-local-pathway"
SENDER = "phb-pathway@example.org"
# The local stack stands in for a deployed stack of this name: its configuration set is the
# template's (`${AWS::StackName}-email`), and the template's table, state machine and pathway
# function, which CloudFormation would name itself, are these (the IAM check, `make iam`,
# reads the policies with these names, so they speak of the ARNs the app calls here).
STACK_NAME = "phb-pathway-local"
CONFIGURATION_SET = f"{STACK_NAME}-email"
DEPLOYED_AS = {"PathwayTable": TABLE_NAME, "PathwayStateMachine": STATE_MACHINE_NAME,
               "Pathway": PATHWAY_FUNCTION}

MOTO_CONFIG = lambdas.MOTO_CONFIG


def base_environment(public_base_url: str) -> dict[str, str]:
    """Variables for the local stage; fake credentials so nothing can reach real AWS."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "PHB_TABLE_NAME": TABLE_NAME,
        "PHB_SENDER_EMAIL": SENDER,
        # Every email names the configuration set, as deployed (SES checks it as a resource of
        # its own, and refuses one that does not exist).
        "PHB_SES_CONFIGURATION_SET": CONFIGURATION_SET,
        "PHB_PUBLIC_BASE_URL": public_base_url,
        # What a request hands off (a staff sign-in link) runs in the pathway function.
        "PHB_PATHWAY_FUNCTION": PATHWAY_FUNCTION,
    }


@dataclass(frozen=True)
class Stack:
    table_name: str
    state_machine_arn: str
    pathway_function_arn: str


DEFINITION_FILE = Path(__file__).resolve().parent.parent / "infra" / "pathway.asl.json"


def definition(substitutions: dict[str, str]) -> str:
    """The deployed ASL with `${Name}` placeholders filled, as CloudFormation's
    DefinitionSubstitutions would (moto has no substitutions of its own)."""
    text = DEFINITION_FILE.read_text(encoding="utf-8")
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    if "${" in text:
        raise ValueError("a placeholder in the state machine definition was not filled")
    json.loads(text)
    return text


def create(handler: Any) -> Stack:
    """Create the resources in the moto that boto3 currently reaches, and route the pathway
    Lambda to `handler` (the Chalice app's `pathway` function). Sets PHB_STATE_MACHINE_ARN."""
    import boto3

    from chalicelib.adapters.dynamo import table_definition

    moto_patches.apply_all()
    install_client_hooks()
    handler = calls.as_function("Pathway", handler)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(**table_definition(TABLE_NAME))
    dynamodb.update_time_to_live(
        TableName=TABLE_NAME,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )
    ses = boto3.client("ses", region_name=REGION)
    ses.verify_email_identity(EmailAddress=SENDER)
    with contextlib.suppress(ses.exceptions.ConfigurationSetAlreadyExistsException):
        ses.create_configuration_set(ConfigurationSet={"Name": CONFIGURATION_SET})

    lambdas.install({PATHWAY_FUNCTION: handler})
    # SES's delivery events (bounces of `bounce.…` addresses, complaints, deliveries) reach the
    # same function as EventBridge's rule sends them to on AWS.
    simulator.install(handler)
    arns = lambdas.create_functions(
        boto3.client("lambda", region_name=REGION),
        boto3.client("iam", region_name=REGION),
        [PATHWAY_FUNCTION],
    )
    state_machine_arn = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name=STATE_MACHINE_NAME,
        definition=definition({"PathwayFunctionArn": arns[PATHWAY_FUNCTION]}),
        roleArn="arn:aws:iam::123456789012:role/phb-pathway-local-states",
        type="STANDARD",
    )["stateMachineArn"]
    os.environ["PHB_STATE_MACHINE_ARN"] = state_machine_arn
    forget_settings_and_clients()
    return Stack(TABLE_NAME, state_machine_arn, arns[PATHWAY_FUNCTION])


def install_client_hooks() -> None:
    """Hook the fault switch into every AWS client the app makes from now on, and record
    their calls for the IAM check (once)."""
    from chalicelib.adapters import aws
    from devstack import faults

    if faults.attach not in aws.CLIENT_HOOKS:
        aws.CLIENT_HOOKS.append(faults.attach)
    faults.clear()
    calls.install()


def forget_settings_and_clients() -> None:
    """Read the settings again and make new AWS clients: the environment or the endpoint
    changed (a stack started or stopped, a test changed a setting)."""
    from chalicelib import bootstrap
    from chalicelib.adapters import aws
    from chalicelib.config import get_settings

    get_settings.cache_clear()
    aws.reset()
    bootstrap.reset()


def stop_executions(state_machine_arn: str) -> None:
    """Stop every running execution (a test's leftovers must not act in the next test)."""
    import boto3

    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = state_machine_arn
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn,
                                                          statusFilter="RUNNING")
    for page in pages:
        for execution in page["executions"]:
            # moto cannot stop an execution that is just finishing
            with contextlib.suppress(Exception):
                sfn.stop_execution(executionArn=execution["executionArn"])
