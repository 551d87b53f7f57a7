"""`make package`: the Lambda zip and CloudFormation template that `make deploy` ships.

Packages once a session (conftest.py's `packaged`, which the IAM check shares; about 5-60 s:
chalice fetches manylinux wheels from PyPI unless pip's cache has them), then checks the
artefacts and imports the app from the unzipped package the way Lambda does, with nothing from
this virtualenv on the path. Then the rehearsal of the deploy: SAM's translation of the
template, cfn-lint on it, and every reference resolved (infra/rehearsal.py).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"
ASL = ROOT / "infra" / "pathway.asl.json"
# What the Lambda Python runtime provides besides the standard library (not in the zip).
LAMBDA_RUNTIME_LIBRARIES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3",
                            "six")


@pytest.fixture(scope="module")
def zip_names(packaged: subprocess.CompletedProcess[str]) -> list[str]:
    assert packaged.returncode == 0, f"make package failed:\n{packaged.stdout}\n{packaged.stderr}"
    with zipfile.ZipFile(OUT / "deployment.zip") as zf:
        return zf.namelist()


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_make_package_succeeds_with_checks_and_lint(
    packaged: subprocess.CompletedProcess[str],
) -> None:
    assert packaged.returncode == 0, f"make package failed:\n{packaged.stdout}\n{packaged.stderr}"
    assert "package check ok" in packaged.stdout
    assert "cfn-lint" in packaged.stdout  # the last step ran, and passed (exit 0)


def test_every_function_runs_on_python_3_13(template: dict[str, Any]) -> None:
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert functions and {f["Properties"]["Runtime"] for f in functions.values()} == {
        "python3.13"}


def test_zip_holds_app_templates_static_and_lambda_wheels(zip_names: list[str]) -> None:
    for name in (
        "app.py",
        "templates/layout.html",
        "templates/emails/acknowledgement.html",
        "templates/staff/reports.html",
        "static/nhsuk-frontend.min.css",
    ):
        assert name in zip_names
    assert any(n.startswith("chalicelib/") for n in zip_names)
    assert "chalicelib/funding_rules.json" in zip_names
    assert "chalicelib/population.json" in zip_names
    core = [n for n in zip_names if n.startswith("pydantic_core/") and n.endswith(".so")]
    assert core == ["pydantic_core/_pydantic_core.cpython-313-x86_64-linux-gnu.so"]
    with zipfile.ZipFile(OUT / "deployment.zip") as zf:
        wheel = next(n for n in zip_names
                     if n.startswith("pydantic_core-") and n.endswith(".dist-info/WHEEL"))
        tags = [line.split(": ", 1)[1] for line in zf.read(wheel).decode().splitlines()
                if line.startswith("Tag: ")]
    assert tags and all(t.startswith("cp313-cp313-manylinux") and t.endswith("_x86_64")
                        for t in tags), tags
    assert not any(n.startswith(("tests/", "devstack/", "infra/", ".venv/")) for n in zip_names)


def test_table_is_encrypted_recoverable_kept_and_mirrors_the_store(
    template: dict[str, Any],
) -> None:
    from chalicelib.adapters.dynamo import table_definition

    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    assert list(tables) == ["PathwayTable"]
    table = tables["PathwayTable"]
    props = table["Properties"]
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    # Deleting the stack, or an update that would replace the table, keeps it and the
    # referrals; a first create that fails (a certificate not yet issued) removes it with
    # everything else, so a new try starts clean instead of beside an orphaned table.
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"
    assert table["UpdateReplacePolicy"] == "Retain"
    expected = table_definition("ignored")
    for key in ("BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes"):
        assert props[key] == expected[key], key


def test_state_machine_runs_the_asl_file(template: dict[str, Any]) -> None:
    machines = resources_of_type(template, "AWS::StepFunctions::StateMachine")
    assert list(machines) == ["PathwayStateMachine"]
    props = machines["PathwayStateMachine"]["Properties"]
    assert props["Definition"] == json.loads(ASL.read_text(encoding="utf-8"))
    assert props["DefinitionSubstitutions"] == {
        "PathwayFunctionArn": {"Fn::GetAtt": ["Pathway", "Arn"]}
    }


def test_an_execution_that_ends_badly_marks_the_referral_and_emails_the_alert_address(
        template: dict[str, Any]) -> None:
    rule = resources_of_type(template, "AWS::Events::Rule")["ExecutionEndedBadly"]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.states"]
    assert set(pattern["detail"]["status"]) == {"FAILED", "TIMED_OUT", "ABORTED"}
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": "PathwayStateMachine"}]
    email, mark = rule["Properties"]["Targets"]
    assert email["Arn"] == {"Ref": "ExecutionAlerts"}
    assert "$.detail.input" not in json.dumps(email)  # the reference only, never the input
    topic = template["Resources"]["ExecutionAlerts"]["Properties"]
    assert [s["Protocol"] for s in topic["Subscription"]] == ["email"]
    # DEPLOY.md has the topic listed to see whether the address has confirmed its subscription.
    assert template["Outputs"]["AlertTopicArn"]["Value"] == {"Ref": "ExecutionAlerts"}
    # The whole event goes to the reconcile function, which marks the referral.
    assert mark["Arn"] == {"Fn::GetAtt": ["Reconcile", "Arn"]} and "Input" not in json.dumps(mark)
    permission = template["Resources"]["ExecutionEndedPermission"]["Properties"]
    assert permission["SourceArn"] == {"Fn::GetAtt": ["ExecutionEndedBadly", "Arn"]}
    assert permission["FunctionName"] == {"Ref": "Reconcile"}


def test_the_reconciler_runs_every_15_minutes_with_the_state_machine_to_ask(
        template: dict[str, Any]) -> None:
    reconcile = resources_of_type(template, "AWS::Serverless::Function")["Reconcile"]
    props = reconcile["Properties"]
    [schedule] = props["Events"].values()
    assert schedule["Properties"]["Schedule"] == "rate(15 minutes)"
    assert props["Environment"]["Variables"]["PHB_STATE_MACHINE_ARN"] == {
        "Ref": "PathwayStateMachine"}
    role = template["Resources"][props["Role"]["Fn::GetAtt"][0]]
    actions = {action for statement in policy_statements(role["Properties"]["Policies"])
               for action in ([statement["Action"]] if isinstance(statement["Action"], str)
                              else statement["Action"])}
    assert {"states:ListExecutions", "states:DescribeExecution", "ses:SendRawEmail",
            "dynamodb:Query"} <= actions
    assert not any(a.startswith(("states:Start", "states:SendTask", "dynamodb:Scan"))
                   for a in actions)


def test_the_web_function_may_hand_work_to_the_pathway_function_and_no_other(
        template: dict[str, Any]) -> None:
    api = resources_of_type(template, "AWS::Serverless::Function")["APIHandler"]
    role = template["Resources"][api["Properties"]["Role"]["Fn::GetAtt"][0]]
    invoking = [statement for statement in policy_statements(role["Properties"]["Policies"])
                if "lambda:InvokeFunction" in statement["Action"]]
    assert [(statement["Action"], statement["Resource"]) for statement in invoking] == [
        ("lambda:InvokeFunction", {"Fn::GetAtt": ["Pathway", "Arn"]})]


def test_the_pathway_function_reminds_of_monthly_releases_daily(
        template: dict[str, Any]) -> None:
    rule = resources_of_type(template, "AWS::Events::Rule")["ReleasesDueDaily"]["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 day)"
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["Pathway", "Arn"]}
    assert json.loads(target["Input"]) == {"task": "releases_due"}
    permission = template["Resources"]["ReleasesDuePermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["ReleasesDueDaily", "Arn"]}
    from chalicelib.workflow.tasks import TASKS

    assert "releases_due" in TASKS


def test_ses_delivery_events_reach_the_pathway_function(template: dict[str, Any]) -> None:
    from chalicelib.workflow.delivery import STATUSES
    from devstack.simulator import DETAIL_TYPES

    destinations = resources_of_type(template, "AWS::SES::ConfigurationSetEventDestination")
    props = destinations["EmailDeliveryEvents"]["Properties"]
    assert props["ConfigurationSetName"] == {"Ref": "EmailConfigurationSet"}
    destination = props["EventDestination"]
    assert destination["Enabled"] is True
    assert {"BOUNCE", "COMPLAINT", "DELIVERY", "REJECT"} <= set(
        destination["MatchingEventTypes"])
    assert destination["EventBridgeDestination"]["EventBusArn"]["Fn::Sub"].endswith(
        ":event-bus/default")  # SES publishes to the default bus only

    rule = template["Resources"]["EmailDeliveryStatus"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.ses"]
    # Every event type the handler records comes under a detail-type the rule matches, and
    # only this stack's messages (SES tags each with its configuration set).
    assert {DETAIL_TYPES[kind] for kind in STATUSES} == set(pattern["detail-type"])
    assert pattern["detail"]["mail"]["tags"]["ses:configuration-set"] == [
        {"Ref": "EmailConfigurationSet"}]
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["Pathway", "Arn"]}
    assert "Input" not in target  # the function is given SES's event itself
    permission = template["Resources"]["EmailDeliveryStatusPermission"]["Properties"]
    assert (permission["Principal"], permission["FunctionName"]) == (
        "events.amazonaws.com", {"Ref": "Pathway"})
    assert permission["SourceArn"] == {"Fn::GetAtt": ["EmailDeliveryStatus", "Arn"]}


def policy_statements(node: Any) -> list[dict[str, Any]]:
    """Every statement of every policy document anywhere in the template."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        statements = node.get("Statement")
        if "Version" in node and statements is not None:
            found.extend(statements if isinstance(statements, list) else [statements])
        for value in node.values():
            found.extend(policy_statements(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(policy_statements(item))
    return found


def test_no_policy_grants_every_resource(template: dict[str, Any]) -> None:
    statements = policy_statements(template["Resources"])
    # Both functions' roles, the state machine's role, and the trust policies.
    assert len(statements) >= 8
    for statement in statements:
        if statement.get("Sid") == "CompleteWaitingSteps":
            # Task tokens of waitForTaskToken states cannot be scoped by IAM: the only "*",
            # and only for completing a waiting step.
            assert sorted(statement["Action"]) == ["states:SendTaskFailure",
                                                   "states:SendTaskSuccess"]
            continue
        for key in ("Resource", "NotResource"):
            value = statement.get(key, [])
            assert "*" not in (value if isinstance(value, list) else [value]), statement


def test_functions_get_their_settings_from_the_template(template: dict[str, Any]) -> None:
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert set(functions) == {"APIHandler", "Pathway", "Retention", "Reconcile"}
    retention = functions["Retention"]["Properties"]
    assert set(retention["Environment"]["Variables"]) == {
        "PHB_STAGE", "PHB_TABLE_NAME", "PHB_RETENTION_DAYS"}
    # Daily, by an EventBridge schedule.
    [schedule] = retention["Events"].values()
    assert schedule["Properties"]["Schedule"] == "rate(1 day)"
    api = functions["APIHandler"]["Properties"]
    pathway = functions["Pathway"]["Properties"]
    assert (api["MemorySize"], pathway["MemorySize"]) == (512, 256)
    settings = {"PHB_STAGE", "PHB_TABLE_NAME", "PHB_SENDER_EMAIL", "PHB_SES_CONFIGURATION_SET",
                "PHB_PUBLIC_BASE_URL", "PHB_ALLOWED_REFERRER_DOMAINS",
                "PHB_REFERRER_SIGNOFF_BELOW_PENCE", "PHB_MANAGER_SIGNOFF_UP_TO_PENCE",
                "PHB_HELP_EMAIL", "PHB_HELP_PHONE", "PHB_PANEL_EMAILS", "PHB_ADVISOR_EMAILS",
                "PHB_REMINDER_AFTER_SECONDS", "PHB_REMINDERS_BEFORE_ESCALATION",
                "PHB_LINK_VALID_DAYS", "PHB_REVIEW_AFTER_SECONDS", "PHB_REQOL_RELIABLE_CHANGE",
                "PHB_PERSON_WINDOW_DAYS"}
    # Every variable is a real setting (a typo would be silently ignored).
    from dataclasses import fields

    from chalicelib.config import Settings

    assert {name[4:].lower() for name in settings} <= {f.name for f in fields(Settings)}
    # The pathway function checks the staff list too: it sends the sign-in links the web
    # function hands off. Only the web function signs staff sessions.
    assert set(pathway["Environment"]["Variables"]) == settings | {
        "PHB_REMINDERS_BEFORE_HANDOVER", "PHB_STAFF_EMAILS", "PHB_API_ADDRESS_PARAMETER"}
    staff = {"PHB_STAFF_EMAILS", "PHB_SESSION_SECRET"}
    addresses = {"PHB_API_ADDRESS_PARAMETER", "PHB_API_GATEWAY_DOMAIN"}
    assert {name[4:].lower() for name in staff | addresses} <= {f.name for f in fields(Settings)}
    assert set(api["Environment"]["Variables"]) == settings | staff | {
        "PHB_STATE_MACHINE_ARN", "PHB_PATHWAY_FUNCTION", "PHB_API_GATEWAY_DOMAIN"}
    assert api["Environment"]["Variables"]["PHB_STATE_MACHINE_ARN"] == {
        "Ref": "PathwayStateMachine"
    }
    assert api["Environment"]["Variables"]["PHB_PATHWAY_FUNCTION"] == {"Ref": "Pathway"}


def decided(node: Any, conditions: dict[str, bool]) -> Any:
    """A template fragment with each Fn::If decided as CloudFormation would, given the
    conditions' values."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, if_true, if_false = node["Fn::If"]
            return decided(if_true if conditions[name] else if_false, conditions)
        return {key: decided(value, conditions) for key, value in node.items()}
    if isinstance(node, list):
        return [decided(item, conditions) for item in node]
    return node


API_ADDRESS = {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"}


@pytest.mark.parametrize(("public_base_url", "domain_name", "web", "pathway", "public"), [
    # Neither: one deploy works. The web function takes the address from each request (the
    # API's id and stage API Gateway puts in it, in this domain); the pathway function, which
    # has no request, reads the parameter the template fills with the API's address.
    (False, False, "", "", API_ADDRESS),
    (False, True, {"Fn::Sub": "https://${DomainName}"}, {"Fn::Sub": "https://${DomainName}"},
     {"Fn::Sub": "https://${DomainName}"}),
    (True, True, {"Ref": "PublicBaseUrl"}, {"Ref": "PublicBaseUrl"}, {"Ref": "PublicBaseUrl"}),
])
def test_every_function_knows_the_address_links_start_with_in_one_deploy(
        template: dict[str, Any], public_base_url: bool, domain_name: bool, web: Any,
        pathway: Any, public: Any) -> None:
    conditions = {"HasPublicBaseUrl": public_base_url, "HasCustomDomain": domain_name,
                  "HasAlertEmail": False}
    # No rule asks for an address before the stack may be created.
    assert "PublicBaseUrl" not in json.dumps(template.get("Rules", {}))
    functions = resources_of_type(template, "AWS::Serverless::Function")

    def variables(name: str) -> dict[str, Any]:
        found: dict[str, Any] = decided(
            functions[name]["Properties"]["Environment"]["Variables"], conditions)
        return found

    assert variables("APIHandler")["PHB_PUBLIC_BASE_URL"] == web
    assert variables("APIHandler")["PHB_API_GATEWAY_DOMAIN"] == {
        "Fn::Sub": "execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    assert variables("Pathway")["PHB_PUBLIC_BASE_URL"] == pathway
    # The reconciler is on no path the API depends on, so it is given the API's address.
    assert variables("Reconcile")["PHB_PUBLIC_BASE_URL"] == public
    assert decided(template["Outputs"]["PublicUrl"]["Value"], conditions) == public

    # The pathway function is told the parameter's name, and may read that one parameter.
    parameter = template["Resources"]["ApiAddress"]["Properties"]
    assert parameter["Value"] == API_ADDRESS and parameter["Type"] == "String"
    assert variables("Pathway")["PHB_API_ADDRESS_PARAMETER"] == parameter["Name"]
    role = template["Resources"][functions["Pathway"]["Properties"]["Role"]["Fn::GetAtt"][0]]
    [reading] = [statement for statement in policy_statements(role["Properties"]["Policies"])
                 if "ssm:GetParameter" in statement["Action"]]
    assert reading["Action"] == "ssm:GetParameter"
    assert reading["Resource"]["Fn::Sub"].endswith(":parameter" + parameter["Name"]["Fn::Sub"])
    # The address is Chalice's own EndpointURL output (its stage `api`), without the slash.
    assert template["Outputs"]["EndpointURL"]["Value"]["Fn::Sub"] == API_ADDRESS[
        "Fn::Sub"] + "/"
    [api] = resources_of_type(template, "AWS::Serverless::Api").values()
    assert api["Properties"]["StageName"] == "api"


def test_the_api_stage_throttles_every_method_by_the_stack_parameters(
        template: dict[str, Any]) -> None:
    [api] = resources_of_type(template, "AWS::Serverless::Api").values()
    assert api["Properties"]["MethodSettings"] == [{
        "ResourcePath": "/*", "HttpMethod": "*",
        "ThrottlingRateLimit": {"Ref": "ApiRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiBurstLimit"}}]
    rate, burst = (template["Parameters"][name] for name in ("ApiRateLimit", "ApiBurstLimit"))
    assert (rate["Type"], rate["Default"], burst["Type"], burst["Default"]) == (
        "Number", 20, "Number", 40)
    # Never 0 (that would turn the service off), and within API Gateway's account limits.
    assert rate["MinValue"] == burst["MinValue"] == 1
    assert (rate["MaxValue"], burst["MaxValue"]) == (10000, 5000)


def test_api_gateways_own_answers_carry_the_security_headers(template: dict[str, Any]) -> None:
    """What API Gateway answers itself (an unknown path's 403, a throttled 429, its 5XX) never
    reaches the app's middleware: its gateway responses carry the same headers. All but the
    CSP, whose quoted sources a gateway response's quoted static value cannot hold (these
    answers are short JSON, never a page)."""
    from chalicelib.web.security import SECURITY_HEADERS

    [api] = resources_of_type(template, "AWS::Serverless::Api").values()
    responses = api["Properties"]["GatewayResponses"]
    wanted = {**{name: f"'{value}'" for name, value in SECURITY_HEADERS.items()
                 if name != "Content-Security-Policy"}, "Cache-Control": "'no-store'"}
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert responses[kind]["ResponseParameters"]["Headers"] == wanted
    throttled = responses["THROTTLED"]
    assert throttled["StatusCode"] == "429"
    assert throttled["ResponseParameters"]["Headers"] == {**wanted, "Retry-After": "'60'"}
    assert json.loads(throttled["ResponseTemplates"]["application/json"])["errors"][0][
        "message"].startswith("Too many requests")


def keys_anywhere(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(keys_anywhere(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(keys_anywhere(item) for item in node))
    return set()


def test_no_function_reserves_concurrency(template: dict[str, Any]) -> None:
    # Reserving fails to deploy on a new account: Lambda keeps a minimum unreserved (100 on a
    # standard account), more than a new account's whole limit may be (10). The API's
    # throttling bounds public traffic instead.
    assert resources_of_type(template, "AWS::Serverless::Function")
    assert "ReservedConcurrentExecutions" not in keys_anywhere(template)


def test_every_function_is_told_its_deployed_stage(template: dict[str, Any]) -> None:
    from chalicelib.config import DEPLOYED_STAGES

    functions = resources_of_type(template, "AWS::Serverless::Function")
    stages = {name: function["Properties"]["Environment"]["Variables"].get("PHB_STAGE")
              for name, function in functions.items()}
    # One stage for all, and one that a Lambda function serves in (without one, or with a
    # local one, the app refuses every request).
    assert len(set(stages.values())) == 1 and set(stages.values()) <= set(DEPLOYED_STAGES), stages


IMPORT_CHECK = """
import json, sys
import app
from chalicelib.config import get_settings
from chalicelib.web.render import environment

layout = environment().get_template("layout.html")
html = layout.render(settings=get_settings())  # pulls in the nhsuk-frontend-jinja macros
import jinja2, pydantic_core
print(json.dumps({
    "stage": get_settings().stage,
    "routes": sorted(app.app.routes),
    "files": [app.__file__, layout.filename, jinja2.__file__, pydantic_core.__file__],
    "html": html,
}))
"""


def test_app_imports_and_renders_from_the_unzipped_package(
    zip_names: list[str], tmp_path: Path
) -> None:
    task_root = tmp_path / "task"
    with zipfile.ZipFile(OUT / "deployment.zip") as zf:
        zf.extractall(task_root)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in LAMBDA_RUNTIME_LIBRARIES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (runtime / source.name).symlink_to(source)

    result = subprocess.run(
        # -S: no site-packages, so nothing comes from this virtualenv.
        [sys.executable, "-S", "-c", IMPORT_CHECK],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PHB_STAGE": "dev",
             "PYTHONPATH": f"{task_root}{os.pathsep}{runtime}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stage"] == "dev"
    assert "/api/referrals" in report["routes"]
    assert not any(route.startswith("/dev") for route in report["routes"])
    for path in report["files"]:
        assert Path(path).resolve().is_relative_to(task_root.resolve()), path
    assert report["html"].lstrip().startswith("<!DOCTYPE html>")
    assert "/static/nhsuk-frontend.min.css" in report["html"]


# The deploy rehearsal (infra/rehearsal.py): what CloudFormation makes of the template.
def test_make_package_rehearses_the_deploy(packaged: subprocess.CompletedProcess[str]) -> None:
    assert packaged.returncode == 0, f"make package failed:\n{packaged.stdout}\n{packaged.stderr}"
    # cfn-lint passed the SAM template before it, and the translation in it.
    assert packaged.stdout.index("cfn-lint out/sam.json") < packaged.stdout.index(
        "rehearsal ok")
    assert "cfn-lint clean; every reference resolved" in packaged.stdout


def test_sams_translation_makes_what_the_template_promises(translated: dict[str, Any]) -> None:
    kinds = {name: resource["Type"] for name, resource in translated["Resources"].items()}
    assert not any(kind.startswith("AWS::Serverless::") for kind in kinds.values())
    assert "Transform" not in translated
    functions = {name for name, kind in kinds.items() if kind == "AWS::Lambda::Function"}
    assert functions == {"APIHandler", "Pathway", "Reconcile", "Retention"}
    # The schedules SAM makes of the functions' events, each allowed to invoke its function.
    assert kinds["ReconcileReconcileEvent"] == kinds["RetentionRetentionEvent"] == (
        "AWS::Events::Rule")
    assert translated["Resources"]["RestAPIapiStage"]["Properties"]["StageName"] == "api"
    # Each function keeps the role its policy file made, and logs to its own log group.
    for name in functions:
        props = translated["Resources"][name]["Properties"]
        assert props["Role"]["Fn::GetAtt"][0] in kinds
        assert props["LoggingConfig"] == {"LogGroup": {"Ref": f"{name}LogGroup"}}


@pytest.mark.parametrize("case", ["without a custom domain", "with a custom domain"])
def test_every_reference_resolves_as_deployed(translated: dict[str, Any], case: str) -> None:
    from infra.rehearsal import CASES, Deployment, leftovers, resolve

    resolved = resolve(translated, Deployment(CASES[case]))
    assert leftovers(resolved, "") == []
    custom = case == "with a custom domain"
    assert ("ApiDomainName" in resolved["Resources"]) is custom
    outputs = resolved["Outputs"]
    assert ("CustomDomainTarget" in outputs) is custom
    assert outputs["PublicUrl"] == ("https://phb.example.org" if custom
                                    else "https://example.invalid")
    api = resolved["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api["PHB_TABLE_NAME"] == resolved["Resources"]["PathwayTable"]["PhysicalName"]
    assert api["PHB_SES_CONFIGURATION_SET"] == "phb-pathway-dev-email"
    assert api["PHB_STATE_MACHINE_ARN"].startswith(
        "arn:aws:states:eu-west-2:123456789012:stateMachine:phb-pathway-dev-")
    assert api["PHB_PUBLIC_BASE_URL"] == outputs["PublicUrl"]


def test_a_reference_to_nothing_is_refused(translated: dict[str, Any]) -> None:
    import copy

    from infra.rehearsal import WITHOUT_CUSTOM_DOMAIN, Deployment, Unresolved, resolve

    broken = copy.deepcopy(translated)
    variables = broken["Resources"]["Pathway"]["Properties"]["Environment"]["Variables"]
    variables["MISSPELT"] = {"Ref": "PathwayTabel"}
    variables["NO_ATTRIBUTE"] = {"Fn::GetAtt": ["PathwayTable", "Name"]}
    # A resource the condition leaves out, named from one always made.
    variables["LEFT_OUT"] = {"Fn::Sub": "https://${ApiDomainName.RegionalDomainName}"}
    with pytest.raises(Unresolved) as refused:
        resolve(broken, Deployment(WITHOUT_CUSTOM_DOMAIN))
    where = "Resources.Pathway.Properties.Environment.Variables"
    assert set(refused.value.problems) >= {
        f"{where}.MISSPELT.Ref: PathwayTabel is no parameter, pseudo parameter or resource",
        f"{where}.NO_ATTRIBUTE.Fn::GetAtt: PathwayTable (AWS::DynamoDB::Table) has no "
        "attribute Name that this rehearsal knows of",
        f"{where}.LEFT_OUT.Fn::Sub: refers to ApiDomainName, which its condition "
        "HasCustomDomain leaves out here"}
    # A value CloudFormation would refuse for a parameter is refused too.
    with pytest.raises(Unresolved, match="SenderEmail='nobody' does not match"):
        resolve(translated, Deployment({**WITHOUT_CUSTOM_DOMAIN, "SenderEmail": "nobody"}))
