"""The deploy rehearsal: what CloudFormation would make of the packaged template, short of an
AWS account. `make package` runs it after cfn-lint has passed the SAM template.

    python infra/rehearsal.py out/sam.json build/translated.json

1. The upload `aws cloudformation package` does: each function's local CodeUri becomes an S3
   location (SAM refuses anything else).
2. The transform CloudFormation runs first: aws-sam-translator's own Translator turns the SAM
   template into plain CloudFormation (written to the second argument).
3. cfn-lint on that translation: what the SAM template hides (the roles, API stage, schedule
   rules and permissions SAM generates) is checked as CloudFormation will see it.
4. Every intrinsic (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, Fn::Select, Fn::Split and the
   conditions) evaluated with concrete parameters, once without and once with a custom
   domain: each must name a real parameter, pseudo parameter, resource or attribute of one,
   no resource may need one its condition leaves out, and nothing unresolved may remain.

`resolve()` is also what infra/iam_check.py reads the functions' policies through.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "eu-west-2"
ACCOUNT = "123456789012"
ARTEFACT_BUCKET = "phb-rehearsal-artefacts"
NO_VALUE = object()  # AWS::NoValue: the key holding it is dropped

# Parameters a deployer gives (the rest have defaults), both ways DEPLOY.md describes.
REQUIRED = {
    "SenderEmail": "phb-pathway@example.org",
    "HelpEmail": "phb@example.org",
    "HelpPhone": "020 7946 0000",
    "PanelEmails": "panel@example.org",
    "AdvisorEmails": "advisors@example.org",
    "SessionSecret": "0123456789abcdef0123456789abcdef",
}
WITHOUT_CUSTOM_DOMAIN = {**REQUIRED, "PublicBaseUrl": "https://example.invalid"}
WITH_CUSTOM_DOMAIN = {
    **REQUIRED, "DomainName": "phb.example.org",
    "CertificateArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/abcd-1234",
}
CASES = {"without a custom domain": WITHOUT_CUSTOM_DOMAIN,
         "with a custom domain": WITH_CUSTOM_DOMAIN}


class Unresolved(Exception):
    """The template cannot be deployed as it stands: each problem names where it is."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n  ".join(["template does not resolve:", *problems]))
        self.problems = problems


# --------------------------------------------------------------------------- translation
def as_uploaded(sam: dict[str, Any]) -> dict[str, Any]:
    """The template as `aws cloudformation package` leaves it: local code is in S3."""
    uploaded = copy.deepcopy(sam)
    for name, resource in uploaded["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and isinstance(
                props.get("CodeUri"), str) and not props["CodeUri"].startswith("s3://"):
            digest = hashlib.md5(f"{name}:{props['CodeUri']}".encode()).hexdigest()
            props["CodeUri"] = f"s3://{ARTEFACT_BUCKET}/{digest}"
    return uploaded


def translate(sam: dict[str, Any]) -> dict[str, Any]:
    """SAM's own translation of the template into CloudFormation (no AWS call: no managed
    policy is named, and an empty map makes naming one fail here, not at deploy time)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)  # the translator's partition lookup
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator(managed_policy_map={}, sam_parser=Parser())
    result: dict[str, Any] = translator.translate(sam_template=as_uploaded(sam),
                                                  parameter_values={})
    return result


def cfn_lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    """cfn-lint (the virtualenv's, as `make package` runs it) on the given templates."""
    command = [str(Path(sys.executable).parent / "cfn-lint"), *map(str, paths),
               "--regions", os.environ.get("AWS_DEFAULT_REGION", REGION)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


# --------------------------------------------------------------------------- resources
@dataclass(frozen=True)
class Deployment:
    """Where and how the stack is deployed: the values CloudFormation would know.

    `names` gives the physical name of resources whose template sets none (CloudFormation
    would generate one): the IAM check names the local stack's table, state machine and
    function this way, so recorded ARNs and policy ARNs speak of the same things."""

    parameters: Mapping[str, str]
    stack_name: str = "phb-pathway-dev"
    region: str = REGION
    account: str = ACCOUNT
    partition: str = "aws"
    names: Mapping[str, str] = field(default_factory=dict)

    def arn(self, service: str, rest: str, region: bool = True) -> str:
        """An ARN of this account (and region, unless the service is global)."""
        return f"arn:{self.partition}:{service}:{self.region if region else ''}:" \
               f"{self.account}:{rest}"


# Each resource type: the property naming it (None: CloudFormation generates the name),
# what Ref returns and each attribute Fn::GetAtt may ask for, from its physical name and id.
Values = Callable[[Deployment, str], str]


@dataclass(frozen=True)
class Kind:
    name_property: str | None
    ref: Values
    attributes: Mapping[str, Values] = field(default_factory=dict)


def _name(d: Deployment, name: str) -> str:
    return name


KINDS: dict[str, Kind] = {
    "AWS::DynamoDB::Table": Kind("TableName", _name, {
        "Arn": lambda d, n: d.arn("dynamodb", f"table/{n}"),
        "StreamArn": lambda d, n: d.arn("dynamodb", f"table/{n}/stream/2026-01-01T00:00:00")}),
    "AWS::Lambda::Function": Kind("FunctionName", _name, {
        "Arn": lambda d, n: d.arn("lambda", f"function:{n}")}),
    "AWS::IAM::Role": Kind("RoleName", _name, {
        "Arn": lambda d, n: d.arn("iam", f"role/{n}", region=False),
        "RoleId": lambda d, n: "AROA" + hashlib.sha1(n.encode()).hexdigest()[:17].upper()}),
    "AWS::StepFunctions::StateMachine": Kind(
        "StateMachineName", lambda d, n: d.arn("states", f"stateMachine:{n}"), {
            "Arn": lambda d, n: d.arn("states", f"stateMachine:{n}"),
            "Name": _name}),
    "AWS::Logs::LogGroup": Kind("LogGroupName", _name, {
        "Arn": lambda d, n: d.arn("logs", f"log-group:{n}:*")}),
    "AWS::SES::ConfigurationSet": Kind("Name", _name),
    "AWS::SES::ConfigurationSetEventDestination": Kind(None, _name),
    "AWS::SNS::Topic": Kind("TopicName", lambda d, n: d.arn("sns", n), {
        "TopicArn": lambda d, n: d.arn("sns", n), "TopicName": _name}),
    "AWS::SNS::TopicPolicy": Kind(None, _name),
    "AWS::Events::Rule": Kind("Name", _name, {
        "Arn": lambda d, n: d.arn("events", f"rule/{n}")}),
    "AWS::Lambda::Permission": Kind(None, _name),
    "AWS::ApiGateway::RestApi": Kind(None, lambda d, n: _short_id(n), {
        "RootResourceId": lambda d, n: _short_id("root" + n)}),
    "AWS::ApiGateway::Deployment": Kind(None, lambda d, n: _short_id(n)),
    "AWS::ApiGateway::Stage": Kind("StageName", _name),
    "AWS::ApiGateway::DomainName": Kind("DomainName", _name, {
        "RegionalDomainName": lambda d, n: f"d-{_short_id(n)}.execute-api.{d.region}."
                                           "amazonaws.com",
        "RegionalHostedZoneId": lambda d, n: "ZJ5UAJN8Y3Z2Q",
        "DistributionDomainName": lambda d, n: f"{_short_id(n)}.cloudfront.net"}),
    "AWS::ApiGateway::BasePathMapping": Kind(None, _name),
}


def _short_id(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()[:10]


PSEUDO = ("AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::StackId", "AWS::Partition",
          "AWS::URLSuffix", "AWS::NoValue", "AWS::NotificationARNs")
SUB_NAME = re.compile(r"\$\{([^}]*)\}")


# --------------------------------------------------------------------------- resolution
class Resolver:
    """Evaluates a CloudFormation template's intrinsics for one deployment."""

    def __init__(self, template: dict[str, Any], deployment: Deployment) -> None:
        self.template = template
        self.deployment = deployment
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.problems: list[str] = []
        self.parameters = self._parameters()
        self._conditions: dict[str, bool] = {}
        self._names: dict[str, str] = {}
        self._naming: set[str] = set()

    # parameters and conditions
    def _parameters(self) -> dict[str, Any]:
        declared = self.template.get("Parameters", {})
        values: dict[str, Any] = {}
        for unknown in sorted(set(self.deployment.parameters) - set(declared)):
            self.problems.append(f"Parameters: {unknown} is given but not declared")
        for name, spec in declared.items():
            if name in self.deployment.parameters:
                value = str(self.deployment.parameters[name])
            elif "Default" in spec:
                value = str(spec["Default"])
            else:
                self.problems.append(f"Parameters: {name} has no value and no default")
                continue
            self._check_parameter(name, spec, value)
            values[name] = value.split(",") if spec.get("Type") == "CommaDelimitedList" \
                else value
        return values

    def _check_parameter(self, name: str, spec: dict[str, Any], value: str) -> None:
        """CloudFormation refuses a value its declaration does not allow."""
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            self.problems.append(f"Parameters: {name}={value!r} does not match {pattern}")
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in map(str, allowed):
            self.problems.append(f"Parameters: {name}={value!r} is not one of {allowed}")
        if "MinLength" in spec and len(value) < int(spec["MinLength"]):
            self.problems.append(f"Parameters: {name} is shorter than {spec['MinLength']}")
        if spec.get("Type") == "Number" and ("MinValue" in spec or "MaxValue" in spec):
            number = float(value)
            if not float(spec.get("MinValue", number)) <= number <= float(
                    spec.get("MaxValue", number)):
                self.problems.append(f"Parameters: {name}={value} is out of range")

    def condition(self, name: str, where: str) -> bool:
        """A named condition's value (False, and a problem, when there is none)."""
        if name not in self._conditions:
            declared = self.template.get("Conditions", {})
            if name not in declared:
                self.problems.append(f"{where}: no condition named {name}")
                return False
            self._conditions[name] = bool(self._truth(declared[name], f"Conditions.{name}"))
        return self._conditions[name]

    def _truth(self, node: Any, where: str) -> bool:
        if not isinstance(node, dict) or len(node) != 1:
            self.problems.append(f"{where}: not a condition function: {node!r}")
            return False
        [(function, args)] = node.items()
        if function == "Condition":
            return self.condition(args, where)
        if function == "Fn::Equals":
            left, right = (self.value(arg, where) for arg in args)
            return bool(str(left) == str(right))
        if function == "Fn::Not":
            return not self._truth(args[0], where)
        if function == "Fn::And":
            return all(self._truth(arg, where) for arg in args)
        if function == "Fn::Or":
            return any(self._truth(arg, where) for arg in args)
        self.problems.append(f"{where}: {function} is not a condition function")
        return False

    def active(self, logical_id: str) -> bool:
        """Whether CloudFormation creates this resource in this deployment."""
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.condition(condition, f"Resources.{logical_id}")

    # references
    def physical_name(self, logical_id: str) -> str:
        """The resource's name: its name property, the deployment's, or a generated one."""
        if logical_id in self._names:
            return self._names[logical_id]
        resource = self.resources[logical_id]
        kind = KINDS.get(resource["Type"])
        given = self.deployment.names.get(logical_id)
        props = resource.get("Properties", {})
        if given is not None:
            name = given
        elif kind is not None and kind.name_property and kind.name_property in props:
            if logical_id in self._naming:
                self.problems.append(f"Resources.{logical_id}: its name refers to itself")
                return logical_id
            self._naming.add(logical_id)
            name = str(self.value(props[kind.name_property], f"Resources.{logical_id}"))
        else:
            digest = hashlib.sha1(f"{self.deployment.stack_name}/{logical_id}".encode())
            name = f"{self.deployment.stack_name}-{logical_id}-{digest.hexdigest()[:12]}"[:64]
        self._names[logical_id] = name
        return name

    def ref(self, name: str, where: str) -> Any:
        """What Ref returns for a parameter, pseudo parameter or resource."""
        d = self.deployment
        pseudo = {"AWS::Region": d.region, "AWS::AccountId": d.account,
                  "AWS::StackName": d.stack_name, "AWS::Partition": d.partition,
                  "AWS::StackId": d.arn("cloudformation", f"stack/{d.stack_name}/rehearsal"),
                  "AWS::URLSuffix": "amazonaws.com", "AWS::NotificationARNs": [],
                  "AWS::NoValue": NO_VALUE}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = self._resource_kind(name, where)
        return "?" if kind is None else kind.ref(d, self.physical_name(name))

    def getatt(self, name: str, attribute: str, where: str) -> Any:
        """What Fn::GetAtt returns for a resource's attribute."""
        kind = self._resource_kind(name, where)
        if kind is None:
            return "?"
        if attribute not in kind.attributes:
            self.problems.append(f"{where}: {name} ({self.resources[name]['Type']}) has no "
                                 f"attribute {attribute} that this rehearsal knows of")
            return "?"
        return kind.attributes[attribute](self.deployment, self.physical_name(name))

    def _resource_kind(self, name: str, where: str) -> Kind | None:
        if name not in self.resources:
            self.problems.append(f"{where}: {name} is no parameter, pseudo parameter or "
                                 "resource")
            return None
        if not self.active(name):
            self.problems.append(f"{where}: refers to {name}, which its condition "
                                 f"{self.resources[name]['Condition']} leaves out here")
            return None
        kind = KINDS.get(self.resources[name]["Type"])
        if kind is None:
            self.problems.append(f"{where}: {name} is a {self.resources[name]['Type']}, whose "
                                 "values this rehearsal does not model (add it to KINDS)")
        return kind

    # values
    def value(self, node: Any, where: str) -> Any:
        """The node with every intrinsic function evaluated."""
        if isinstance(node, list):
            items = [self.value(item, f"{where}[{i}]") for i, item in enumerate(node)]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(key, args)] = node.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._function(key, args, where)
        resolved = {key: self.value(item, f"{where}.{key}") for key, item in node.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _function(self, key: str, args: Any, where: str) -> Any:
        where = f"{where}.{key}"
        handlers: dict[str, Callable[[Any, str], Any]] = {
            "Ref": lambda a, w: self.ref(a, w),
            "Fn::GetAtt": self._getatt, "Fn::Sub": self._sub, "Fn::Join": self._join,
            "Fn::If": self._if, "Fn::Select": self._select, "Fn::Split": self._split,
            "Fn::GetAZs": lambda a, w: [f"{self.deployment.region}{z}" for z in "abc"],
            "Fn::Base64": lambda a, w: self.value(a, w),
            "Fn::Equals": lambda a, w: self._truth({key: a}, w),
            "Fn::Not": lambda a, w: self._truth({key: a}, w),
            "Fn::And": lambda a, w: self._truth({key: a}, w),
            "Fn::Or": lambda a, w: self._truth({key: a}, w),
            "Condition": lambda a, w: self.condition(a, w),
        }
        if key not in handlers:
            self.problems.append(f"{where}: {key} cannot be resolved before deployment")
            return "?"
        return handlers[key](args, where)

    def _getatt(self, args: Any, where: str) -> Any:
        name, attribute = args.split(".", 1) if isinstance(args, str) else args
        return self.getatt(name, self.value(attribute, where), where)

    def _sub(self, args: Any, where: str) -> str:
        text, variables = (args, {}) if isinstance(args, str) else args
        local = {name: self.value(item, f"{where}.{name}") for name, item in variables.items()}

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal} is written as ${Literal}
            if name in local:
                return str(local[name])
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return str(self.getatt(resource, attribute, where))
            return str(self.ref(name, where))

        return SUB_NAME.sub(fill, text)

    def _join(self, args: Any, where: str) -> str:
        delimiter, items = args
        return str(delimiter).join(str(item) for item in self.value(items, where))

    def _if(self, args: Any, where: str) -> Any:
        # Only the branch taken is evaluated, as CloudFormation does: the other may refer to
        # a resource the condition leaves out.
        name, when_true, when_false = args
        return self.value(when_true if self.condition(name, where) else when_false, where)

    def _select(self, args: Any, where: str) -> Any:
        index, items = int(self.value(args[0], where)), self.value(args[1], where)
        if not isinstance(items, list) or not 0 <= index < len(items):
            self.problems.append(f"{where}: index {index} is outside {items!r}")
            return "?"
        return items[index]

    def _split(self, args: Any, where: str) -> list[str]:
        delimiter, text = args
        return str(self.value(text, where)).split(delimiter)

    # the whole template
    def resolve(self) -> dict[str, Any]:
        """Resources (those created here) and Outputs, every value concrete."""
        resources = {}
        for logical_id, resource in self.resources.items():
            if not self.active(logical_id):
                continue
            depends = resource.get("DependsOn", [])
            for needed in [depends] if isinstance(depends, str) else depends:
                if needed not in self.resources or not self.active(needed):
                    self.problems.append(f"Resources.{logical_id}.DependsOn: {needed} is not "
                                         "created here")
            resources[logical_id] = {
                **resource, "PhysicalName": self.physical_name(logical_id),
                "Properties": self.value(resource.get("Properties", {}),
                                         f"Resources.{logical_id}.Properties")}
        outputs = {}
        for name, output in self.template.get("Outputs", {}).items():
            condition = output.get("Condition")
            if condition is None or self.condition(condition, f"Outputs.{name}"):
                outputs[name] = self.value(output["Value"], f"Outputs.{name}.Value")
        resolved = {"Resources": resources, "Outputs": outputs}
        self.problems.extend(f"{path}: still unresolved" for path in leftovers(resolved, ""))
        return resolved


def leftovers(node: Any, where: str) -> list[str]:
    """Where an intrinsic function (or the `?` of a failed one) is still in a value."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" or key.startswith("Fn::"):
                found.append(f"{where}.{key}")
            found.extend(leftovers(value, f"{where}.{key}"))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found.extend(leftovers(item, f"{where}[{i}]"))
    elif node == "?":
        found.append(where)
    return found


def resolve(template: dict[str, Any], deployment: Deployment) -> dict[str, Any]:
    """The translated template as deployed: raises Unresolved listing every problem."""
    resolver = Resolver(template, deployment)
    resolved = resolver.resolve()
    if resolver.problems:
        raise Unresolved(sorted(set(resolver.problems)))
    return resolved


def deployed_definition(resolved: dict[str, Any], state_machine: str) -> dict[str, Any]:
    """A state machine's definition with its DefinitionSubstitutions filled, as
    CloudFormation hands it to Step Functions."""
    props = resolved["Resources"][state_machine]["Properties"]
    text = json.dumps(props["Definition"])
    for name, value in props.get("DefinitionSubstitutions", {}).items():
        text = text.replace("${" + name + "}", str(value))
    unfilled = SUB_NAME.findall(text)
    if unfilled:
        raise Unresolved([f"{state_machine}: no substitution for ${{{name}}}"
                          for name in sorted(set(unfilled))])
    definition: dict[str, Any] = json.loads(text)
    return definition


def main(sam_path: str, translated_path: str) -> int:
    """Translate, lint and resolve the packaged template; 0 when it would deploy."""
    sam = json.loads(Path(sam_path).read_text(encoding="utf-8"))
    try:
        translated = translate(sam)
    except Exception as exc:  # the translator's InvalidDocumentException lists each problem
        print(f"REHEARSAL FAILED: SAM's translation refused the template: {exc}",
              file=sys.stderr)
        return 1
    out = Path(translated_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(translated, indent=2) + "\n", encoding="utf-8")
    linted = cfn_lint(out)
    if linted.returncode != 0:
        print(f"REHEARSAL FAILED: cfn-lint on the translation ({out}):\n{linted.stdout}"
              f"{linted.stderr}", file=sys.stderr)
        return 1
    counts = []
    for case, parameters in CASES.items():
        try:
            resolved = resolve(translated, Deployment(parameters))
        except Unresolved as exc:
            print(f"REHEARSAL FAILED {case}: {exc}", file=sys.stderr)
            return 1
        counts.append(f"{len(resolved['Resources'])} resources {case}")
    print(f"rehearsal ok: {len(translated['Resources'])} resources after SAM's translation "
          f"({out}), cfn-lint clean; every reference resolved: {', '.join(counts)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
