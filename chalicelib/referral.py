"""The referral contract (DOMAIN.md), as pydantic models shared by the JSON API and the form.

`validate_referral` is the one entry point: it returns a `Referral` or a list of `FieldError`,
each naming the field by its dotted path (`person.nhs_number`, `items.0.cost_pence`) with a
message a clinician can act on.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib import rules
from chalicelib.config import Settings, get_settings
from chalicelib.errors import FieldError

# ---------------------------------------------------------------------------------------------
# Field types

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(value: str) -> str:
    if _CONTROL_ONE_LINE.search(value):
        raise PydanticCustomError("control_characters", "must be a single line of text")
    return value


def _multi_line(value: str) -> str:
    if _CONTROL.search(value):
        raise PydanticCustomError("control_characters", "must not contain control characters")
    return value.replace("\r\n", "\n")


def _line(max_length: int) -> Any:
    return Annotated[
        str, Strict(), Field(min_length=1, max_length=max_length), AfterValidator(_one_line)
    ]


def _paragraph(max_length: int) -> Any:
    return Annotated[
        str, Strict(), Field(min_length=1, max_length=max_length), AfterValidator(_multi_line)
    ]


def _iso_date(value: Any) -> Any:
    # pydantic would also take "2000-01-01T00:00:00" or a number of seconds for a date.
    if isinstance(value, date) or (
        isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)
    ):
        return value
    raise PydanticCustomError("date_parsing", "must be a date in the format YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Name = _line(100)
ShortText = _line(120)
Paragraph = _paragraph(2000)
Pence = Annotated[int, Strict(), Field(gt=0, le=1_000_000)]
Score = Annotated[int, Strict(), Field(ge=0, le=4)]
StrictBool = Annotated[bool, Strict()]


def _phone(value: str) -> str:
    # [0-9], not \d: \d also matches Arabic-Indic and full-width digits.
    digits = re.sub(r"[^0-9]", "", value)
    if not re.fullmatch(r"[0-9 ()+-]+", value) or not 10 <= len(digits) <= 15:
        raise PydanticCustomError("phone", "must be a UK phone number, like 020 7946 0000")
    return value


Phone = Annotated[str, Strict(), Field(min_length=1, max_length=30), AfterValidator(_phone)]


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise PydanticCustomError(
            "email", "must be an email address in the correct format, like name@nhs.net"
        ) from None


def _work_email(value: str, info: ValidationInfo) -> str:
    normalised = _email(value)
    domain = normalised.rsplit("@", 1)[1].lower()
    allowed = _settings(info).allowed_referrer_domains
    if not any(domain == d or domain.endswith("." + d) for d in allowed):
        raise PydanticCustomError(
            "email_domain",
            "must be a work email address ending in {domains}",
            {"domains": " or ".join(allowed)},
        )
    return normalised


Email = Annotated[str, Strict(), Field(max_length=254), AfterValidator(_email)]
WorkEmail = Annotated[str, Strict(), Field(max_length=254), AfterValidator(_work_email)]


def _settings(info: ValidationInfo) -> Settings:
    context = info.context or {}
    settings = context.get("settings")
    return settings if isinstance(settings, Settings) else get_settings()


def _today(info: ValidationInfo) -> date:
    context = info.context or {}
    today = context.get("today")
    return today if isinstance(today, date) else date.today()


def _is_stored(info: ValidationInfo) -> bool:
    # Re-reading a stored referral must not re-apply rules relative to "today".
    return bool((info.context or {}).get("stored"))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


# ---------------------------------------------------------------------------------------------
# The contract

Borough = Literal["city_and_hackney", "tower_hamlets", "newham"]
GoalArea = Literal["mental_health", "physical_health", "social"]
Category = Literal[
    "equipment", "membership", "course", "activity", "smartphone_data", "travel", "other"
]
Recurrence = Literal["one_off", "monthly"]
BudgetManagement = Literal["direct_payment", "notional", "third_party", "mixed"]
# NHS Data Dictionary ethnic category codes; Z = not stated.
Ethnicity = Literal["A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S",
                    "Z"]


class Referrer(_Model):
    name: Name
    role: ShortText
    team: ShortText
    organisation: ShortText
    email: WorkEmail
    phone: Phone


class ApprovingManager(_Model):
    name: Name
    email: WorkEmail


class Person(_Model):
    first_name: Name
    last_name: Name
    date_of_birth: IsoDate
    nhs_number: Annotated[str, Strict(), Field(min_length=1, max_length=20)]
    postcode: Annotated[str, Strict(), Field(min_length=1, max_length=10)]
    borough: Borough
    email: Email | None = None
    phone: Phone | None = None
    ethnicity: Ethnicity
    section_117_aftercare: StrictBool
    consent: StrictBool

    @field_validator("consent")
    @classmethod
    def _consented(cls, value: bool) -> bool:
        if not value:
            raise PydanticCustomError("consent", "must be given")
        return value

    @field_validator("nhs_number")
    @classmethod
    def _nhs_number(cls, value: str) -> str:
        digits = rules.normalise_nhs_number(value)
        if not re.fullmatch(r"[0-9]{10}", digits):
            raise PydanticCustomError("nhs_number", "must be 10 digits, like 943 476 5919")
        if not rules.nhs_number_is_valid(digits):
            raise PydanticCustomError(
                "nhs_number", "is not a valid NHS number: check it has been typed correctly"
            )
        return digits

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str) -> str:
        normalised = rules.normalise_postcode(value)
        if normalised is None:
            raise PydanticCustomError("postcode", "must be a full UK postcode, like E8 1DY")
        return normalised

    @field_validator("date_of_birth")
    @classmethod
    def _adult(cls, value: date, info: ValidationInfo) -> date:
        if _is_stored(info):
            return value
        today = _today(info)
        if value > today:
            raise PydanticCustomError("date_in_future", "must be in the past")
        if rules.age_on(value, today) < 18:
            raise PydanticCustomError(
                "under_18", "shows the person is under 18: PHBs in this service are for adults"
            )
        if rules.age_on(value, today) > 120:
            raise PydanticCustomError("too_old", "must be a real date of birth")
        return value


class Goal(_Model):
    area: GoalArea
    goal: _paragraph(500)  # type: ignore[valid-type]
    target_date: IsoDate

    @field_validator("target_date")
    @classmethod
    def _within_six_months(cls, value: date, info: ValidationInfo) -> date:
        if _is_stored(info):
            return value
        today = _today(info)
        if value < today:
            raise PydanticCustomError("date_in_past", "must be today or in the future")
        if value > rules.add_months(today, 6):
            raise PydanticCustomError("too_far", "must be within 6 months of today")
        return value


class Item(_Model):
    description: _line(200)  # type: ignore[valid-type]
    category: Category
    supplier: ShortText
    cost_pence: Pence
    recurrence: Recurrence
    months: Annotated[int, Strict(), Field(ge=1, le=12)] | None = Field(
        default=None, validate_default=True)

    @field_validator("months")
    @classmethod
    def _months_for_monthly(cls, value: int | None, info: ValidationInfo) -> int | None:
        recurrence = info.data.get("recurrence")
        if recurrence == "one_off" and value is not None:
            raise PydanticCustomError("months_one_off", "is only for monthly items")
        if recurrence == "monthly" and value is None:
            raise PydanticCustomError("months_missing", "is needed for a monthly item: 1 to 12")
        return value

    @property
    def total_pence(self) -> int:
        return rules.item_total_pence(self)


class ReQoL10(_Model):
    items: Annotated[list[Score], Field(min_length=10, max_length=10)]
    physical_health: Score

    @property
    def total(self) -> int:
        return sum(self.items)


class Referral(_Model):
    """A referral exactly as the JSON API takes it."""

    referrer: Referrer
    approving_manager: ApprovingManager | None = None
    person: Person
    goals: Annotated[list[Goal], Field(min_length=1, max_length=3)]
    how_phb_helps: Paragraph
    alternatives_considered: Paragraph
    items: Annotated[list[Item], Field(min_length=1, max_length=10)]
    budget_management: BudgetManagement
    reqol10_baseline: ReQoL10

    @property
    def total_pence(self) -> int:
        return rules.total_pence(self.items)


# ---------------------------------------------------------------------------------------------
# Errors users can act on


LABELS: dict[str, str] = {
    "referrer": "your details",
    "referrer.name": "your full name",
    "referrer.role": "your role",
    "referrer.team": "your team",
    "referrer.organisation": "your organisation",
    "referrer.email": "your work email address",
    "referrer.phone": "your phone number",
    "approving_manager": "your approving manager's details",
    "approving_manager.name": "your approving manager's name",
    "approving_manager.email": "your approving manager's email address",
    "person": "the person's details",
    "person.first_name": "the person's first name",
    "person.last_name": "the person's last name",
    "person.date_of_birth": "the person's date of birth",
    "person.nhs_number": "the person's NHS number",
    "person.postcode": "the person's postcode",
    "person.borough": "the borough the person lives in",
    "person.email": "the person's email address",
    "person.phone": "the person's phone number",
    "person.ethnicity": "the person's ethnic group",
    "person.section_117_aftercare": "whether the person receives section 117 aftercare",
    "person.consent": "that the person agreed to the referral",
    "goals": "recovery goals",
    "goals.*": "goal",
    "goals.*.area": "the area of goal {n}",
    "goals.*.goal": "recovery goal {n}",
    "goals.*.target_date": "the target date for goal {n}",
    "how_phb_helps": "how the PHB will help the person reach their goals",
    "alternatives_considered": "the other support options considered",
    "items": "items requested",
    "items.*": "item",
    "items.*.description": "what item {n} is",
    "items.*.category": "the category of item {n}",
    "items.*.supplier": "the supplier of item {n}",
    "items.*.cost_pence": "the cost of item {n}",
    "items.*.recurrence": "whether item {n} is paid once or monthly",
    "items.*.months": "the number of months for item {n}",
    "budget_management": "how the budget will be managed",
    "reqol10_baseline": "the ReQoL-10 scores",
    "reqol10_baseline.items": "the ReQoL-10 scores",
    "reqol10_baseline.items.*": "ReQoL-10 question {n} score",
    "reqol10_baseline.physical_health": "the ReQoL-10 physical health score",
}


def _is_index(part: str) -> bool:
    # A list index in an error path. str.isdigit() alone also accepts "²" and other
    # digits int() refuses, which an unknown field may be called.
    return part.isascii() and part.isdigit()


def label_for(path: str) -> str:
    parts = path.split(".")
    n = next((int(p) + 1 for p in reversed(parts) if _is_index(p)), None)
    pattern = ".".join("*" if _is_index(p) else p for p in parts)
    label = LABELS.get(pattern)
    if label is None:
        return path
    return label.format(n=n)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def message_for(path: str, error_type: str, ctx: dict[str, Any], pydantic_message: str) -> str:
    label = label_for(path)
    if path == "person.consent" and error_type in ("missing", "consent"):
        return "Confirm the person has agreed to the referral and to their data being used"
    if path in ("goals", "items") and error_type in ("missing", "too_short"):
        return "Add at least one recovery goal" if path == "goals" else "Add at least one item"
    if error_type == "missing" and path.split(".")[-1] in CHOICE_FIELDS:
        return f"Select {label}"
    if error_type in ("missing", "string_too_short"):
        return f"Enter {label}"
    if error_type == "string_too_long":
        return f"{_capitalise(label)} must be {ctx.get('max_length')} characters or fewer"
    if error_type == "too_long":
        return f"Enter no more than {ctx.get('max_length')} {label}"
    if error_type == "too_short":
        if path == "reqol10_baseline.items":
            return "Give a score for each of the 10 ReQoL-10 questions"
        return f"Add at least {ctx.get('min_length')} {label}"
    if error_type in ("literal_error", "enum"):
        return f"Select {label}"
    if error_type in ("int_type", "int_parsing", "int_from_float"):
        return f"{_capitalise(label)} must be a whole number"
    if error_type in ("string_type",):
        return f"{_capitalise(label)} must be text"
    if error_type in ("bool_type", "bool_parsing"):
        return f"{_capitalise(label)} must be true or false"
    if error_type in ("date_type", "date_parsing", "date_from_datetime_parsing",
                      "date_from_datetime_inexact"):
        return f"{_capitalise(label)} must be a real date in the format YYYY-MM-DD"
    if error_type in ("greater_than", "greater_than_equal"):
        return f"{_capitalise(label)} must be more than {_bound(path, ctx)}"
    if error_type in ("less_than", "less_than_equal"):
        return f"{_capitalise(label)} must be {_bound(path, ctx, upper=True)} or less"
    if error_type == "extra_forbidden":
        return f"{path} is not part of a referral: remove it"
    if error_type in ("model_type", "model_attributes_type", "dict_type", "list_type"):
        return f"{_capitalise(label)} is in the wrong format"
    # Our own PydanticCustomError messages read as "<Label> <message>".
    if error_type in _CUSTOM:
        return f"{_capitalise(label)} {pydantic_message}"
    return f"{_capitalise(label)}: {pydantic_message}"


CHOICE_FIELDS = {
    "borough", "ethnicity", "section_117_aftercare", "area", "category", "recurrence",
    "budget_management",
}

_CUSTOM = {
    "control_characters", "phone", "email", "email_domain", "nhs_number", "postcode",
    "date_in_future", "under_18", "too_old", "date_in_past", "too_far", "months_one_off",
    "months_missing",
    "consent",
}


def _bound(path: str, ctx: dict[str, Any], upper: bool = False) -> str:
    value = ctx.get("le" if upper else "gt", ctx.get("lt" if upper else "ge"))
    if path.endswith("cost_pence") and isinstance(value, int):
        return rules.format_pence(value)
    return str(value)


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    errors = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(p) for p in (*([prefix] if prefix else []), *error["loc"]))
        message = message_for(path, error["type"], dict(error.get("ctx") or {}), error["msg"])
        errors.append(FieldError(path, message))
    return _dedupe(errors)


def _dedupe(errors: list[FieldError]) -> list[FieldError]:
    seen: set[str] = set()
    result = []
    for error in errors:
        if error.field not in seen:
            seen.add(error.field)
            result.append(error)
    return result


def cross_field_errors(referral: Referral, settings: Settings) -> list[FieldError]:
    """Rules that span sections (the models check each field on its own)."""
    manager = referral.approving_manager
    return _manager_errors(referral.total_pence, manager is not None,
                           manager.email if manager else None, referral.referrer.email, settings)


def _manager_errors(total_pence: int, has_manager: bool, manager_email: str | None,
                    referrer_email: str | None, settings: Settings) -> list[FieldError]:
    if total_pence < settings.referrer_signoff_below_pence:
        return []
    if not has_manager:
        limit = rules.format_pence(settings.referrer_signoff_below_pence)
        return [FieldError(
            "approving_manager",
            f"Enter your approving manager's details: requests of {limit} or more "
            "are signed off by them",
        )]
    if manager_email and referrer_email and manager_email.lower() == referrer_email.lower():
        return [FieldError("approving_manager.email",
                           "Your approving manager must be someone other than you")]
    return []


def _cross_field_errors_of_invalid(data: Any, errors: list[FieldError], settings: Settings,
                                   context: dict[str, Any]) -> list[FieldError]:
    """The approving-manager rule for a referral that failed elsewhere, so that one answer names
    every bad field: it applies once the items (and so the total) are valid."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            return []
    if not isinstance(data, dict) or any(
        e.field == "items" or e.field.startswith(("items.", "approving_manager")) for e in errors
    ):
        return []
    try:
        items = [Item.model_validate(item, context=context) for item in data.get("items", [])]
    except ValidationError:
        return []
    manager = data.get("approving_manager")
    referrer = data.get("referrer")
    referrer_email = referrer.get("email") if isinstance(referrer, dict) else None
    failed_referrer_email = any(e.field == "referrer.email" for e in errors)
    return _manager_errors(
        rules.total_pence(items), manager is not None,
        manager.get("email") if isinstance(manager, dict) else None,
        None if failed_referrer_email or not isinstance(referrer_email, str)
        else referrer_email.strip(),
        settings)


def validation_context(settings: Settings, today: date | None = None) -> dict[str, Any]:
    return {"settings": settings, "today": today or date.today()}


def validate_referral(
    data: dict[str, Any] | str | bytes, settings: Settings, today: date | None = None
) -> Referral | list[FieldError]:
    """Validate a decoded JSON body (or raw JSON) against the whole contract."""
    context = validation_context(settings, today)
    try:
        if isinstance(data, (str, bytes)):
            referral = Referral.model_validate_json(data, context=context)
        else:
            referral = Referral.model_validate(data, context=context)
    except ValidationError as exc:
        errors = field_errors(exc)
        return errors + _cross_field_errors_of_invalid(data, errors, settings, context)
    return cross_field_errors(referral, settings) or referral


def sign_off(referral: Referral, settings: Settings) -> rules.SignOff:
    """Who signs this referral off, by the configured thresholds and funding rules."""
    return rules.sign_off(
        referral.items,
        settings.funding_rules,
        settings.referrer_signoff_below_pence,
        settings.manager_signoff_up_to_pence,
    )


def load_stored(answers: str) -> Referral:
    """A referral read back from the table: validated shape, no date-relative rules."""
    return Referral.model_validate_json(answers, context={"stored": True})


def warnings(referral: Referral, today: date | None = None) -> list[FieldError]:
    """Things worth a second look that do not stop a referral."""
    today = today or date.today()
    result = []
    three_months = rules.add_months(today, 3)
    for index, goal in enumerate(referral.goals):
        if goal.target_date > three_months:
            result.append(
                FieldError(
                    f"goals.{index}.target_date",
                    f"Goal {index + 1} ends more than 3 months from today: goals are "
                    "normally reached within 3 months",
                )
            )
    return result
