"""The amendment form, as the referrer's link and the staff console show it: each item as it is
now, to change or remove, a row to add one, the approving manager when none was given, and why
it changes. Read with the same item fields and models as the referral form."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chalicelib.domain import codes
from chalicelib.domain.errors import FieldError
from chalicelib.domain.money import format_pence
from chalicelib.domain.policy import MAX_ITEMS, MAX_TEXT
from chalicelib.domain.records import StoredReferral
from chalicelib.web.forms import checked_text, typed_text
from chalicelib.web.responses import form_context

if TYPE_CHECKING:
    from chalicelib.actions.amend import Amended
    from chalicelib.bootstrap import Services
    from chalicelib.config import Settings
    from chalicelib.domain.referral import Referral


def _without_removed(posted: dict[str, str]) -> dict[str, str]:
    """The item rows left once those ticked "remove" are dropped, numbered from 0 again."""
    from chalicelib.intake.form import compact_rows, row_count

    removed = {f"items.{i}." for i in range(row_count(posted, "items"))
               if posted.get(f"items.{i}.remove") == "yes"}
    kept = {name: value for name, value in posted.items()
            if not name.endswith(".remove") and not any(name.startswith(r) for r in removed)}
    return compact_rows(kept, "items")


def _manager(posted: dict[str, str], settings: Settings,
             errors: list[FieldError]) -> dict[str, Any] | None:
    from chalicelib.domain.referral import ApprovingManager
    from chalicelib.domain.validation import field_errors, validation_context

    typed = {name: text for name in ("name", "email")
             if (text := typed_text(posted, f"approving_manager.{name}"))}
    if not typed:
        return None
    try:
        manager = ApprovingManager.model_validate(typed, context=validation_context(settings))
    except ValidationError as exc:
        errors += field_errors(exc, "approving_manager")
        return None
    return manager.model_dump(mode="json")


def _checked_items(items: list[dict[str, Any]], settings: Settings
                   ) -> tuple[list[dict[str, Any]], list[FieldError]]:
    """The items typed, checked and made one form as intake checks them (the amended referral
    is then read as stored, which keeps what it holds as it was; a refused item as typed), and
    their errors."""
    from chalicelib.domain.referral import Item
    from chalicelib.domain.validation import field_errors, validation_context

    checked, errors = [], []
    for index, item in enumerate(items):
        try:
            checked.append(Item.model_validate(item, context=validation_context(settings))
                           .model_dump(mode="json"))
        except ValidationError as exc:
            errors += field_errors(exc, f"items.{index}")
            checked.append(item)
    return checked, errors


def read(posted: dict[str, str], referral: Referral, settings: Settings
         ) -> tuple[Referral | None, str, dict[str, str], list[FieldError]]:
    """The referral as amended, why, the form's values (rows renumbered) and the errors."""
    from chalicelib.domain.referral import Referral
    from chalicelib.domain.validation import cross_field_errors, field_errors
    from chalicelib.intake.form import items_from_form, merge_errors

    values = _without_removed(posted)
    items, errors = items_from_form(values)
    reason, reason_error = checked_text(posted, "reason", "the reason")
    if not reason:
        errors.append(FieldError("reason", "Enter why the items are changing"))
    elif reason_error:
        errors.append(reason_error)
    elif len(reason) > MAX_TEXT:
        errors.append(FieldError("reason", f"Must be {MAX_TEXT} characters or fewer"))
    if not items:
        errors.append(FieldError("items", "Keep at least one item: to end the PHB, withdraw "
                                          "it instead"))
    data = referral.model_dump(mode="json")
    data["items"], item_errors = _checked_items(items, settings)
    errors = merge_errors(errors, item_errors)
    manager = _manager(posted, settings, errors)
    if manager:
        data["approving_manager"] = manager
    amended = None
    try:
        amended = Referral.model_validate(data, context={"stored": True})
    except ValidationError as exc:
        errors = merge_errors(errors, [e for e in field_errors(exc) if e.field != "items"])
    if amended is not None and not errors:
        errors = cross_field_errors(amended, settings)
    return (None if errors else amended), reason, values, errors


def context(stored: StoredReferral, referral: Referral, values: dict[str, str] | None = None,
            errors: list[FieldError] | None = None) -> dict[str, Any]:
    """What the amendment page shows: the form filled in with the items as they are now, or
    as typed."""
    from chalicelib.actions.pages import money_view
    from chalicelib.intake.form import anchor, item_values, row_count

    values = values if values is not None else item_values(list(referral.items))
    rows = min(MAX_ITEMS, max(row_count(values, "items"), len(referral.items)) + 1)
    return {**form_context(errors, values), "referral": referral, "stored": stored,
            "item_rows": rows, "existing": len(referral.items), "money": money_view(stored),
            "status_label": codes.STATUSES[stored.status], "anchor": anchor,
            "title": "Change the items"}


def submit(svc: Services, stored: StoredReferral, referral: Referral, actor: str,
           posted: dict[str, str]) -> tuple[Amended | None, dict[str, str], list[FieldError]]:
    """Read the form and amend the referral: (what was done, or None, the form's values, the
    errors). AlreadyDone when the referral can no longer change or changed meanwhile."""
    from chalicelib.actions.amend import amend
    from chalicelib.domain.ledger import Refused

    amended, reason, values, errors = read(posted, referral, svc.settings)
    if amended is None:
        return None, values, errors
    try:
        return amend(svc, stored, actor, amended, reason), values, []
    except Refused as refused:
        return None, values, [FieldError(refused.field, refused.message)]


def message(result: Amended) -> str:
    """What the person who changed it is told."""
    return (f"The change has been recorded ({format_pence(result.before_pence)} before, "
            f"{format_pence(result.after_pence)} now). {result.then}.")
