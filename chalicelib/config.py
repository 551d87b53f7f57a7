"""Settings, read once from the environment that `.chalice/config.json` and the CloudFormation
template set per stage.

A missing or malformed setting stops the function at its first use with a message that names
the variable, rather than failing later half-way through a referral. Settings are a plain
dataclass (no pydantic), because every cold start reads them; the funding rules, needed only
when a referral is checked, are pydantic models (`chalicelib/domain/funding.py`) loaded from
their file on first use, like the population figures the equality report compares with.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chalicelib.domain.identity import StaffMember, parse_staff_list, plain_address

if TYPE_CHECKING:
    from chalicelib.domain.funding import FundingRules
    from chalicelib.domain.places import SectorTable

RULES_FILE = Path(__file__).with_name("funding_rules.json")
# The population's ethnic groups that equality monitoring compares PHB holders with.
POPULATION_FILE = Path(__file__).with_name("population.json")
# The three boroughs' postcode sectors, which say whether a postcode fits the borough chosen.
POSTCODE_SECTORS_FILE = Path(__file__).with_name("postcode_sectors.json")
STAGES = ("local", "test", "dev", "prod")
# The local server's address (`make run`), for a local stage given no other.
LOCAL_BASE_URL = "http://127.0.0.1:8000"
# The stages that run on a developer's machine: only these have the outbox of every email, the
# fault switch and the development key for staff sessions.
LOCAL_STAGES = ("local", "test")
# The local and test stages' staff list: two people at example.org (the advisors' notices
# still go to their shared inbox, phb-advisors@example.org).
LOCAL_STAFF = (StaffMember(email="amara.nwosu@example.org", name="Amara Nwosu"),
               StaffMember(email="daniel.price@example.org", name="Daniel Price"))
DEPLOYED_STAGES = ("dev", "prod")

# Bounds of the whole-number settings: (least, most); None for no limit.
BOUNDS: dict[str, tuple[int, int | None]] = {
    "referrer_signoff_below_pence": (1, None),
    "manager_signoff_up_to_pence": (1, None),
    "link_valid_days": (1, 60),
    "sign_in_links_cap": (1, 100),
    "acknowledgements_cap": (1, 1000),
    "reminder_after_seconds": (1, None),
    "reminders_before_escalation": (0, 10),
    "reminders_before_handover": (1, 100),
    "execution_max_days": (1, 360),
    "reconcile_after_seconds": (60, None),
    "review_after_seconds": (0, None),
    "closure_at_most_seconds_after_review": (0, None),
    "reqol_reliable_change": (1, 40),
    "person_window_days": (1, 3660),
    "small_number_threshold": (1, 100),
}


@dataclass(frozen=True)
class Settings:
    # No default: a stage nobody chose must never be the local one (its outbox shows every
    # email, and it signs staff sessions with a published key).
    stage: str
    table_name: str = "phb-pathway"
    state_machine_arn: str = ""
    # The pathway Lambda function, which runs what a request hands off (a staff sign-in link).
    pathway_function: str = ""
    sender_email: str = "phb-pathway@example.org"
    ses_configuration_set: str = ""
    # The https address people use, without a trailing slash: the stack's PublicBaseUrl, or
    # https://DomainName. Empty in a stack deployed with neither: then it is the API Gateway
    # address, which the web function learns from each request and the pathway function
    # reads from the SSM parameter the template writes (`base_url`).
    public_base_url: str = ""
    # The domain of API Gateway's own addresses here (`execute-api.eu-west-2.amazonaws.com`):
    # with a request's API id and stage, the address that request reached.
    api_gateway_domain: str = ""
    # The SSM parameter holding the API Gateway address, for a function with no request.
    api_address_parameter: str = ""
    allowed_referrer_domains: tuple[str, ...] = ("nhs.net", "nhs.uk")
    # Sign-off thresholds in pence: below the first the referrer signs off; up to and including
    # the second the approving manager; above it the manager and then the Oversight Panel.
    referrer_signoff_below_pence: int = 25000
    manager_signoff_up_to_pence: int = 50000
    # Who signs off above the manager's limit, and who decides flagged requests and releases
    # money: each address gets its own action link.
    panel_emails: tuple[str, ...] = ("phb-panel@example.org",)
    advisor_emails: tuple[str, ...] = ("phb-advisors@example.org",)
    # Who may sign in to the staff console (by an emailed one-time link): people, each by name
    # and their own address (`Jo Adeyemi <jo.adeyemi@example.org>`), never the advisors'
    # shared inbox, because everything done in the console is recorded against who did it.
    # Unset (None): LOCAL_STAFF in the local and test stages, nobody anywhere else. Read it
    # as `staff`.
    staff_emails: tuple[StaffMember, ...] | None = None
    # The key that signs staff session cookies. Unset in the local and test stages: a fixed
    # development key; unset anywhere else: staff sign-in is switched off (503), never unsigned.
    session_secret: str = field(default="", repr=False)
    link_valid_days: int = 7
    # Emails to one address at most: sign-in links per 15 minutes, acknowledgements of a
    # referral per hour. Past a cap nothing is sent, the page says the same, and the advisors
    # see what was held back (the staff console's worklist).
    sign_in_links_cap: int = 5
    acknowledgements_cap: int = 20
    # Referrals that ended longer ago than this lose their personal data (the retention job);
    # their anonymous figures stay for the reports.
    retention_days: int = 8 * 365
    # Waiting for a person: a reminder after each period with no answer, escalation to the
    # advisors after this many reminders, and expiry one period after that.
    reminder_after_seconds: int = 3 * 24 * 3600
    reminders_before_escalation: int = 2
    # A step that cannot expire (the release, the review, closure) is reminded this many times
    # at most (and at least once after escalating), then handed to the advisors (needs
    # attention, to be resumed); and an execution older than this many days is handed over
    # too: no execution reaches Step Functions' limits (25,000 events in its history, a
    # year's run).
    reminders_before_handover: int = 10
    execution_max_days: int = 330
    # The reconciler treats a referral submitted this long ago with no execution as stuck.
    reconcile_after_seconds: int = 300
    # The 6-week review comes this long after the money is released.
    review_after_seconds: int = 42 * 24 * 3600
    # Closure is asked for at the goal's target date; a stage may ask sooner (local: minutes).
    closure_at_most_seconds_after_review: int = 0
    reqol_reliable_change: int = 5
    # The sign-off tier is decided on the person's total: this request and what their other
    # PHBs had approved within this many days (a request cannot be split to stay under it).
    person_window_days: int = 365
    # The reports show no count below this, and no figure worked out from fewer people, as
    # NHS England's statistical disclosure practice asks (1 shows every figure).
    small_number_threshold: int = 5
    agreement_version: str = "2026-11"
    help_email: str = "phb@example.org"
    help_phone: str = "020 3869 9728"
    service_name: str = "PHB Pathway"
    funding_rules_file: str = field(default=str(RULES_FILE))
    population_file: str = field(default=str(POPULATION_FILE))

    def __post_init__(self) -> None:
        # No fallback to the advisors' addresses: an empty staff list signs nobody in.
        if self.staff_emails is None:
            object.__setattr__(self, "staff_emails",
                               LOCAL_STAFF if self.stage in LOCAL_STAGES else ())
        problems = []
        if self.stage not in STAGES:
            problems.append(f"stage must be one of {', '.join(STAGES)}")
        for name, (least, most) in BOUNDS.items():
            value = getattr(self, name)
            if value < least or (most is not None and value > most):
                problems.append(f"{name} must be from {least}" + (f" to {most}" if most else
                                                                  " up"))
        if self.manager_signoff_up_to_pence < self.referrer_signoff_below_pence:
            problems.append("manager_signoff_up_to_pence must not be below "
                            "referrer_signoff_below_pence")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def staff(self) -> tuple[StaffMember, ...]:
        """The staff list: who may sign in to the staff console, each by name and address."""
        return self.staff_emails or ()

    @property
    def is_local(self) -> bool:
        return self.stage in LOCAL_STAGES

    @property
    def base_url(self) -> str:
        """The address every link in a page or an email starts with, no trailing slash: the
        configured one (a custom domain), else the API Gateway address (`api_address`)."""
        return self.public_base_url or api_address(self)

    @property
    def base_path(self) -> str:
        """The path the app is served under, from the public URL (e.g. `/api` when reached
        at an API Gateway stage URL); every link and redirect starts with it."""
        return urlsplit(self.base_url).path.rstrip("/")

    @property
    def funding_rules(self) -> FundingRules:
        return load_funding_rules(self.funding_rules_file)

    @property
    def population(self) -> dict[str, Any]:
        """The population's shares by broad ethnic group, for equality monitoring."""
        return load_population(self.population_file)

    @property
    def postcode_sectors(self) -> SectorTable:
        """The boroughs' postcode sectors (`chalicelib/postcode_sectors.json`)."""
        return load_postcode_sectors()

    @property
    def tier_labels(self) -> dict[str, str]:
        """Who signs off each tier, in words, with the thresholds in force."""
        from chalicelib.domain.codes import tier_labels

        return tier_labels(self.referrer_signoff_below_pence, self.manager_signoff_up_to_pence)


# The address of the API Gateway stage that requests reach this web function through, once a
# request has said which (`learn_api_address`); empty in every other function. One value for
# the process, not one a request: a Lambda container serves one request at a time, and only
# this API may invoke the web function, so every request it serves reached the same address.
_request_address = ""
API_ID = re.compile(r"[a-z0-9]{10}")
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")


def learn_api_address(settings: Settings, context: dict[str, Any] | None) -> None:
    """Note the API Gateway address a request reached, when no address is configured.

    Built only from what API Gateway itself puts in the request's context, the API's id and
    stage, and the domain the template gives: never from the Host header or the context's
    `domainName`, which come from whoever sent the request. An email link built from them
    could send a referrer's one-time link to another site. The id and stage are this API's:
    API Gateway sets them, and the function's invoke permission names this API alone.
    """
    global _request_address
    if settings.public_base_url or not settings.api_gateway_domain or not context:
        return
    api_id, stage = str(context.get("apiId") or ""), str(context.get("stage") or "")
    if API_ID.fullmatch(api_id) and STAGE_NAME.fullmatch(stage):
        _request_address = f"https://{api_id}.{settings.api_gateway_domain}/{stage}"


def forget_api_address() -> None:
    """Forget the address learned from requests (tests that change where requests come from)."""
    global _request_address
    _request_address = ""


def api_address(settings: Settings) -> str:
    """The API Gateway address, for a stack deployed with neither a custom domain nor
    PublicBaseUrl: the web function's from its requests, the pathway function's from the SSM
    parameter the template writes (it cannot be given the address itself: the API depends on
    the web function, which depends on this one, a circle CloudFormation refuses). On a
    developer's machine, with none of these, the local server's."""
    if _request_address:
        return _request_address
    if settings.api_address_parameter:
        return read_parameter(settings.api_address_parameter)
    if settings.is_local:
        return LOCAL_BASE_URL
    raise RuntimeError("Invalid configuration (PHB_PUBLIC_BASE_URL): no public address to "
                       "build links with (no PHB_PUBLIC_BASE_URL, no API Gateway request, "
                       "no PHB_API_ADDRESS_PARAMETER)")


@lru_cache(maxsize=4)
def read_parameter(name: str) -> str:
    """An SSM parameter's value, read once per Lambda container (it changes only with a deploy,
    which starts new containers)."""
    from chalicelib.adapters.aws import client

    return str(client("ssm").get_parameter(Name=name)["Parameter"]["Value"]).rstrip("/")


@lru_cache(maxsize=4)
def load_funding_rules(path: str) -> FundingRules:
    from chalicelib.domain.funding import FundingRules

    return FundingRules.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def load_postcode_sectors(path: str = str(POSTCODE_SECTORS_FILE)) -> SectorTable:
    """The postcode sector table, read on first use (only checking a referral needs it)."""
    from chalicelib.domain.places import load_table

    return load_table(json.loads(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=4)
def load_population(path: str) -> dict[str, Any]:
    from chalicelib.domain.reports import check_population

    return check_population(json.loads(Path(path).read_text(encoding="utf-8")), path)


ENV_PREFIX = "PHB_"


def _parse(name: str, kind: Any, text: str) -> Any:
    if kind == "int" or kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, not {text!r}") from None
    if name == "staff_emails":
        try:
            # Each address's shape only: the full check is make deploy's (plain_address).
            return parse_staff_list(text, plain_address)
        except ValueError as exc:
            raise ValueError(f"staff_emails: {exc}") from None
    if "tuple" in str(kind):
        # Addresses are kept as typed (compared ignoring case); domains are lower case.
        items = [item.strip() for item in text.split(",") if item.strip()]
        if name == "allowed_referrer_domains":
            items = [item.lstrip("@.").lower() for item in items]
        return tuple(items)
    return text


Environ = dict[str, str] | os._Environ[str]


def stage_problem(environ: Environ) -> str | None:
    """Why a process with this environment must not serve, or None when its stage is fine.

    PHB_STAGE has no default: a function deployed without it (or with a typo) must not fall
    back to the local stage, whose outbox shows every email (staff sign-in links included) and
    whose staff sessions are signed with a published key. Nor may a local stage run inside AWS
    Lambda (the runtime sets AWS_LAMBDA_FUNCTION_NAME), as `chalice deploy --stage local` would.
    """
    stage = environ.get("PHB_STAGE", "")
    in_lambda = bool(environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    allowed = ", ".join(DEPLOYED_STAGES if in_lambda else STAGES)
    if not stage:
        return f"PHB_STAGE is not set: it must be one of {allowed}"
    if stage not in STAGES:
        return f"PHB_STAGE is {stage[:40]!r}: it must be one of {allowed}"
    if in_lambda and stage in LOCAL_STAGES:
        return (f"PHB_STAGE is {stage!r}, a stage for a developer's machine, in AWS Lambda: "
                f"it must be one of {allowed}")
    return None


def settings_from_environ(environ: Environ) -> Settings:
    """Build settings from `PHB_*` variables (e.g. `PHB_TABLE_NAME`); unknown ones are ignored.
    PHB_STAGE is required (`stage_problem`)."""
    problem = stage_problem(environ)
    if problem is not None:
        raise RuntimeError(f"Invalid configuration (PHB_STAGE): {problem}")
    values: dict[str, Any] = {}
    try:
        for setting in fields(Settings):
            text = environ.get(ENV_PREFIX + setting.name.upper(), "")
            if text != "":
                values[setting.name] = _parse(setting.name, setting.type, text)
        return Settings(**values)
    except ValueError as exc:
        named = ", ".join(ENV_PREFIX + f.name.upper() for f in fields(Settings)
                          if f.name in str(exc))
        raise RuntimeError(f"Invalid configuration ({named}): {exc}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_environ(os.environ)
