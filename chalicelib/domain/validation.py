"""Validating a referral against the whole contract, with errors people can act on.

`validate_referral` is the one entry point for the API and the form: a `Referral`, or a list of
`FieldError` naming each bad field by its dotted path (`person.nhs_number`,
`items.0.cost_pence`) with a message a clinician can act on, every bad field at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chalicelib.domain import dates, funding, identifiers, money, places, policy
from chalicelib.domain.codes import BOROUGHS
from chalicelib.domain.errors import FieldError
from chalicelib.domain.identity import same_mailbox
from chalicelib.domain.referral import Item, Referral

if TYPE_CHECKING:
    from chalicelib.config import Settings

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
    "items.*.description": "the description of item {n}",
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
# Fields chosen from a list: a missing one is "Select ...", not "Enter ...".
CHOICE_FIELDS = {
    "borough", "ethnicity", "section_117_aftercare", "area", "category", "recurrence",
    "budget_management",
}
# Our own PydanticCustomError messages, which read as "<Label> <message>".
_CUSTOM = {
    "control_characters", "no_letter", "phone", "email", "email_ascii", "email_domain",
    "nhs_number", "postcode",
    "date_in_future", "under_18", "too_old", "date_in_past", "too_far", "months_one_off",
    "months_missing", "consent",
}


def _is_index(part: str) -> bool:
    # A list index in an error path. str.isdigit() alone also accepts "²" and other
    # digits int() refuses, which an unknown field may be called.
    return part.isascii() and part.isdigit()


def label_for(path: str) -> str:
    """`items.1.cost_pence` -> "the cost of item 2"; the path itself when it has no label."""
    parts = path.split(".")
    n = next((int(p) + 1 for p in reversed(parts) if _is_index(p)), None)
    pattern = ".".join("*" if _is_index(p) else p for p in parts)
    label = LABELS.get(pattern)
    if label is None:
        return path
    return label.format(n=n)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _bound(path: str, ctx: dict[str, Any], upper: bool = False) -> str:
    value = ctx.get("le" if upper else "gt", ctx.get("lt" if upper else "ge"))
    if path.endswith("cost_pence") and isinstance(value, int):
        return money.format_pence(value)
    return str(value)


Message = Callable[[str, str, dict[str, Any]], str]  # (label, path, ctx) -> message


def _group(types: tuple[str, ...], message: Message) -> dict[str, Message]:
    return dict.fromkeys(types, message)


_BY_TYPE: dict[str, Message] = {
    **_group(("missing", "string_too_short"), lambda label, path, ctx: f"Enter {label}"),
    "string_too_long": lambda label, path, ctx:
        f"{_capitalise(label)} must be {ctx.get('max_length')} characters or fewer",
    "too_long": lambda label, path, ctx: f"Enter no more than {ctx.get('max_length')} {label}",
    "too_short": lambda label, path, ctx: f"Add at least {ctx.get('min_length')} {label}",
    **_group(("literal_error", "enum"), lambda label, path, ctx: f"Select {label}"),
    **_group(("int_type", "int_parsing", "int_from_float"),
             lambda label, path, ctx: f"{_capitalise(label)} must be a whole number"),
    "string_type": lambda label, path, ctx: f"{_capitalise(label)} must be text",
    **_group(("bool_type", "bool_parsing"),
             lambda label, path, ctx: f"{_capitalise(label)} must be true or false"),
    **_group(("date_type", "date_parsing", "date_from_datetime_parsing",
              "date_from_datetime_inexact"),
             lambda label, path, ctx:
                 f"{_capitalise(label)} must be a real date in the format YYYY-MM-DD"),
    **_group(("greater_than", "greater_than_equal"),
             lambda label, path, ctx: f"{_capitalise(label)} must be more than "
                                      f"{_bound(path, ctx)}"),
    **_group(("less_than", "less_than_equal"),
             lambda label, path, ctx: f"{_capitalise(label)} must be "
                                      f"{_bound(path, ctx, upper=True)} or less"),
    "extra_forbidden": lambda label, path, ctx: f"{path} is not part of a referral: remove it",
    **_group(("model_type", "model_attributes_type", "dict_type", "list_type"),
             lambda label, path, ctx: f"{_capitalise(label)} is in the wrong format"),
}


def _special(path: str, error_type: str, label: str) -> str | None:
    """The messages worded for one field rather than for a kind of error."""
    if path == "person.consent" and error_type in ("missing", "consent"):
        return "Confirm the person has agreed to the referral and to their data being used"
    if path in ("goals", "items") and error_type in ("missing", "too_short"):
        return "Add at least one recovery goal" if path == "goals" else "Add at least one item"
    if error_type == "missing" and path.split(".")[-1] in CHOICE_FIELDS:
        return f"Select {label}"
    if error_type == "too_short" and path == "reqol10_baseline.items":
        return "Give a score for each of the 10 ReQoL-10 questions"
    return None


def message_for(path: str, error_type: str, ctx: dict[str, Any], pydantic_message: str) -> str:
    """The message for one pydantic error, in words a clinician can act on."""
    label = label_for(path)
    special = _special(path, error_type, label)
    if special is not None:
        return special
    if error_type in _BY_TYPE:
        return _BY_TYPE[error_type](label, path, ctx)
    if error_type in _CUSTOM:
        return f"{_capitalise(label)} {pydantic_message}"
    return f"{_capitalise(label)}: {pydantic_message}"


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """One FieldError per field pydantic refused (the first error of each)."""
    first: dict[str, FieldError] = {}
    for error in exc.errors(include_url=False):
        path = ".".join(str(p) for p in (*([prefix] if prefix else []), *error["loc"]))
        message = message_for(path, error["type"], dict(error.get("ctx") or {}), error["msg"])
        first.setdefault(path, FieldError(path, message))
    return list(first.values())


# --- rules across sections ---------------------------------------------------------------------


def _manager_errors(total: int, has_manager: bool, manager_email: str | None,
                    referrer_email: str | None, settings: Settings) -> list[FieldError]:
    if total < settings.referrer_signoff_below_pence:
        return []
    if not has_manager:
        limit = money.format_pence(settings.referrer_signoff_below_pence)
        return [FieldError(
            "approving_manager",
            f"Enter your approving manager's details: requests of {limit} or more "
            "are signed off by them",
        )]
    # One mailbox however it is typed, with or without a +tag, is one person.
    if manager_email and referrer_email and same_mailbox(manager_email, referrer_email):
        return [FieldError("approving_manager.email",
                           "Your approving manager must be someone other than you")]
    return []


def _postcode_errors(postcode: str, borough: str, settings: Settings) -> list[FieldError]:
    """A postcode clearly outside the borough chosen is refused; one the sector table cannot
    place for sure is taken, and flagged for an advisor (`intake/decision.py`)."""
    refusal = places.place_of(postcode, borough, settings.postcode_sectors).refusal()
    return [FieldError("person.postcode", f"The person's postcode {refusal}")] if refusal else []


def cross_field_errors(referral: Referral, settings: Settings) -> list[FieldError]:
    """Rules that span fields (the models check each field on its own)."""
    manager = referral.approving_manager
    who = referral.person
    return _postcode_errors(who.postcode, who.borough, settings) + _manager_errors(
        referral.total_pence, manager is not None, manager.email if manager else None,
        referral.referrer.email, settings)


def _postcode_errors_of_invalid(data: dict[str, Any], errors: list[FieldError],
                                settings: Settings) -> list[FieldError]:
    """The postcode rule for a referral that failed elsewhere, once the postcode and the
    borough are each valid (so the person's page names it with the others)."""
    person = data.get("person")
    if not isinstance(person, dict) or any(
        e.field in ("person", "person.postcode", "person.borough") for e in errors
    ):
        return []
    postcode, borough = person.get("postcode"), person.get("borough")
    if not isinstance(postcode, str) or borough not in BOROUGHS:
        return []
    normalised = identifiers.normalise_postcode(postcode)
    return _postcode_errors(normalised, str(borough), settings) if normalised else []


def _cross_field_errors_of_invalid(data: Any, errors: list[FieldError], settings: Settings,
                                   context: dict[str, Any]) -> list[FieldError]:
    """The postcode and approving-manager rules for a referral that failed elsewhere, so that
    one answer names every bad field: the manager's applies once the items (and so the total)
    are valid."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            return []
    if not isinstance(data, dict):
        return []
    found = _postcode_errors_of_invalid(data, errors, settings)
    if any(
        e.field == "items" or e.field.startswith(("items.", "approving_manager")) for e in errors
    ):
        return found
    try:
        items = [Item.model_validate(item, context=context) for item in data.get("items", [])]
    except ValidationError:
        return found
    manager = data.get("approving_manager")
    referrer = data.get("referrer")
    referrer_email = referrer.get("email") if isinstance(referrer, dict) else None
    failed_referrer_email = any(e.field == "referrer.email" for e in errors)
    return found + _manager_errors(
        money.total_pence(items), manager is not None,
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


def sign_off(referral: Referral, settings: Settings) -> funding.SignOff:
    """Who signs this referral off, by the configured thresholds and funding rules."""
    return funding.sign_off(
        referral.items,
        settings.funding_rules,
        settings.referrer_signoff_below_pence,
        settings.manager_signoff_up_to_pence,
    )


def warnings(referral: Referral, today: date | None = None) -> list[FieldError]:
    """Things worth a second look that do not stop a referral."""
    today = today or date.today()
    normally = dates.add_months(today, policy.GOAL_MONTHS_NORMALLY)
    return [
        FieldError(f"goals.{index}.target_date",
                   f"Goal {index + 1} ends more than 3 months from today: goals are "
                   "normally reached within 3 months")
        for index, goal in enumerate(referral.goals) if goal.target_date > normally
    ]
