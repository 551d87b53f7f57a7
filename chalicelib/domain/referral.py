"""The referral contract (DOMAIN.md), as pydantic models shared by the JSON API and the form.

`validate_referral` (in `chalicelib/domain/validation.py`) is the one entry point; this module
holds the shapes and the rules each field checks on its own. The validation context carries the
settings (allowed referrer domains) and today's date; a stored referral is read back with
`load_stored`, which skips the rules relative to today and keeps its text and addresses as they
were checked when taken in. Text is made one form and refused when it holds characters nobody
can see (`chalicelib/domain/text.py`); an address must be one SES can send to
(`identity.sendable_address`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from chalicelib.domain import dates, identifiers, identity, money, policy, text
from chalicelib.domain.codes import (
    Borough,
    BudgetManagement,
    Category,
    Ethnicity,
    GoalArea,
    Recurrence,
)

if TYPE_CHECKING:
    from chalicelib.config import Settings

# --- field types -------------------------------------------------------------------------------


def _checked(clean: Callable[[str], str]) -> Callable[[str, ValidationInfo], str]:
    """A field validator of `clean` (chalicelib/domain/text.py), its refusal the field's error.
    A stored referral's text is read back as it was kept: it was checked when it was taken in,
    perhaps under older rules, and reading it must not fail."""

    def validate(value: str, info: ValidationInfo) -> str:
        if _is_stored(info):
            return value
        try:
            return clean(value)
        except text.Refused as refused:
            raise PydanticCustomError(refused.code, refused.message) from None

    return validate


_one_line = _checked(partial(text.clean, multi_line=False))
_multi_line = _checked(partial(text.clean, multi_line=True))
_name = _checked(text.clean_name)


def _iso_date(value: Any) -> Any:
    # pydantic would also take "2000-01-01T00:00:00" or a number of seconds for a date.
    if isinstance(value, date) or (
        isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)
    ):
        return value
    raise PydanticCustomError("date_parsing", "must be a date in the format YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
# A line of text (no line breaks) and a paragraph (line breaks kept), each 1 to N characters.
# A person's name is a line of text with at least one letter.
Name = Annotated[str, Strict(), Field(min_length=1, max_length=100), AfterValidator(_name)]
ShortText = Annotated[str, Strict(), Field(min_length=1, max_length=120),
                      AfterValidator(_one_line)]
ItemText = Annotated[str, Strict(), Field(min_length=1, max_length=200),
                     AfterValidator(_one_line)]
Paragraph = Annotated[str, Strict(), Field(min_length=1, max_length=2000),
                      AfterValidator(_multi_line)]
GoalText = Annotated[str, Strict(), Field(min_length=1, max_length=500),
                     AfterValidator(_multi_line)]
Pence = Annotated[int, Strict(), Field(gt=0, le=1_000_000)]
Score = Annotated[int, Strict(), Field(ge=0, le=4)]
StrictBool = Annotated[bool, Strict()]
Months = Annotated[int, Strict(), Field(ge=1, le=12)]


def _phone(value: str) -> str:
    # [0-9], not \d: \d also matches Arabic-Indic and full-width digits.
    digits = re.sub(r"[^0-9]", "", value)
    if not re.fullmatch(r"[0-9 ()+-]+", value) or not 10 <= len(digits) <= 15:
        raise PydanticCustomError("phone", "must be a UK phone number, like 020 7946 0000")
    return value


Phone = Annotated[str, Strict(), Field(min_length=1, max_length=30), AfterValidator(_phone)]


_email = _checked(identity.sendable_address)


def _work_email(value: str, info: ValidationInfo) -> str:
    if _is_stored(info):  # checked when it was taken in; the allowed domains may change since
        return value
    normalised = _email(value, info)
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
    settings = (info.context or {}).get("settings")
    if settings is None:
        raise RuntimeError("validate a referral through validate_referral, with its settings")
    return settings  # type: ignore[no-any-return]


def _today(info: ValidationInfo) -> date:
    today = (info.context or {}).get("today")
    return today if isinstance(today, date) else date.today()


def _is_stored(info: ValidationInfo) -> bool:
    # Re-reading a stored referral must not re-apply rules relative to "today".
    return bool((info.context or {}).get("stored"))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


# --- the contract ------------------------------------------------------------------------------


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
        digits = identifiers.normalise_nhs_number(value)
        if not re.fullmatch(r"[0-9]{10}", digits):
            raise PydanticCustomError("nhs_number", "must be 10 digits, like 943 476 5919")
        if not identifiers.nhs_number_is_valid(digits):
            raise PydanticCustomError(
                "nhs_number", "is not a valid NHS number: check it has been typed correctly"
            )
        return digits

    @field_validator("postcode")
    @classmethod
    def _postcode(cls, value: str) -> str:
        normalised = identifiers.normalise_postcode(value)
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
        if dates.age_on(value, today) < policy.ADULT_AGE:
            raise PydanticCustomError(
                "under_18", "shows the person is under 18: PHBs in this service are for adults"
            )
        if dates.age_on(value, today) > policy.OLDEST_AGE:
            raise PydanticCustomError("too_old", "must be a real date of birth")
        return value


class Goal(_Model):
    area: GoalArea
    goal: GoalText
    target_date: IsoDate

    @field_validator("target_date")
    @classmethod
    def _within_six_months(cls, value: date, info: ValidationInfo) -> date:
        if _is_stored(info):
            return value
        today = _today(info)
        if value < today:
            raise PydanticCustomError("date_in_past", "must be today or in the future")
        if value > dates.add_months(today, policy.GOAL_MONTHS_AT_MOST):
            raise PydanticCustomError("too_far", "must be within 6 months of today")
        return value


class Item(_Model):
    description: ItemText
    category: Category
    supplier: ShortText
    cost_pence: Pence
    recurrence: Recurrence
    months: Months | None = Field(default=None, validate_default=True)

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
        return money.item_total_pence(self)


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
    goals: Annotated[list[Goal], Field(min_length=1, max_length=policy.MAX_GOALS)]
    how_phb_helps: Paragraph
    alternatives_considered: Paragraph
    items: Annotated[list[Item], Field(min_length=1, max_length=policy.MAX_ITEMS)]
    budget_management: BudgetManagement
    reqol10_baseline: ReQoL10

    @property
    def total_pence(self) -> int:
        return money.total_pence(self.items)


def load_stored(answers: str) -> Referral:
    """A referral read back from the table: validated shape, no date-relative rules."""
    return Referral.model_validate_json(answers, context={"stored": True})
