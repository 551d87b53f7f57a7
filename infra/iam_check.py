"""`make iam`: every AWS call each Lambda function made in the tests is allowed by its role.

    python infra/iam_check.py out/sam.json build/iam-calls.json

The recording (devstack/calls.py, written by the test session) holds each call with the
function that made it and what IAM authorises it against: the action and the ARN of each
resource AWS checks (the table, or `.../index/gsiN` for an index query; the state machine or
execution; the sender's identity and the configuration set for an email; the function for an
Invoke). This reads each function's policies from SAM's translation of the packaged template,
resolved for the local stack's names (devstack/stack.py DEPLOYED_AS), and fails listing every
call its policies do not allow. Each function that ran also writes its logs with its role
(the Lambda runtime's CreateLogStream and PutLogEvents on its log group), checked the same way;
and the state machine's role, whose Lambda tasks moto's Step Functions records, is checked too.

Why evaluating Allow statements, with IAM's wildcards, is enough for these policies: a call is
allowed when some statement of the principal's policies allows it and none denies it, and
nothing else can narrow it here. `evaluable()` refuses a policy that is not of that shape:
any Deny, NotAction, NotResource or Condition, a policy variable, a managed policy or
permissions boundary on a role, or a policy resource attached from elsewhere. Then an
allowing statement is all there is to find: no Deny can override it, no condition limit it;
the roles are the functions' own, with no session policy; same-account calls need no
resource policy (the stack sets none on the table, state machine, identity or configuration
set); and the organisation's guardrails (SCPs) are the account's, not the template's.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devstack.calls import ACCOUNT, NO_FUNCTION, UNMODELLED  # noqa: E402
from infra.rehearsal import (  # noqa: E402
    KINDS,
    WITHOUT_CUSTOM_DOMAIN,
    Deployment,
    resolve,
    translate,
)

RUNTIME = "the Lambda runtime, writing the function's logs"


# --------------------------------------------------------------------------- IAM matching
@cache
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM's wildcards: * any run of characters (`/` and `:` too), ? any one character.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(body, re.IGNORECASE if ignore_case else 0)


def matches(globs: str | list[str], value: str, ignore_case: bool) -> bool:
    """Whether an Action (case-insensitive) or Resource (case-sensitive) element covers it."""
    return any(_pattern(glob, ignore_case).fullmatch(value)
               for glob in ([globs] if isinstance(globs, str) else globs))


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Whether an Allow statement covers the action on the resource."""
    return any(statement.get("Effect") == "Allow"
               and matches(statement.get("Action", []), action, True)
               and matches(statement.get("Resource", []), resource, False)
               for statement in statements)


# --------------------------------------------------------------------------- the policies
def evaluable(statement: dict[str, Any], where: str) -> list[str]:
    """Why this statement needs more than Allow-and-wildcards to evaluate (none: it doesn't)."""
    problems = []
    if statement.get("Effect") != "Allow":
        problems.append(f"{where}: Effect {statement.get('Effect')!r} (only Allow is modelled)")
    for element in ("NotAction", "NotResource", "NotPrincipal", "Condition"):
        if element in statement:
            problems.append(f"{where}: {element} is not modelled")
    if "Action" not in statement or "Resource" not in statement:
        problems.append(f"{where}: no Action or no Resource")
    if "${" in json.dumps(statement.get("Resource", "")):
        problems.append(f"{where}: a policy variable in Resource is not modelled")
    return problems


def role_policies(resolved: dict[str, Any], deployment: Deployment) -> tuple[
        dict[str, list[dict[str, Any]]], list[str]]:
    """Each function's (and state machine's) policy statements, by logical id, and why any
    of them cannot be evaluated here."""
    resources = resolved["Resources"]
    problems = [f"{name}: a {resource['Type']} attaches policies from outside the role"
                for name, resource in resources.items()
                if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")]
    role_arn = KINDS["AWS::IAM::Role"].attributes["Arn"]
    roles = {role_arn(deployment, resource["PhysicalName"]): name
             for name, resource in resources.items() if resource["Type"] == "AWS::IAM::Role"}
    found: dict[str, list[dict[str, Any]]] = {}
    for name, resource in resources.items():
        props = resource["Properties"]
        if resource["Type"] not in ("AWS::Lambda::Function",
                                    "AWS::StepFunctions::StateMachine"):
            continue
        role_name = roles.get(props.get("Role") or props.get("RoleArn"))
        if role_name is None:
            problems.append(f"{name}: its role is not one of the stack's")
            continue
        role = resources[role_name]["Properties"]
        for element in ("ManagedPolicyArns", "PermissionsBoundary"):
            if role.get(element):
                problems.append(f"{role_name}: {element} is not modelled")
        statements = []
        for policy in role.get("Policies", []):
            document = policy["PolicyDocument"]["Statement"]
            for i, statement in enumerate(document if isinstance(document, list)
                                          else [document]):
                problems.extend(evaluable(statement, f"{role_name}.{policy['PolicyName']}[{i}]"))
                statements.append(statement)
        found[name] = statements
    return found, problems


def local_stack() -> Deployment:
    """The deployment the local stack stands in for: its sender, its stack name (and so its
    configuration set's name), its table, state machine and function names, moto's account
    and region. Recorded ARNs and the policies' resolved ARNs then name the same things."""
    from devstack import stack

    return Deployment({**WITHOUT_CUSTOM_DOMAIN, "SenderEmail": stack.SENDER},
                      stack_name=stack.STACK_NAME, region=stack.REGION, account=ACCOUNT,
                      names=stack.DEPLOYED_AS)


# --------------------------------------------------------------------------- the check
@dataclass
class Report:
    """What the check found: calls by principal, the denied ones, and what stopped it."""

    counts: dict[str, int]
    not_checked: int
    denied: list[str]
    problems: list[str]

    def ok(self) -> bool:
        """Nothing denied and every policy evaluable."""
        return not self.denied and not self.problems

    def text(self) -> str:
        """The report as `make iam` prints it."""
        lines = [f"  {name}: {count} calls" for name, count in sorted(self.counts.items())]
        lines.append(f"  not checked: {self.not_checked} calls by the tests themselves "
                     "(no function running)")
        if self.problems:
            lines += ["POLICIES THIS CHECK CANNOT EVALUATE:", *(f"  {p}" for p in self.problems)]
        if self.denied:
            lines += [f"DENIED: {len(self.denied)} kinds of call the policies do not allow:",
                      *(f"  {d}" for d in self.denied)]
        return "\n".join(lines)


def runtime_calls(resolved: dict[str, Any], deployment: Deployment,
                  functions: set[str]) -> list[dict[str, Any]]:
    """What the Lambda runtime does with the role of each function that ran: write its logs
    (to the log group its LoggingConfig names, else Lambda's default one)."""
    rows = []
    for name in sorted(functions):
        resource = resolved["Resources"].get(name)
        if resource is None or resource["Type"] != "AWS::Lambda::Function":
            continue
        group = resource["Properties"].get("LoggingConfig", {}).get(
            "LogGroup", f"/aws/lambda/{resource['PhysicalName']}")
        stream = deployment.arn("logs", f"log-group:{group}:log-stream:2026/01/01/[$LATEST]0a1b")
        rows.append({"function": name, "operation": RUNTIME, "count": 0, "test": "",
                     "authorizations": [{"action": action, "resources": [stream]}
                                        for action in ("logs:CreateLogStream",
                                                       "logs:PutLogEvents")]})
    return rows


def check(template: dict[str, Any], calls: list[dict[str, Any]],
          deployment: Deployment | None = None) -> Report:
    """Every recorded call of each principal against its policies in the translated
    template, resolved for the local stack (or the deployment given)."""
    deployment = deployment or local_stack()
    resolved = resolve(template, deployment)
    policies, problems = role_policies(resolved, deployment)
    checked = [call for call in calls if call["function"] != NO_FUNCTION]
    checked += runtime_calls(resolved, deployment, {call["function"] for call in checked})
    counts: dict[str, int] = {}
    denied = []
    for call in checked:
        function = call["function"]
        counts[function] = counts.get(function, 0) + call["count"]
        statements = policies.get(function)
        for needed in call["authorizations"]:
            for resource in needed["resources"]:
                if resource == UNMODELLED:
                    why = "devstack/calls.py does not say what IAM checks for it"
                elif statements is None:
                    why = "no such function in the template"
                elif allows(statements, needed["action"], resource):
                    continue
                else:
                    why = "no statement allows it"
                first = f", first in {call['test']}" if call["test"] else ""
                made = f"; {call['count']} calls{first}" if call["count"] else ""
                denied.append(f"{function} {call['operation']}: {needed['action']} on "
                              f"{resource} ({why}{made})")
    not_checked = sum(call["count"] for call in calls if call["function"] == NO_FUNCTION)
    return Report(counts, not_checked, sorted(set(denied)), problems)


def main(argv: list[str]) -> int:
    """Check a recording against a packaged template; 0 when every call is allowed."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    template_path, calls_path = map(Path, argv)
    if not calls_path.exists():
        print(f"IAM CHECK FAILED: no recording at {calls_path}: run the integration and HTTP "
              "tests first (`make iam` does)", file=sys.stderr)
        return 1
    calls = json.loads(calls_path.read_text(encoding="utf-8"))["calls"]
    template = json.loads(template_path.read_text(encoding="utf-8"))
    report = check(translate(template), calls)
    print(f"IAM check of {calls_path} against the policies in {template_path}:\n"
          f"{report.text()}", file=sys.stdout if report.ok() else sys.stderr)
    if report.ok():
        print("iam ok: every recorded call is allowed by its function's policy")
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
