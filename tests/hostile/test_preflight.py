"""`make preflight` tells a charity, before it deploys, what in its AWS account is not ready and
what to do about it. Each check runs against moto's server as a stand-in AWS endpoint (boto3
follows AWS_ENDPOINT_URL, as the real script does), in the states an account can be in; then the
script as make calls it passes a ready account, and the real `make preflight` command line fails
one that is not ready.

Where moto cannot make a state, it is made another way, and said here:
* moto 5.2.5 has no SES v2 GetAccount (its server answers 404), so against moto the sandbox
  check can only say it could not tell. How it reads AWS's answers (sandbox, production access,
  a request under review, sending paused) is tested with botocore's Stubber, whose answers are
  checked against the SES API's own shapes.
* moto verifies every SES identity at once: one still pending is stubbed the same way.
* moto has no rollback: a stack whose create fails stays CREATE_IN_PROGRESS. The
  ROLLBACK_COMPLETE stack is such a failed create, then marked as CloudFormation marks it once
  the rollback is done (moto's stack object, in this process).
* moto issues a requested certificate after MOTO_ACM_VALIDATION_WAIT (60 s): a new request is
  pending; an issued one is requested with that wait set to nothing (moto's setting).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError
from botocore.stub import Stubber

from infra import preflight

ROOT = Path(__file__).resolve().parent.parent.parent
REGION = "eu-west-2"
SENDER = "phb@yourcharity.org.uk"
DOMAIN = "phb.yourcharity.org.uk"
BUCKET = "yourcharity-phb-artefacts"
SECRET = "kn0wn-Session-Secret-for-the-preflight-tests-7c1d"

Client = Callable[..., Any]


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Client:
    """A fresh stand-in account: moto reset, and boto3 (the script's too) pointed at it."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset",
                                                  method="POST"), timeout=10).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)

    def client(service: str, region: str = REGION) -> Any:
        return boto3.client(service, region_name=region,
                            config=Config(retries={"max_attempts": 1}))

    return client


@pytest.fixture
def certificates_issue_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A requested certificate is issued when next described, as once its DNS record is seen."""
    from moto import settings

    monkeypatch.setattr(settings, "ACM_VALIDATION_WAIT", -1)


@contextlib.contextmanager
def stubbed(service: str, operation: str, answer: dict[str, Any]) -> Iterator[Any]:
    """A client whose one call answers `answer` (validated against the API's shapes)."""
    client = boto3.client(service, region_name=REGION)
    with Stubber(client) as stubber:
        stubber.add_response(operation, answer)
        yield client


def run(inputs: preflight.Inputs) -> dict[str, preflight.Result]:
    """Every check's result, by check."""
    return {result.check: result for result in preflight.run_checks(inputs)}


def stack_check(aws: Client, stage: str = "prod") -> preflight.Result:
    """The stack check alone, as run_checks runs it."""
    return preflight.stack_and_result(aws("cloudformation"), inputs(stage))[1]


def inputs(stage: str = "prod", bucket: str = BUCKET, **parameters: str) -> preflight.Inputs:
    return preflight.Inputs(stage, REGION, bucket, parameters)


def request_certificate(aws: Client, domain: str = DOMAIN, region: str = REGION,
                        sans: list[str] | None = None) -> str:
    arn: str = aws("acm", region).request_certificate(
        DomainName=domain, ValidationMethod="DNS",
        **({"SubjectAlternativeNames": sans} if sans else {}))["CertificateArn"]
    return arn


def failed_create(aws: Client, name: str) -> None:
    """A create moto cannot finish (the function's code is in no bucket): it stays
    CREATE_IN_PROGRESS, where CloudFormation would go on to roll it back."""
    template = {"Resources": {"Pathway": {"Type": "AWS::Lambda::Function", "Properties": {
        "Code": {"S3Bucket": "no-such-bucket", "S3Key": "deployment.zip"},
        "Handler": "app.pathway", "Runtime": "python3.13",
        "Role": "arn:aws:iam::123456789012:role/pathway"}}}}
    # moto answers with the Lambda error's JSON, which botocore cannot parse as CloudFormation's.
    with pytest.raises((ClientError, BotoCoreError, ResponseParserError)):
        aws("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def rolled_back(name: str, reason: str) -> None:
    """Mark the failed create as CloudFormation does after its rollback, with the failure event
    it records."""
    from moto.cloudformation.models import Event, cloudformation_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    [stack] = [stack for stack in cloudformation_backends[DEFAULT_ACCOUNT_ID][REGION]
               .stacks.values() if stack.name == name]
    stack.events.append(Event(
        stack_id=stack.stack_id, stack_name=name, logical_resource_id="Pathway",
        physical_resource_id="", resource_type="AWS::Lambda::Function",
        resource_status="CREATE_FAILED", resource_status_reason=reason,
        resource_properties=None))
    stack.status = "ROLLBACK_COMPLETE"


def existing_stack(aws: Client, name: str, **parameters: str) -> None:
    """A stack moto can create, with the template's parameters the checks read."""
    template = {"Parameters": {key: {"Type": "String"} for key in parameters},
                "Resources": {"Alerts": {"Type": "AWS::SNS::Topic"}}}
    aws("cloudformation").create_stack(
        StackName=name, TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": key, "ParameterValue": value}
                    for key, value in parameters.items()])


# ---------------------------------------------------------------------------- credentials


def test_without_working_credentials_it_says_sign_in_and_runs_nothing_else(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers there
    # Its one retry's back-off is no part of what is tested here.
    monkeypatch.setattr(preflight, "CLIENT_CONFIG", Config(retries={"max_attempts": 1}))
    results = preflight.run_checks(inputs())
    assert [(result.check, result.status) for result in results] == [
        ("AWS account", "FAIL"), ("Stage", "PASS"), ("Region", "PASS"), ("Other checks", "FAIL")]
    assert "aws configure sso" in results[0].commands


def test_it_names_the_account_it_checks(aws: Client) -> None:
    result = preflight.check_account(aws("sts"))
    assert result.status == "PASS"
    assert "123456789012" in result.found


# ---------------------------------------------------------------------------- stage, region


@pytest.mark.parametrize(("stage", "status"), [
    ("prod", "PASS"), ("dev", "PASS"),
    # A typo, or a stage for a developer's machine: its functions would answer every page 503.
    ("prd", "FAIL"), ("local", "FAIL")])
def test_only_a_stage_that_runs_on_aws_is_deployed(stage: str, status: str) -> None:
    result = preflight.check_stage(stage)
    assert result.status == status
    if status == "FAIL":
        assert result.next_step == ("Use STAGE=dev or STAGE=prod (.chalice/config.json).",)


@pytest.mark.parametrize(("region", "status", "said"), [
    ("eu-west-2", "PASS", "London"),
    # Everything is offered in Ireland, but referrals are NHS patients' data.
    ("eu-west-1", "WARN", "keep it in the UK with AWS_DEFAULT_REGION=eu-west-2"),
    ("ap-east-1", "FAIL", "does not offer SES"),
    ("eu-west-9", "FAIL", "'eu-west-9' is not an AWS region"),
])
def test_the_region_offers_what_the_stack_uses_and_keeps_data_in_the_uk(
        region: str, status: str, said: str) -> None:
    result = preflight.check_region(region)
    assert result.status == status
    assert said in result.found + " ".join(result.next_step)


# ---------------------------------------------------------------------------- the sender


def test_a_verified_sender_address_passes(aws: Client) -> None:
    aws("ses").verify_email_identity(EmailAddress=SENDER)
    result = preflight.check_sender(aws("ses"), SENDER, REGION)
    assert (result.status, result.found) == ("PASS", f"{SENDER} is verified in SES in {REGION}")


def test_a_verified_domain_lets_its_address_send(aws: Client) -> None:
    aws("ses").verify_domain_identity(Domain="yourcharity.org.uk")
    result = preflight.check_sender(aws("ses"), SENDER, REGION)
    assert result.status == "PASS"
    assert result.found == (f"{SENDER} may send: its domain yourcharity.org.uk is verified "
                            f"in SES in {REGION}")


def test_an_unverified_sender_is_told_how_to_verify_it(aws: Client) -> None:
    aws("ses").verify_email_identity(EmailAddress="someone.else@yourcharity.org.uk")
    result = preflight.check_sender(aws("ses"), SENDER, REGION)
    assert result.status == "FAIL"
    assert result.found == (f"{SENDER} is not verified in SES in {REGION}, nor is "
                            "yourcharity.org.uk")
    assert result.commands == [
        f"aws sesv2 create-email-identity --email-identity {SENDER} --region {REGION}"]


def test_a_sender_verified_in_another_region_does_not_count(aws: Client) -> None:
    # The SES console opens in whichever region was used last: an easy mistake.
    aws("ses", "us-east-1").verify_email_identity(EmailAddress=SENDER)
    result = preflight.check_sender(aws("ses"), SENDER, REGION)
    assert result.status == "FAIL"
    assert f"not verified in SES in {REGION}" in result.found


def test_a_sender_waiting_for_its_link_is_told_to_click_it() -> None:
    # moto verifies every identity at once: AWS's answer for one not yet clicked, stubbed.
    with stubbed("ses", "get_identity_verification_attributes", {
            "VerificationAttributes": {SENDER: {"VerificationStatus": "Pending"}}}) as ses:
        result = preflight.check_sender(ses, SENDER, REGION)
    assert result.status == "FAIL"
    assert result.found == f"{SENDER} is waiting for verification in SES in {REGION}"
    assert f"click the link AWS emailed to {SENDER}" in result.next_step[0]


def test_no_sender_at_all_asks_for_sender_email(aws: Client) -> None:
    result = preflight.check_sender(aws("ses"), "", REGION)
    assert result.status == "FAIL"
    assert "SenderEmail=" in result.next_step[0]


# ---------------------------------------------------------------------------- the SES sandbox


def account(**fields: Any) -> dict[str, Any]:
    """GetAccount's answer (moto has no GetAccount: see the module's docstring)."""
    return {"SendingEnabled": True, "EnforcementStatus": "HEALTHY",
            "SendQuota": {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 0.0},
            "ProductionAccessEnabled": False, **fields}


def sandbox_check(answer: dict[str, Any], stage: str = "prod") -> preflight.Result:
    with stubbed("sesv2", "get_account", answer) as sesv2:
        return preflight.check_sandbox(sesv2, REGION, stage, f"https://{DOMAIN}")


def test_a_prod_stack_in_the_sandbox_fails_saying_what_to_ask_aws_for() -> None:
    result = sandbox_check(account())
    assert result.status == "FAIL"
    assert result.found.startswith(f"The account is in the SES sandbox in {REGION}")
    step = " ".join(result.next_step)
    assert "SES console (eu-west-2) → Get set up → Request production access" in step
    assert "transactional emails only, never marketing" in step
    assert any(command.startswith("aws sesv2 put-account-details --production-access-enabled "
                                  f"--mail-type TRANSACTIONAL --website-url https://{DOMAIN}")
               for command in result.commands)


def test_a_dev_stack_may_stay_in_the_sandbox_with_a_warning() -> None:
    result = sandbox_check(account(), stage="dev")
    assert result.status == "WARN"
    assert "Request production access" in " ".join(result.next_step)


def test_production_access_passes() -> None:
    result = sandbox_check(account(
        ProductionAccessEnabled=True,
        SendQuota={"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 3.0}))
    assert (result.status, result.found) == (
        "PASS", f"The account has production access in {REGION} (50,000 emails a day)")


def test_a_request_under_review_says_to_wait_for_it() -> None:
    result = sandbox_check(account(Details={"ReviewDetails": {"Status": "PENDING",
                                                              "CaseId": "17334561"}}))
    assert result.status == "FAIL"
    assert "case 17334561, is with AWS" in result.found
    assert not result.commands  # nothing to send again


def test_sending_paused_by_aws_fails_even_with_production_access() -> None:
    result = sandbox_check(account(ProductionAccessEnabled=True, SendingEnabled=False,
                                   EnforcementStatus="PROBATION"))
    assert result.status == "FAIL"
    assert "paused" in result.found and "PROBATION" in result.found


def test_when_ses_cannot_say_it_is_checked_by_hand(aws: Client) -> None:
    # moto's server answers GetAccount 404, as an endpoint without the operation would.
    result = preflight.check_sandbox(aws("sesv2"), REGION, "prod", f"https://{DOMAIN}")
    assert result.status == "FAIL"
    assert result.found == f"Could not read the SES account in {REGION} (404)"
    assert result.commands == [f"aws sesv2 get-account --region {REGION}"]
    assert preflight.check_sandbox(aws("sesv2"), REGION, "dev", "").status == "WARN"


# ---------------------------------------------------------------------------- the certificate


def certificate_check(aws: Client, **parameters: str) -> preflight.Result:
    return preflight.check_certificate(aws, {"DomainName": DOMAIN, **parameters}, REGION)


def test_an_issued_certificate_for_the_domain_passes(
        aws: Client, certificates_issue_at_once: None) -> None:
    result = certificate_check(aws, CertificateArn=request_certificate(aws))
    assert (result.status, result.found) == ("PASS", f"Issued for {DOMAIN} in {REGION}")


def test_a_wildcard_certificate_covers_the_domain(
        aws: Client, certificates_issue_at_once: None) -> None:
    arn = request_certificate(aws, "*.yourcharity.org.uk")
    assert certificate_check(aws, CertificateArn=arn).status == "PASS"


def test_a_certificate_for_another_name_fails(
        aws: Client, certificates_issue_at_once: None) -> None:
    arn = request_certificate(aws, "www.yourcharity.org.uk")
    result = certificate_check(aws, CertificateArn=arn)
    assert result.status == "FAIL"
    assert result.found == f"The certificate is for www.yourcharity.org.uk, not {DOMAIN}"


def test_a_pending_certificate_shows_the_dns_record_to_add(aws: Client) -> None:
    arn = request_certificate(aws)
    result = certificate_check(aws, CertificateArn=arn)
    assert result.status == "FAIL"
    assert "waiting for DNS validation" in result.found
    record = aws("acm").describe_certificate(CertificateArn=arn)["Certificate"][
        "DomainValidationOptions"][0]["ResourceRecord"]
    # The record to add, whole, on a line of its own to copy.
    assert f"  {record['Name']}  CNAME  {record['Value']}" in result.next_step
    assert result.commands == [f"aws acm wait certificate-validated --certificate-arn {arn} "
                               f"--region {REGION}"]


def test_a_certificate_in_another_region_fails_naming_the_region_it_must_be_in(
        aws: Client, certificates_issue_at_once: None) -> None:
    # us-east-1 is where an edge (CloudFront) domain's certificate goes; the template's domain
    # is regional, so API Gateway looks in the stack's own region.
    arn = request_certificate(aws, region="us-east-1")
    result = certificate_check(aws, CertificateArn=arn)
    assert result.status == "FAIL"
    assert result.found.startswith("CertificateArn is in us-east-1, but the API's custom domain "
                                   f"is regional (infra/resources.json), so API Gateway needs "
                                   f"its certificate in {REGION}")
    assert result.commands == [f"aws acm request-certificate --domain-name {DOMAIN} "
                               f"--validation-method DNS --region {REGION}"]


def test_an_arn_of_no_certificate_fails(aws: Client) -> None:
    arn = request_certificate(aws).rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    result = certificate_check(aws, CertificateArn=arn)
    assert result.status == "FAIL"
    assert result.found.startswith(f"No certificate {arn} in this account in {REGION}")
    assert f"aws acm list-certificates --region {REGION}" in result.commands


def test_a_domain_without_a_certificate_is_told_to_request_one(aws: Client) -> None:
    result = certificate_check(aws)
    assert result.status == "FAIL"
    assert result.found == f"DomainName {DOMAIN} has no CertificateArn"
    assert result.commands == [f"aws acm request-certificate --domain-name {DOMAIN} "
                               f"--validation-method DNS --region {REGION}"]


def test_without_a_domain_no_certificate_is_needed(aws: Client) -> None:
    """One deploy without a custom domain: the service is at the API's own address."""
    without = preflight.check_certificate(aws, {}, REGION)
    assert without.status == "PASS"
    assert "the API's own address" in without.found
    with_url = preflight.check_certificate(
        aws, {"PublicBaseUrl": "https://phb.yourcharity.org.uk"}, REGION)
    assert (with_url.status, with_url.found) == (
        "PASS", "No DomainName, so no certificate: the service is at "
                "https://phb.yourcharity.org.uk")


# ---------------------------------------------------------------------------- the bucket


def test_a_bucket_in_the_region_passes(aws: Client) -> None:
    aws("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={
        "LocationConstraint": REGION})
    result = preflight.check_bucket(aws("s3"), BUCKET, REGION)
    assert (result.status, result.found) == ("PASS", f"{BUCKET} is yours, in {REGION}")


def test_a_missing_bucket_is_told_how_to_make_it(aws: Client) -> None:
    result = preflight.check_bucket(aws("s3"), BUCKET, REGION)
    assert (result.status, result.found) == ("FAIL", f"There is no bucket {BUCKET}")
    assert result.commands == [f"aws s3 mb s3://{BUCKET} --region {REGION}"]


def test_a_bucket_in_another_region_fails(aws: Client) -> None:
    # Lambda would refuse the code: it reads a function's zip only from its own region.
    aws("s3", "eu-west-1").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={
        "LocationConstraint": "eu-west-1"})
    result = preflight.check_bucket(aws("s3"), BUCKET, REGION)
    assert (result.status, result.found) == (
        "FAIL", f"The bucket {BUCKET} is in eu-west-1, not {REGION}")
    assert result.commands == [f"aws s3 mb s3://{BUCKET}-{REGION} --region {REGION}"]


def test_someone_elses_bucket_fails() -> None:
    # moto lets every account use every bucket: S3's 403 for another account's, stubbed.
    s3 = boto3.client("s3", region_name=REGION)
    with Stubber(s3) as stubber:
        stubber.add_client_error("head_bucket", "403", "Forbidden", 403)
        result = preflight.check_bucket(s3, "phb-artefacts", REGION)
    assert result.status == "FAIL"
    assert "someone else's" in result.found


def test_no_bucket_given_fails(aws: Client) -> None:
    result = preflight.check_bucket(aws("s3"), "", REGION)
    assert (result.status, result.found) == ("FAIL", "No BUCKET given")


# ---------------------------------------------------------------------------- the stack


def test_no_stack_yet_passes(aws: Client) -> None:
    result = stack_check(aws)
    assert (result.status, result.found) == (
        "PASS", "phb-pathway-prod does not exist yet: make deploy creates it")


def test_a_stack_in_rollback_complete_is_told_to_delete_it(aws: Client) -> None:
    failed_create(aws, "phb-pathway-prod")
    rolled_back("phb-pathway-prod", "Error occurred while GetObject. S3 Error Code: NoSuchBucket")
    result = stack_check(aws)
    assert result.status == "FAIL"
    assert result.found.startswith("Stack phb-pathway-prod is ROLLBACK_COMPLETE")
    # Why the create failed, so the next one does not fail the same way.
    assert "It failed at Pathway: Error occurred while GetObject" in result.found
    assert result.commands == [
        "aws cloudformation delete-stack --stack-name phb-pathway-prod --region eu-west-2",
        "aws cloudformation wait stack-delete-complete --stack-name phb-pathway-prod "
        "--region eu-west-2"]


def test_a_stack_mid_operation_is_told_to_wait(aws: Client) -> None:
    failed_create(aws, "phb-pathway-prod")  # moto leaves it CREATE_IN_PROGRESS
    result = stack_check(aws)
    assert (result.status, result.found) == (
        "FAIL", "Stack phb-pathway-prod is CREATE_IN_PROGRESS: an operation is under way")


def test_an_existing_stack_is_updated_and_keeps_its_sender(aws: Client) -> None:
    # A later deploy passes only what changes: the stack's SenderEmail is the one checked.
    existing_stack(aws, "phb-pathway-prod", SenderEmail=SENDER,
                   PublicBaseUrl="https://example.invalid")
    aws("ses").verify_email_identity(EmailAddress=SENDER)
    results = run(inputs())
    assert (results["Stack"].status, results["Stack"].found) == (
        "PASS", "phb-pathway-prod is CREATE_COMPLETE: make deploy updates it")
    assert results["SES sender"].status == "PASS"
    assert results["Certificate"].status == "PASS"
    # What PARAMS gives wins over the stack's value.
    assert run(inputs(SenderEmail="new@yourcharity.org.uk"))["SES sender"].status == "FAIL"


def test_a_change_set_never_run_is_a_stack_still_to_create(aws: Client) -> None:
    # What an interrupted first `aws cloudformation deploy` leaves: it creates it afresh.
    cloudformation = aws("cloudformation")
    cloudformation.create_change_set(
        StackName="phb-pathway-prod", ChangeSetName="first", ChangeSetType="CREATE",
        TemplateBody=json.dumps({"Resources": {"Alerts": {"Type": "AWS::SNS::Topic"}}}))
    assert cloudformation.describe_stacks(StackName="phb-pathway-prod")["Stacks"][0][
        "StackStatus"] == "REVIEW_IN_PROGRESS"
    assert stack_check(aws).status == "PASS"


def test_another_stages_stack_is_not_this_one(aws: Client) -> None:
    failed_create(aws, "phb-pathway-dev")
    rolled_back("phb-pathway-dev", "no")
    assert stack_check(aws, "prod").status == "PASS"


# ---------------------------------------------------------------------------- PARAMS


def test_params_are_read_as_make_deploy_reads_them() -> None:
    read = preflight.read_inputs("prod", BUCKET, {
        "PARAMS": f'SenderEmail={SENDER} HelpPhone="020 7946 0000" SessionSecret={SECRET}',
        "AWS_DEFAULT_REGION": "eu-west-1"})
    assert (read.stack_name, read.region) == ("phb-pathway-prod", "eu-west-1")
    assert read.parameters["HelpPhone"] == "020 7946 0000"
    with pytest.raises(SystemExit, match="did you mean SessionSecret"):
        preflight.read_inputs("prod", BUCKET, {"PARAMS": f"SesionSecret={SECRET}"})


# ---------------------------------------------------------------------------- make preflight


def make_preflight(moto_url: str, stage: str, params: str) -> subprocess.CompletedProcess[str]:
    """`make preflight` as DEPLOY.md says to run it, against the stand-in endpoint."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(AWS_ENDPOINT_URL=moto_url, PARAMS=params)
    env.pop("AWS_DEFAULT_REGION", None)  # make's own default, eu-west-2
    return subprocess.run(["make", "--no-print-directory", "preflight", f"STAGE={stage}",
                           f"BUCKET={BUCKET}"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_a_ready_account_passes_every_check_without_showing_the_secret(
        aws: Client, certificates_issue_at_once: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    aws("ses").verify_domain_identity(Domain="yourcharity.org.uk")
    aws("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={
        "LocationConstraint": REGION})
    arn = request_certificate(aws)
    monkeypatch.setenv("PARAMS", f"SenderEmail={SENDER} DomainName={DOMAIN} "
                                 f"CertificateArn={arn} SessionSecret={SECRET}")
    # The script as make calls it (make's part is the next test's).
    status = preflight.main(["dev", BUCKET])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert SECRET not in printed
    assert "SessionSecret=(hidden)" in printed
    for check in ("AWS account", "Stage", "Region", "SES sender", "Certificate",
                  "Artefact bucket", "Stack"):
        assert f"PASS  {check}" in printed
    # moto cannot say whether the account is in the sandbox: a dev stack is warned, not failed.
    assert "WARN  SES production access" in printed
    assert printed.endswith("All 8 checks passed, 1 warned: make deploy can go ahead.\n")


def test_make_preflight_fails_an_account_that_is_not_ready(
        aws: Client, moto_server: str) -> None:
    failed_create(aws, "phb-pathway-prod")
    rolled_back("phb-pathway-prod", "Resource handler returned message: bucket not found")
    result = make_preflight(moto_server, "prod", f"SenderEmail={SENDER} "
                                                 "PublicBaseUrl=https://example.invalid "
                                                 f"SessionSecret={SECRET}")
    printed = result.stdout + result.stderr
    assert result.returncode != 0
    assert SECRET not in printed
    assert f"FAIL  SES sender             {SENDER} is not verified in SES in {REGION}" in printed
    assert "FAIL  Artefact bucket        There is no bucket" in printed
    assert "FAIL  Stack                  Stack phb-pathway-prod is ROLLBACK_COMPLETE" in printed
    assert ("$ aws cloudformation delete-stack --stack-name phb-pathway-prod "
            "--region eu-west-2") in printed
    assert "4 of 8 checks failed: do what each says" in printed
