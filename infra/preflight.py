"""`make preflight`: what would stop `make deploy`, or the service once deployed, checked in the
AWS account first, each finding with what to do about it.

    STAGE=prod BUCKET=yourcharity-phb-artefacts AWS_DEFAULT_REGION=eu-west-2 \\
        PARAMS='SenderEmail=phb@yourcharity.org.uk ...' python infra/preflight.py STAGE BUCKET

It takes what `make deploy` takes (`make preflight STAGE=prod BUCKET=...` passes the same), and
reads PARAMS with infra/deploy_parameters.py; a parameter PARAMS leaves out is the stack's
current value, as on a deploy. No value of a NoEcho parameter (SessionSecret) is printed. It
only reads: nothing in the account is created or changed.

The checks: the credentials; the stage (one that runs on AWS); the region (every service the
stack uses is offered there); the sender's SES identity (the address or its domain) verified in
the region; the account out of the SES sandbox; with DomainName, its ACM certificate issued in
the region API Gateway needs it in; the artefact bucket, in the region; the stack not stuck
(ROLLBACK_COMPLETE and the like).
Every result is printed; the exit status is 1 when any check failed (a warning does not fail).
boto3 honours AWS_ENDPOINT_URL, which is how the tests point it at moto's server.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# The repository's root, whether this runs as `python infra/preflight.py` or is imported by
# the tests: its neighbour (infra/deploy_parameters.py) and the stages the functions run as.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.config import DEPLOYED_STAGES
from infra import deploy_parameters

ROOT = Path(__file__).resolve().parent.parent

TEMPLATE = deploy_parameters.TEMPLATE
LONDON = "eu-west-2"
# What the stack is made of (infra/resources.json and chalice's part): each must be offered in
# the region, as botocore's own endpoint data lists them (read offline, no call to AWS).
SERVICES = {"lambda": "Lambda", "stepfunctions": "Step Functions", "dynamodb": "DynamoDB",
            "ses": "SES", "apigateway": "API Gateway", "events": "EventBridge", "sns": "SNS",
            "logs": "CloudWatch Logs", "cloudformation": "CloudFormation", "acm": "ACM",
            "s3": "S3"}
# Stack states `aws cloudformation deploy` can update.
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
# A stack `aws cloudformation deploy` creates as new: a change set made but never run.
UNCREATED = "REVIEW_IN_PROGRESS"
UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE",
             "IMPORT_ROLLBACK_COMPLETE"}
# A few seconds each: a preflight that hangs on a dead endpoint tells nobody anything.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 2})
WIDTH = 100

Status = Literal["PASS", "WARN", "FAIL"]
Clients = Callable[[str, str], Any]


@dataclass(frozen=True)
class Result:
    """One check's verdict: what was found and, unless it passed, what to do next: sentences,
    commands to copy (each starting with `$ `) and text to copy as it is (a DNS record,
    starting with two spaces), those two printed whole on lines of their own."""

    check: str
    status: Status
    found: str
    next_step: tuple[str, ...] = ()

    @property
    def commands(self) -> list[str]:
        """The next step's commands, as a person would paste them."""
        return [line[2:] for line in self.next_step if line.startswith("$ ")]


@dataclass(frozen=True)
class Inputs:
    """What a deploy would use: the stage and region, the bucket, and PARAMS."""

    stage: str
    region: str
    bucket: str
    parameters: dict[str, str]

    @property
    def stack_name(self) -> str:
        """The stack `make deploy` creates or updates."""
        return f"phb-pathway-{self.stage}"


def aws_clients(service: str, region: str) -> Any:
    """A boto3 client, set up as the aws CLI's would be (AWS_PROFILE, AWS_ENDPOINT_URL...)."""
    return boto3.client(service, region_name=region, config=CLIENT_CONFIG)


def error_text(exc: Exception) -> str:
    """An AWS error in a few words: its code and the first line of its message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        message = str(error.get("Message", "")).strip().splitlines()
        code = str(error.get("Code", "error"))
        # An HTML page (a stand-in endpoint's 404) says nothing a person needs.
        return code if not message or message[0].startswith("<") else f"{code}: {message[0]}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def by_hand(command: str) -> tuple[str, ...]:
    """The next step when AWS could not be asked: the command that asks it."""
    return ("Check by hand:", f"$ {command}")


# ---------------------------------------------------------------------------- the checks


def check_account(sts: Any) -> Result:
    """Credentials that work, and which account they are for."""
    try:
        identity = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        return Result("AWS account", "FAIL", f"No working AWS credentials ({error_text(exc)})",
                      ("Sign in (or aws configure), then check it worked:",
                       "$ aws configure sso", "$ aws sts get-caller-identity"))
    return Result("AWS account", "PASS",
                  f"Signed in to account {identity['Account']} as {identity['Arn']}")


def check_stage(stage: str) -> Result:
    """STAGE is one .chalice/config.json packages to run on AWS: any other would be packaged
    without PHB_STAGE (or with a local one), and its functions answer every request 503."""
    stages = json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))["stages"]
    deployable = [name for name, settings in stages.items()
                  if settings.get("environment_variables", {}).get("PHB_STAGE")
                  in DEPLOYED_STAGES]
    if stage not in deployable:
        return Result("Stage", "FAIL", f"STAGE={stage} is not a stage that runs on AWS",
                      (f"Use STAGE={' or STAGE='.join(deployable)} (.chalice/config.json).",))
    return Result("Stage", "PASS", f"{stage}: the stack phb-pathway-{stage}")


@functools.cache
def regions_of(service: str) -> frozenset[str]:
    """The regions botocore's endpoint data lists for a service."""
    return frozenset(endpoint_data().get_available_regions(service))


@functools.cache
def endpoint_data() -> Any:
    """A session to read botocore's endpoint data with (each new one reads the file again)."""
    return boto3.session.Session()


def check_region(region: str) -> Result:
    """The region offers every service the stack uses; outside London, a warning (referrals
    hold NHS patients' data, and London is AWS's only UK region)."""
    if region not in regions_of("cloudformation"):
        return Result("Region", "FAIL", f"{region!r} is not an AWS region",
                      (f"Set AWS_DEFAULT_REGION={LONDON} (London), or another region that "
                       "this lists:", "$ aws ec2 describe-regions --query 'Regions[].RegionName'"))
    missing = [name for service, name in SERVICES.items()
               if region not in regions_of(service)]
    if missing:
        return Result("Region", "FAIL",
                      f"{region} does not offer {', '.join(missing)}, which the stack uses",
                      (f"Deploy to {LONDON} (London): set AWS_DEFAULT_REGION={LONDON}.",))
    if region != LONDON:
        return Result("Region", "WARN",
                      f"{region} offers every service the stack uses, but is not London",
                      ("Referrals hold NHS patients' data: keep it in the UK with "
                       f"AWS_DEFAULT_REGION={LONDON}, unless your data protection officer has "
                       f"agreed to {region}. The SES identity, the certificate and the bucket "
                       "must all be in the stack's region.",))
    return Result("Region", "PASS", f"{region} (London) offers every service the stack uses")


def check_sender(ses: Any, sender: str, region: str) -> Result:
    """The sender, or its domain, is verified in SES in the region (the functions may send as
    either identity and no other)."""
    if not sender:
        return Result("SES sender", "FAIL", "No SenderEmail: PARAMS has none and no stack has one",
                      ("Add SenderEmail=phb@yourcharity.org.uk (your address) to PARAMS.",))
    domain = sender.rpartition("@")[2]
    try:
        found = ses.get_identity_verification_attributes(
            Identities=[sender, domain])["VerificationAttributes"]
    except (BotoCoreError, ClientError) as exc:
        return Result("SES sender", "FAIL", f"Could not ask SES in {region} ({error_text(exc)})",
                      by_hand(f"aws sesv2 get-email-identity --email-identity {sender} "
                              f"--region {region}"))
    statuses = {identity: found.get(identity, {}).get("VerificationStatus")
                for identity in (sender, domain)}
    if statuses[sender] == "Success":
        return Result("SES sender", "PASS", f"{sender} is verified in SES in {region}")
    if statuses[domain] == "Success":
        return Result("SES sender", "PASS",
                      f"{sender} may send: its domain {domain} is verified in SES in {region}")
    create = f"$ aws sesv2 create-email-identity --email-identity {sender} --region {region}"
    if "Pending" in statuses.values():
        waiting = " and ".join(name for name, status in statuses.items() if status == "Pending")
        return Result("SES sender", "FAIL",
                      f"{waiting} is waiting for verification in SES in {region}",
                      (f"The address: click the link AWS emailed to {sender}. Lost it? Delete "
                       "the identity in the SES console and create it again:", create,
                       "The domain: add to your DNS the DKIM CNAME records this lists, then "
                       "wait (up to 72 hours):",
                       f"$ aws sesv2 get-email-identity --email-identity {domain} "
                       f"--region {region}"))
    problem = ", ".join(f"{name} {status}" for name, status in statuses.items() if status)
    return Result("SES sender", "FAIL",
                  f"{sender} is not verified in SES in {region}, nor is {domain}"
                  + (f" ({problem})" if problem else ""),
                  (f"Verify {sender} in SES in {region}, then click the link in the email AWS "
                   f"sends to it:", create,
                   f"(Or verify the domain {domain}: SES console → Identities → Create identity, "
                   "and add its DKIM records to your DNS.)"))


def production_access_request(region: str, website: str) -> tuple[str, ...]:
    """How to ask AWS to take the account out of the SES sandbox, and what to tell them."""
    return (f"Ask AWS for production access in {region}: SES console ({region}) → Get set up → "
            "Request production access. Say: transactional emails only, never marketing, from "
            "an NHS Personal Health Budget referral service to the NHS staff who refer and "
            "approve (acknowledgements, sign-off requests, reminders, review prompts) and to our "
            "own PHB team; a few hundred a month; every recipient used the service or is named "
            "in a referral; bounces and complaints are recorded through an SES configuration set "
            "and an advisor corrects the address. AWS usually answers within a day. Or from the "
            "command line:",
            f"$ aws sesv2 put-account-details --production-access-enabled --mail-type "
            f"TRANSACTIONAL --website-url {website} --contact-language EN "
            f"--use-case-description 'Transactional emails of an NHS PHB referral service "
            f"(as above)' --region {region}")


def check_sandbox(sesv2: Any, region: str, stage: str, website: str) -> Result:
    """Production access in SES: in the sandbox SES delivers only to verified addresses, so a
    prod stack would email nobody (a failure) and a dev stack only its testers (a warning)."""
    verdict: Status = "FAIL" if stage == "prod" else "WARN"
    check = "SES production access"
    try:
        account = sesv2.get_account()
    except (BotoCoreError, ClientError) as exc:
        return Result(check, verdict,
                      f"Could not read the SES account in {region} ({error_text(exc)})",
                      ("Check by hand (ProductionAccessEnabled must be true), or see SES "
                       "console → Account dashboard:",
                       f"$ aws sesv2 get-account --region {region}"))
    if not account.get("SendingEnabled", True):
        return Result(check, "FAIL",
                      f"Sending is paused for the account in {region} (reputation: "
                      f"{account.get('EnforcementStatus', 'unknown')})",
                      ("SES console → Reputation metrics says why. If you paused it yourself:",
                       f"$ aws sesv2 put-account-sending-attributes --sending-enabled "
                       f"--region {region}"))
    if account.get("ProductionAccessEnabled"):
        quota = account.get("SendQuota", {}).get("Max24HourSend")
        return Result(check, "PASS", f"The account has production access in {region}"
                      + (f" ({quota:,.0f} emails a day)" if quota else ""))
    review = account.get("Details", {}).get("ReviewDetails", {})
    found = (f"The account is in the SES sandbox in {region}: SES delivers only to addresses "
             "verified in it, so referrers, managers and advisors get no email")
    case = review.get("CaseId", "?")
    if review.get("Status") == "PENDING":
        return Result(check, verdict, f"{found} (your request, case {case}, is with AWS)",
                      ("Wait for AWS's answer to the case in AWS Support Center, and answer "
                       "anything they ask there.",))
    step = production_access_request(region, website)
    if review.get("Status") == "DENIED":
        step = (f"AWS denied the last request (case {case}): reply to it in AWS Support Center "
                "with more detail.", *step)
    return Result(check, verdict, found, step)


def certificate_region(region: str) -> str:
    """Where API Gateway takes the custom domain's certificate from: the stack's region for the
    template's REGIONAL domain, us-east-1 (CloudFront's) were it EDGE."""
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    types = [resource["Properties"].get("EndpointConfiguration", {}).get("Types", ["EDGE"])[0]
             for resource in template["Resources"].values()
             # Some are fragments chalice's own resources are merged with: no Type of their own.
             if resource.get("Type") == "AWS::ApiGateway::DomainName"]
    return "us-east-1" if types and types[0] == "EDGE" else region


def covers(names: list[str], domain: str) -> bool:
    """Whether a certificate for `names` serves `domain` (a wildcard covers one label)."""
    return any(name == domain or (name.startswith("*.") and domain.partition(".")[2] == name[2:])
               for name in names)


def request_certificate(domain: str, region: str) -> tuple[str, ...]:
    """How to get a certificate API Gateway can use for `domain`."""
    return (f"Request a certificate in {region}, add the CNAME record it shows to your DNS, and "
            "pass its ARN as CertificateArn:",
            f"$ aws acm request-certificate --domain-name {domain} --validation-method DNS "
            f"--region {region}")


def check_certificate(clients: Clients, parameters: dict[str, str], region: str) -> Result:
    """With DomainName: an issued ACM certificate for it, in the region API Gateway reads it
    from. Without one nothing is needed: the service is at the API's own address (or at
    PublicBaseUrl, when it is set), and its links are built from it."""
    domain, arn = parameters.get("DomainName", ""), parameters.get("CertificateArn", "")
    needed_in = certificate_region(region)
    if not domain:
        where = parameters.get("PublicBaseUrl") or "the API's own address (the stack's " \
                                                    "PublicUrl output)"
        return Result("Certificate", "PASS",
                      f"No DomainName, so no certificate: the service is at {where}")
    if not arn:
        return Result("Certificate", "FAIL", f"DomainName {domain} has no CertificateArn",
                      request_certificate(domain, needed_in))
    arn_region = arn.split(":")[3] if arn.count(":") >= 5 and arn.startswith("arn:") else ""
    if arn_region != needed_in:
        where = f"is in {arn_region}" if arn_region else "is not an ACM certificate's ARN"
        return Result("Certificate", "FAIL",
                      f"CertificateArn {where}, but the API's custom domain is regional "
                      f"(infra/resources.json), so API Gateway needs its certificate in "
                      f"{needed_in}", request_certificate(domain, needed_in))
    try:
        certificate = clients("acm", needed_in).describe_certificate(
            CertificateArn=arn)["Certificate"]
    except (BotoCoreError, ClientError) as exc:
        return Result("Certificate", "FAIL",
                      f"No certificate {arn} in this account in {needed_in} ({error_text(exc)})",
                      ("Copy the ARN of yours from this list, or request one (below):",
                       f"$ aws acm list-certificates --region {needed_in}",
                       *request_certificate(domain, needed_in)))
    return certificate_verdict(certificate, domain, needed_in)


def certificate_verdict(certificate: dict[str, Any], domain: str, region: str) -> Result:
    """What describe_certificate's answer means for serving `domain`."""
    status = certificate["Status"]
    names = [certificate.get("DomainName", ""), *certificate.get("SubjectAlternativeNames", [])]
    if status == "PENDING_VALIDATION":
        records = [option["ResourceRecord"] for option in
                   certificate.get("DomainValidationOptions", []) if "ResourceRecord" in option]
        cnames = [f"  {record['Name']}  CNAME  {record['Value']}" for record in records]
        return Result("Certificate", "FAIL",
                      f"The certificate for {domain} in {region} is waiting for DNS validation",
                      ("Add to your DNS " + ("this record:" if cnames else
                                             "the CNAME record ACM shows for it."), *cnames,
                       "ACM issues the certificate within about 30 minutes of the record "
                       "appearing; this waits for it:",
                       f"$ aws acm wait certificate-validated --certificate-arn "
                       f"{certificate['CertificateArn']} --region {region}"))
    if status != "ISSUED":
        return Result("Certificate", "FAIL", f"The certificate for {domain} is {status}",
                      request_certificate(domain, region))
    if not covers(names, domain):
        return Result("Certificate", "FAIL",
                      f"The certificate is for {', '.join(sorted(set(names)))}, not {domain}",
                      request_certificate(domain, region))
    return Result("Certificate", "PASS", f"Issued for {domain} in {region}")


def bucket_region(s3: Any, bucket: str) -> str:
    """The bucket's region; ClientError when there is none or it is not ours to use. S3 says
    where a bucket is even when asked in another region (a 301 carrying the same header)."""
    try:
        answer = s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if "x-amz-bucket-region" in headers and exc.response["Error"].get("Code") == "301":
            return str(headers["x-amz-bucket-region"])
        raise
    headers = answer["ResponseMetadata"].get("HTTPHeaders", {})
    return str(answer.get("BucketRegion") or headers.get("x-amz-bucket-region", ""))


def check_bucket(s3: Any, bucket: str, region: str) -> Result:
    """The artefact bucket exists, this account may use it, and it is in the stack's region
    (Lambda takes a function's code only from a bucket in the function's region)."""
    name = bucket or "yourcharity-phb-artefacts"
    make = f"$ aws s3 mb s3://{name} --region {region}"
    if not bucket:
        return Result("Artefact bucket", "FAIL", "No BUCKET given",
                      (f"Pass BUCKET=<a bucket of yours in {region}>. To make one:", make))
    try:
        where = bucket_region(s3, bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in ("404", "NoSuchBucket"):
            return Result("Artefact bucket", "FAIL", f"There is no bucket {bucket}",
                          ("Make it:", make))
        if code in ("403", "AccessDenied"):
            return Result("Artefact bucket", "FAIL", f"The bucket {bucket} is someone else's, or "
                                                     "this account may not use it",
                          ("Bucket names are shared by every AWS account: choose one of your "
                           "own, make it and pass it as BUCKET:",
                           f"$ aws s3 mb s3://yourcharity-phb-artefacts --region {region}"))
        return Result("Artefact bucket", "FAIL",
                      f"Could not look at the bucket {bucket} ({error_text(exc)})",
                      by_hand(f"aws s3api head-bucket --bucket {bucket}"))
    except BotoCoreError as exc:
        return Result("Artefact bucket", "FAIL",
                      f"Could not look at the bucket {bucket} ({error_text(exc)})",
                      by_hand(f"aws s3api head-bucket --bucket {bucket}"))
    if where != region:
        return Result("Artefact bucket", "FAIL", f"The bucket {bucket} is in {where}, not {region}",
                      ("Lambda takes its code only from a bucket in the stack's region: make one "
                       f"in {region} and pass it as BUCKET:",
                       f"$ aws s3 mb s3://{bucket}-{region} --region {region}"))
    return Result("Artefact bucket", "PASS", f"{bucket} is yours, in {region}")


def existing_stack(cloudformation: Any, name: str) -> dict[str, Any] | None:
    """The stack's description, or None when there is no such stack."""
    try:
        stacks: list[dict[str, Any]] = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc.response.get("Error", {}).get("Message", "")):
            return None
        raise
    return stacks[0] if stacks else None


def first_failure(cloudformation: Any, name: str) -> str:
    """Why the stack's last operation failed: its earliest failed resource's reason, if any."""
    try:
        events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    except (BotoCoreError, ClientError):
        return ""
    failed = [event for event in events if str(event.get("ResourceStatus")).endswith("_FAILED")
              and event.get("ResourceStatusReason")]
    # Events come newest first: the earliest failure is the cause, later ones its consequence.
    return (f" It failed at {failed[-1]['LogicalResourceId']}: "
            f"{failed[-1]['ResourceStatusReason']}") if failed else ""


def check_stack(cloudformation: Any, stack: dict[str, Any] | None, name: str,
                region: str) -> Result:
    """The stack can be created or updated: not ROLLBACK_COMPLETE (a failed first create, which
    CloudFormation can only delete), not mid-operation, not stuck in a failed rollback."""
    if stack is None or stack["StackStatus"] == UNCREATED:
        return Result("Stack", "PASS", f"{name} does not exist yet: make deploy creates it")
    status = stack["StackStatus"]
    where = f"--stack-name {name} --region {region}"
    if status in UPDATABLE:
        return Result("Stack", "PASS", f"{name} is {status}: make deploy updates it")
    why = first_failure(cloudformation, name)
    if status == "ROLLBACK_COMPLETE":
        return Result("Stack", "FAIL", f"Stack {name} is ROLLBACK_COMPLETE: its first create "
                                       f"failed, and such a stack cannot be updated.{why}",
                      ("Delete it, wait until it is gone, then deploy again (a table its create "
                       "made is kept, empty, by its DeletionPolicy: delete that in the DynamoDB "
                       "console if you like):",
                       f"$ aws cloudformation delete-stack {where}",
                       f"$ aws cloudformation wait stack-delete-complete {where}"))
    if status.endswith("_IN_PROGRESS"):
        return Result("Stack", "FAIL", f"Stack {name} is {status}: an operation is under way",
                      ("Wait until this says it is complete, then run make preflight again:",
                       f"$ aws cloudformation describe-stacks {where} --query "
                       "Stacks[0].StackStatus"))
    if status == "UPDATE_ROLLBACK_FAILED":
        return Result("Stack", "FAIL", f"Stack {name} is UPDATE_ROLLBACK_FAILED.{why}",
                      ("Fix what stopped the rollback, then let it finish and deploy again:",
                       f"$ aws cloudformation continue-update-rollback {where}"))
    return Result("Stack", "FAIL", f"Stack {name} is {status}.{why}",
                  ("Delete it (the table is kept), then deploy again:",
                   f"$ aws cloudformation delete-stack {where}"))


# ---------------------------------------------------------------------------- running them


def template_parameters() -> dict[str, Any]:
    """The template's parameters, as infra/deploy_parameters.py checks PARAMS against them."""
    parameters: dict[str, Any] = json.loads(TEMPLATE.read_text(encoding="utf-8"))["Parameters"]
    return parameters


def read_inputs(stage: str, bucket: str, environ: dict[str, str] | None = None) -> Inputs:
    """The deploy's inputs: AWS_DEFAULT_REGION as make sets it, PARAMS as make deploy reads it
    (SystemExit for PARAMS it would refuse, never repeating a value)."""
    environ = dict(os.environ) if environ is None else environ
    pairs = deploy_parameters.parse(environ.get("PARAMS", ""), template_parameters())
    return Inputs(stage, environ.get("AWS_DEFAULT_REGION") or LONDON, bucket, dict(pairs))


def with_stack_values(inputs: Inputs, stack: dict[str, Any] | None) -> dict[str, str]:
    """PARAMS, and for each parameter it leaves out the stack's current value (what a deploy
    keeps). NoEcho values come back masked, and none is needed here."""
    current = {parameter["ParameterKey"]: parameter.get("ParameterValue", "")
               for parameter in (stack or {}).get("Parameters", [])}
    return {**current, **inputs.parameters}


def stack_and_result(cloudformation: Any, inputs: Inputs) -> tuple[dict[str, Any] | None, Result]:
    """The existing stack (None if there is none) and the stack check's verdict on it."""
    try:
        stack = existing_stack(cloudformation, inputs.stack_name)
    except (BotoCoreError, ClientError) as exc:
        return None, Result("Stack", "FAIL",
                            f"Could not look for {inputs.stack_name} ({error_text(exc)})",
                            by_hand(f"aws cloudformation describe-stacks --stack-name "
                                    f"{inputs.stack_name} --region {inputs.region}"))
    return stack, check_stack(cloudformation, stack, inputs.stack_name, inputs.region)


def run_checks(inputs: Inputs, clients: Clients = aws_clients) -> list[Result]:
    """Every check, in the order a person would fix them."""
    region = inputs.region
    results = [check_account(clients("sts", region)), check_stage(inputs.stage),
               check_region(region)]
    if results[0].status == "FAIL":
        return [*results, Result("Other checks", "FAIL", "Not run: they need AWS credentials",
                                 ("Sign in (above), then run make preflight again.",))]
    stack, stack_result = stack_and_result(clients("cloudformation", region), inputs)
    parameters = with_stack_values(inputs, stack)
    domain = parameters.get("DomainName")
    website = (f"https://{domain}" if domain else
               parameters.get("PublicBaseUrl") or "https://yourcharity.org.uk")
    return [*results,
            check_sender(clients("ses", region), parameters.get("SenderEmail", ""), region),
            check_sandbox(clients("sesv2", region), region, inputs.stage, website),
            check_certificate(clients, parameters, region),
            check_bucket(clients("s3", region), inputs.bucket, region),
            stack_result]


def report(results: list[Result]) -> str:
    """The results as printed: a line each, its next step under it (sentences wrapped, each
    command whole on its own line, to copy), then the count."""
    width = max(len(result.check) for result in results)
    indent = " " * (width + 8)
    lines: list[str] = []
    for result in results:
        lines.append(f"{result.status}  {result.check.ljust(width)}  {result.found}")
        for part in result.next_step:
            if part.startswith(("$ ", "  ")):
                lines.append(f"{indent}  {part}")
            else:
                lines.extend(textwrap.wrap(part, WIDTH, initial_indent=f"{indent[:-2]}→ ",
                                           subsequent_indent=indent, break_on_hyphens=False))
    failed = sum(result.status == "FAIL" for result in results)
    warned = sum(result.status == "WARN" for result in results)
    warnings = f", {warned} warned" if warned else ""
    lines.append("")
    lines.append(f"{failed} of {len(results)} checks failed{warnings}: do what each says, then run "
                 "make preflight again before make deploy." if failed else
                 f"All {len(results)} checks passed{warnings}: make deploy can go ahead.")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """`preflight.py STAGE BUCKET`: print every check's result; 1 if any failed."""
    if len(argv) != 2:
        sys.exit(__doc__)
    stage, bucket = argv
    inputs = read_inputs(stage, bucket)
    print(f"Preflight for stack {inputs.stack_name} in {inputs.region}, artefacts in "
          f"{inputs.bucket or '(no BUCKET)'}")
    print(deploy_parameters.summary(list(inputs.parameters.items()), template_parameters()))
    print()
    results = run_checks(inputs)
    print(report(results))
    return 1 if any(result.status == "FAIL" for result in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
