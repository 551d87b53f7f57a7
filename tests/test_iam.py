"""The IAM check (`make iam`, infra/iam_check.py): every AWS call each Lambda function makes in
the tests is allowed by that function's own policy in the packaged template, at the ARN AWS
checks, the email's configuration set included. Before this, a policy missing an action the
code needs passed every test here and failed only once deployed (moto checks no permissions).

Why evaluating Allow statements, with IAM's wildcards, is enough for these policies: IAM
allows a call when some statement allows it and none denies it. These roles' policies are
inline Allow statements with no NotAction, NotResource, Condition or policy variable; no role
has a managed policy or a permissions boundary, and nothing else in the stack attaches one;
a Lambda role's session has no session policy, and same-account calls need no resource policy
(the stack sets none). So nothing can deny or narrow an allowing statement, and finding one is
the whole evaluation. `role_policies` refuses any policy of another shape (tested below), so
the day one is added this check says it cannot decide rather than deciding wrongly.

The last test of a session checks what every test before it recorded; `make iam` runs the same
entry point on the integration and HTTP tests' recording.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack import calls
from infra import iam_check
from tests.conftest import RECORDING, ROOT, wait_for_acknowledgement
from tests.factories import make_referral

CHECK = ROOT / "infra" / "iam_check.py"
MACHINE = "arn:aws:states:eu-west-2:123456789012:stateMachine:phb-pathway-local"
CONFIGURATION_SET = "arn:aws:ses:eu-west-2:123456789012:configuration-set/phb-pathway-local-email"
# The principals whose calls the integration and HTTP tests must have recorded: the three
# functions they exercise, the daily retention, and the state machine invoking its tasks.
PRINCIPALS = {"APIHandler", "Pathway", "Reconcile", "Retention", "PathwayStateMachine"}


def run_check(template: dict[str, Any], recording: Path, tmp_path: Path,
              name: str) -> subprocess.CompletedProcess[str]:
    """`make iam`'s check, as the Makefile runs it, on this template."""
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    return subprocess.run([sys.executable, str(CHECK), str(path), str(recording)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def statement(template: dict[str, Any], role: str, sid: str) -> dict[str, Any]:
    """A statement of a role's policy in the SAM template, by its Sid."""
    [policy] = template["Resources"][role]["Properties"]["Policies"]
    found: dict[str, Any] = next(s for s in policy["PolicyDocument"]["Statement"]
                                 if s.get("Sid") == sid)
    return found


def test_iam_wildcards_match_as_iam_does() -> None:
    index = "arn:aws:dynamodb:eu-west-2:1:table/t/index/gsi3"
    assert iam_check.matches("arn:aws:dynamodb:eu-west-2:1:table/t/index/*", index, False)
    assert not iam_check.matches("arn:aws:dynamodb:eu-west-2:1:table/t", index, False)
    assert iam_check.matches("arn:aws:*:*:1:table/t?index/gsi?", index, False)  # * spans `:`
    assert not iam_check.matches("arn:aws:dynamodb:eu-west-2:1:table/T/index/*", index, False)
    # Actions ignore case; `dynamodb:*` is every DynamoDB action, and only those.
    assert iam_check.matches(["s3:GetObject", "DynamoDB:*"], "dynamodb:Query", True)
    assert not iam_check.matches("dynamodb:*", "states:StartExecution", True)
    assert iam_check.matches("states:Send*", "states:SendTaskSuccess", True)


def test_calls_are_recorded_at_the_arns_aws_checks() -> None:
    def needed(prefix: str, operation: str, params: dict[str, Any]) -> list[Any]:
        return [(a.action, a.resources)
                for a in calls.authorizations(prefix, operation, params, "eu-west-2")]

    table = "arn:aws:dynamodb:eu-west-2:123456789012:table/t"
    assert needed("dynamodb", "Query", {"TableName": "t", "IndexName": "gsi7"}) == [
        ("dynamodb:Query", (f"{table}/index/gsi7",))]
    # A transaction is authorised as each of its items' own actions.
    transaction = {"TransactItems": [{"Put": {"TableName": "t"}},
                                     {"ConditionCheck": {"TableName": "t"}}]}
    assert needed("dynamodb", "TransactWriteItems", transaction) == [
        ("dynamodb:ConditionCheckItem", (table,)), ("dynamodb:PutItem", (table,))]
    # An email: the sender's identity (as an address or a domain, whichever is verified) and
    # the configuration set it names, which SES checks as a resource of its own.
    assert needed("ses", "SendRawEmail", {"Source": "a@example.org",
                                          "ConfigurationSetName": "cs"}) == [
        ("ses:SendRawEmail", ("arn:aws:ses:eu-west-2:123456789012:identity/a@example.org",
                              "arn:aws:ses:eu-west-2:123456789012:identity/example.org",
                              "arn:aws:ses:eu-west-2:123456789012:configuration-set/cs"))]
    assert needed("lambda", "Invoke", {"FunctionName": "f"}) == [
        ("lambda:InvokeFunction", ("arn:aws:lambda:eu-west-2:123456789012:function:f",))]
    assert needed("states", "SendTaskSuccess", {"taskToken": "x"}) == [
        ("states:SendTaskSuccess", ("*",))]
    # What this module cannot say is marked, and the check refuses it.
    assert needed("s3", "GetObject", {"Bucket": "b"}) == [("s3:GetObject", (calls.UNMODELLED,))]


def test_only_allow_statements_without_conditions_are_evaluated(
        translated: dict[str, Any]) -> None:
    deployment = iam_check.local_stack()
    resolved = iam_check.resolve(translated, deployment)
    policies, problems = iam_check.role_policies(resolved, deployment)
    # The packaged policies are all of the shape the check evaluates ...
    assert problems == []
    assert set(policies) == {"APIHandler", "Pathway", "Reconcile", "Retention",
                             "PathwayStateMachine"}
    # ... and one of any other shape is refused, not decided.
    changed = copy.deepcopy(resolved)
    [policy] = changed["Resources"]["PathwayRole"]["Properties"]["Policies"]
    count = len(policy["PolicyDocument"]["Statement"])
    policy["PolicyDocument"]["Statement"] += [
        {"Effect": "Deny", "Action": "ses:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]
    changed["Resources"]["ApiHandlerRole"]["Properties"]["ManagedPolicyArns"] = [
        "arn:aws:iam::aws:policy/AdministratorAccess"]
    _, problems = iam_check.role_policies(changed, deployment)
    assert sorted(problems) == [
        "ApiHandlerRole: ManagedPolicyArns is not modelled",
        f"PathwayRole.PathwayRolePolicy[{count}]: Effect 'Deny' (only Allow is modelled)",
        f"PathwayRole.PathwayRolePolicy[{count + 1}]: Condition is not modelled"]


def test_a_policy_without_a_needed_action_fails_make_iam(
        api: Any, client: Any, template: dict[str, Any], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Real calls of every function: a referral submitted (the web function starts its
    # execution), acknowledged by email (the pathway function, with the configuration set),
    # the reconciler's schedule (which lists the running executions: the integration tests
    # only send it an execution's end) and the daily retention.
    reference = api(make_referral()).json_body["reference"]
    wait_for_acknowledgement(reference)
    scheduled = client.events.generate_cw_event(source="aws.events", detail={}, resources=[],
                                                detail_type="Scheduled Event")
    assert client.lambda_.invoke("reconcile", scheduled).payload["marked"] == []
    assert client.lambda_.invoke("retention", scheduled).payload == {"anonymised": 0}
    recording = tmp_path / "calls.json"
    calls.RECORDER.write(recording)

    packaged = tmp_path / "as-packaged.json"
    packaged.write_text(json.dumps(template), encoding="utf-8")
    assert iam_check.main([str(packaged), str(recording)]) == 0
    assert "iam ok" in capsys.readouterr().out

    # A copy of the web function's policy without the one action that starts an execution,
    # and of the pathway function's without the configuration set its emails name.
    changed = copy.deepcopy(template)
    statement(changed, "ApiHandlerRole", "StartAndResumePathway")["Action"] = []
    send = statement(changed, "PathwayRole", "SendAsTheSenderOnly")
    send["Resource"] = [arn for arn in send["Resource"]
                        if "configuration-set" not in json.dumps(arn)]
    denied = run_check(changed, recording, tmp_path, "changed")
    assert denied.returncode == 1
    assert (f"APIHandler states:StartExecution: states:StartExecution on {MACHINE} "
            "(no statement allows it;") in denied.stderr
    assert (f"Pathway ses:SendRawEmail: ses:SendRawEmail on {CONFIGURATION_SET} "
            "(no statement allows it;") in denied.stderr
    # Nothing else: the other functions' copies of the same statements are intact.
    listed = denied.stderr.split("DENIED", 1)[1].strip().splitlines()[1:]
    assert {line.strip().split(": ", 1)[0] for line in listed} == {
        "APIHandler states:StartExecution", "Pathway ses:SendRawEmail"}, denied.stderr


def test_every_call_each_function_made_is_allowed_by_its_policy(
        request: pytest.FixtureRequest, template: dict[str, Any], tmp_path: Path) -> None:
    """Runs last (conftest.py orders it): the calls of every test before it."""
    recorded = calls.RECORDER.calls()
    if not recorded:
        pytest.skip("no test made an AWS call in this session: `make iam` runs those that do")
    calls.RECORDER.write(RECORDING)
    report = iam_check.check(iam_check.translate(template), recorded)
    assert report.ok(), report.text()
    ran = {item.nodeid.split("/")[1] for item in request.session.items}
    if {"integration", "http"} <= ran:
        # The recording works: each principal those tests exercise made calls.
        assert set(report.counts) >= PRINCIPALS, report.text()
