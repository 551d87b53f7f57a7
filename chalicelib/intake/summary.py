"""The "check your answers" page: the answers as NHS.UK summary list rows, each with a link to
change it on its own page, and each error beside the answer it is about.

The rows are built from the answers in the contract's shape (a dict), not from a valid
`Referral`, so that the page shows every answer even while some are missing or need changing:
checked and made one form when the whole referral is valid, as typed otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from chalicelib.domain import codes
from chalicelib.domain.dates import long_date
from chalicelib.domain.errors import FieldError
from chalicelib.domain.identifiers import format_nhs_number, normalise_nhs_number
from chalicelib.domain.money import format_pence
from chalicelib.intake.form import anchor, to_contract

if TYPE_CHECKING:
    from chalicelib.config import Settings


def answers_of(values: dict[str, str], settings: Settings) -> dict[str, Any]:
    """The draft's answers in the contract's shape: as the referral keeps them when they are
    all valid (postcode and NHS number made one form), as typed when not."""
    from pydantic import ValidationError

    from chalicelib.domain.referral import Referral
    from chalicelib.domain.validation import validation_context

    data, form_errors = to_contract(values)
    if form_errors:
        return data
    try:
        referral = Referral.model_validate(data, context=validation_context(settings))
    except ValidationError:
        return data
    return referral.model_dump(mode="json")


@dataclass
class _Row:
    label: str
    value: str | None
    slug: str
    fields: tuple[str, ...]
    multiline: bool = False
    change: bool = True
    error: str | None = None


def _owns(row: _Row, path: str, exact: bool) -> bool:
    if exact:
        return any(path == f or path.startswith(f + ".") for f in row.fields)
    return any(f.startswith(path + ".") for f in row.fields)


def _place_errors(rows: list[_Row], errors: list[FieldError]) -> None:
    """Each error beside the first row it is about: the row of its field, else the first row
    under it (an error about all the goals goes beside the first goal)."""
    for error in errors:
        row = next((r for r in rows if _owns(r, error.field, exact=True)), None) or next(
            (r for r in rows if _owns(r, error.field, exact=False)), None)
        if row is not None and row.error is None:
            row.error = error.message


def _as_summary(row: _Row, base: str) -> dict[str, Any]:
    shown = row.value if row.value not in (None, "") else "Not given"
    value: Any = escape(shown)
    if row.multiline:
        value = Markup("<br>").join(escape(shown).split("\n"))
    if row.error:
        value = Markup('<span class="nhsuk-error-message" id="check.{}-error"><span '
                       'class="nhsuk-u-visually-hidden">Error:</span> {}</span>{}').format(
            row.fields[0], row.error, value)
    summary: dict[str, Any] = {"key": {"text": row.label}, "value": {"html": value}}
    if row.change:
        summary["actions"] = {"items": [{
            "href": f"{base}/referral/{row.slug}?change=1#{anchor(row.fields[0])}",
            "text": "Change", "visuallyHiddenText": row.label,
        }]}
    return summary


def _text(data: dict[str, Any], path: str) -> str | None:
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return None if value is None else str(value)


def _date(value: Any) -> str | None:
    try:
        return long_date(date.fromisoformat(value)) if isinstance(value, str) else None
    except ValueError:
        return value if isinstance(value, str) else None


def _label(table: dict[str, str], code: Any) -> str | None:
    return None if code is None else table.get(str(code), str(code))


def _nhs_number(value: str | None) -> str | None:
    digits = normalise_nhs_number(value) if value else ""
    return format_nhs_number(digits) if len(digits) == 10 and digits.isdigit() else value


def _yes_no(value: Any) -> str | None:
    return {True: "Yes", False: "No"}.get(value) if isinstance(value, bool) else None


def _cost(item: dict[str, Any]) -> str | None:
    cost = item.get("cost_pence")
    if not isinstance(cost, int):
        return None
    months = item.get("months")
    if item.get("recurrence") != "monthly" or not isinstance(months, int):
        return format_pence(cost)
    return (f"{format_pence(cost)} a month for {months} month{'s' if months != 1 else ''} "
            f"({format_pence(cost * months)})")


def _item_rows(items: list[dict[str, Any]]) -> list[_Row]:
    return [_Row(f"{item.get('description') or f'Item {i + 1}'} ("
                 f"{_label(codes.CATEGORIES, item.get('category')) or 'category not given'}, "
                 f"from {item.get('supplier') or 'a supplier not given'})", _cost(item),
                 "items", (f"items.{i}.description", f"items.{i}"))
            for i, item in enumerate(items)]


def _sections(d: dict[str, Any], total: int | None, with_manager: bool
              ) -> list[tuple[str, list[_Row]]]:
    person = d.get("person") or {}
    goals = [g for g in d.get("goals") or [] if isinstance(g, dict)]
    items = [i for i in d.get("items") or [] if isinstance(i, dict)]
    manager = d.get("approving_manager") or {}
    reqol = d.get("reqol10_baseline") or {}
    scores = reqol.get("items") or []
    sections: list[tuple[str, list[_Row]]] = [
        ("Your details", [
            _Row(label, _text(d, f"referrer.{name}"), "referrer", (f"referrer.{name}",))
            for label, name in (("Name", "name"), ("Role", "role"), ("Team", "team"),
                                ("Organisation", "organisation"), ("Work email", "email"),
                                ("Work phone", "phone"))]),
        ("About the person", [
            _Row("Name", " ".join(n for n in (person.get("first_name"), person.get("last_name"))
                                  if n) or None, "person",
                 ("person.first_name", "person.last_name")),
            _Row("Date of birth", _date(person.get("date_of_birth")), "person",
                 ("person.date_of_birth",)),
            _Row("NHS number", _nhs_number(person.get("nhs_number")), "person",
                 ("person.nhs_number",)),
            _Row("Postcode", person.get("postcode"), "person", ("person.postcode",)),
            _Row("Borough", _label(codes.BOROUGHS, person.get("borough")), "person",
                 ("person.borough",)),
            _Row("Email", person.get("email"), "person", ("person.email",)),
            _Row("Phone", person.get("phone"), "person", ("person.phone",)),
            _Row("Ethnic group", _label(codes.ETHNICITIES, person.get("ethnicity")), "person",
                 ("person.ethnicity",)),
            _Row("Section 117 aftercare", _yes_no(person.get("section_117_aftercare")),
                 "person", ("person.section_117_aftercare",)),
        ]),
        ("Recovery goals", [
            _Row(f"Goal {i + 1}: {_label(codes.GOAL_AREAS, g.get('area')) or 'area not given'}"
                 f", by {_date(g.get('target_date')) or 'a date not given'}", g.get("goal"),
                 "goals", (f"goals.{i}.goal", f"goals.{i}"), multiline=True)
            for i, g in enumerate(goals)] or [_Row("Goal 1", None, "goals", ("goals.0.goal",))]),
        ("How the PHB helps", [
            _Row("How the PHB helps", d.get("how_phb_helps"), "support", ("how_phb_helps",),
                 multiline=True),
            _Row("Other options considered", d.get("alternatives_considered"), "support",
                 ("alternatives_considered",), multiline=True),
        ]),
        ("Items requested", [
            *(_item_rows(items) or [_Row("Item 1", None, "items", ("items.0.description",))]),
            *([_Row("Total", format_pence(total), "items", ("items",), change=False)]
              if total is not None else []),
        ]),
    ]
    if with_manager:
        sections.append(("Approving manager", [
            _Row("Approving manager", ", ".join(str(v) for v in (manager.get("name"),
                                                                 manager.get("email")) if v)
                 or None, "manager", ("approving_manager.name", "approving_manager")),
        ]))
    complete = len(scores) == 10 and all(isinstance(s, int) for s in scores)
    sections.append(("ReQoL-10 and budget", [
        _Row("ReQoL-10 scores", f"{', '.join(map(str, scores))} (total {sum(scores)} out of "
             f"40); physical health {reqol.get('physical_health')}" if complete else None,
             "outcomes", ("reqol10_baseline.items.0", "reqol10_baseline")),
        _Row("How the budget is managed",
             _label(codes.BUDGET_MANAGEMENT, d.get("budget_management")), "budget",
             ("budget_management",)),
        _Row("Consent", "The person has agreed" if person.get("consent") is True else None,
             "consent", ("person.consent",)),
    ]))
    return sections


def summary(answers: dict[str, Any], errors: list[FieldError], base: str = "",
            total: int | None = None, with_manager: bool = False
            ) -> list[tuple[str, list[dict[str, Any]]]]:
    """Sections of the check-your-answers page, as NHS.UK summary list rows, each error beside
    its answer; `base` is the path the app is served under, `total` the request's (when the
    items are valid), `with_manager` whether the approving manager is asked for."""
    sections = _sections(answers, total, with_manager)
    _place_errors([row for _, rows in sections for row in rows], errors)
    return [(title, [_as_summary(row, base) for row in rows]) for title, rows in sections]
