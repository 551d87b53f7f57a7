"""The referral form's meaning: its sections, turning what was typed into the API's contract,
and which errors belong on which page.

The form keeps what was typed (strings, keyed by field name) in a draft; each page is checked
by validating the whole referral with the same models as the JSON API and showing the errors
that belong to that page. Field names are the contract's dotted paths, so an error's path is
also the id of the field it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import FieldError
from chalicelib.domain.money import parse_pounds
from chalicelib.domain.policy import REQOL_QUESTIONS
from chalicelib.web.forms import ROW_LIMITS, date_input, is_number


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    prefixes: tuple[str, ...]

    def owns(self, path: str) -> bool:
        return any(path == p or path.startswith(p + ".") for p in self.prefixes)


SECTIONS: tuple[Section, ...] = (
    Section("referrer", "Your details", ("referrer",)),
    Section("person", "About the person", ("person.first_name", "person.last_name",
            "person.date_of_birth", "person.nhs_number", "person.postcode", "person.borough",
            "person.email", "person.phone", "person.ethnicity", "person.section_117_aftercare",
            "person")),
    Section("goals", "Recovery goals", ("goals",)),
    Section("support", "How the PHB helps", ("how_phb_helps", "alternatives_considered")),
    Section("items", "Items requested", ("items",)),
    # Asked for once the total is known, and only when it needs one (`sections_for`).
    Section("manager", "Approving manager", ("approving_manager",)),
    Section("outcomes", "ReQoL-10 scores", ("reqol10_baseline",)),
    Section("budget", "Managing the budget", ("budget_management",)),
    Section("consent", "Consent", ("person.consent",)),
)
SECTION_BY_SLUG = {section.slug: section for section in SECTIONS}


def section_for(path: str) -> Section:
    # Consent lives under person in the contract but has a page of its own.
    if path == "person.consent":
        return SECTION_BY_SLUG["consent"]
    for section in SECTIONS:
        if section.owns(path):
            return section
    return SECTIONS[0]


def typed_total(values: dict[str, str]) -> int | None:
    """The total of the items typed, in pence; None until every item is valid."""
    from pydantic import ValidationError

    from chalicelib.domain.money import total_pence
    from chalicelib.domain.referral import Item

    items, errors = items_from_form(values)
    if errors or not items:
        return None
    try:
        return total_pence([Item.model_validate(item, context={}) for item in items])
    except ValidationError:
        return None


def manager_typed(values: dict[str, str]) -> bool:
    return any(not _blank(v) for k, v in values.items() if k.startswith("approving_manager."))


def needs_manager(values: dict[str, str], signoff_below_pence: int) -> bool:
    """Whether the request's total (as typed) is one an approving manager signs off."""
    total = typed_total(values)
    return total is not None and total >= signoff_below_pence


def sections_for(values: dict[str, str], signoff_below_pence: int,
                 showing: str | None = None) -> tuple[Section, ...]:
    """The form's pages for these answers: the approving manager's only when the total needs
    one (or one was given); `showing` is kept whatever (a page reached by its address)."""
    wanted = manager_typed(values) or needs_manager(values, signoff_below_pence)
    return tuple(s for s in SECTIONS if s.slug != "manager" or wanted or showing == "manager")


def next_section(slug: str, shown: tuple[Section, ...] = SECTIONS) -> str | None:
    """The page after `slug` among the pages `shown`."""
    slugs = [s.slug for s in shown]
    index = slugs.index(slug)
    return slugs[index + 1] if index + 1 < len(slugs) else None


def previous_section(slug: str, shown: tuple[Section, ...] = SECTIONS) -> str | None:
    """The page before `slug` among the pages `shown`."""
    slugs = [s.slug for s in shown]
    index = slugs.index(slug)
    return slugs[index - 1] if index > 0 else None


# --- rows of goals and items ---------------------------------------------------------------------


def _blank(value: str | None) -> bool:
    return value is None or value.strip() == ""


def field_path(name: str) -> str:
    """`person.date_of_birth[day]` -> `person.date_of_birth`."""
    return name.split("[", 1)[0]


def row_count(values: dict[str, str], prefix: str) -> int:
    """How many rows of `prefix` the values hold: one past the largest index named, never past
    the form's limit (`parse_form` refuses such names; a draft saved before it may hold one)."""
    limit = ROW_LIMITS.get(prefix, 0)
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d{{1,2}})\.")
    indexes = [int(m.group(1)) for name in values if (m := pattern.match(name))]
    return min(limit, max(indexes) + 1) if indexes else 0


def row_typed(values: dict[str, str], prefix: str, index: int) -> bool:
    """Whether anything was typed (or chosen) in row `index` of `prefix`."""
    return not _row_is_blank(values, prefix, index)


def _row_is_blank(values: dict[str, str], prefix: str, index: int) -> bool:
    start = f"{prefix}.{index}."
    return all(_blank(v) for k, v in values.items() if k.startswith(start))


def compact_rows(values: dict[str, str], prefix: str) -> dict[str, str]:
    """Drop blank rows and renumber the rest from 0 (so errors name the row the user sees)."""
    count = row_count(values, prefix)
    keep = [i for i in range(count) if not _row_is_blank(values, prefix, i)]
    result = {k: v for k, v in values.items() if not k.startswith(prefix + ".")}
    for new, old in enumerate(keep):
        start = f"{prefix}.{old}."
        for k, v in values.items():
            if k.startswith(start):
                result[f"{prefix}.{new}.{k[len(start):]}"] = v
    return result


# --- what the page sends -> the contract ---------------------------------------------------------


def _int_or_text(text: str) -> int | str:
    return int(text) if is_number(text.strip()) else text


class _Typed:
    """What was typed, read field by field into the contract's shape."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.errors: list[FieldError] = []

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if _blank(value) else value

    def fill(self, prefix: str, names: tuple[str, ...]) -> dict[str, Any]:
        """`{name: typed}` for each name typed under `prefix.`; blank ones left out."""
        return {name: text for name in names
                if (text := self.text(f"{prefix}.{name}")) is not None}

    def date(self, name: str, describe: str) -> str | None:
        value, error = date_input(self.values, name, describe)
        if error:
            self.errors.append(FieldError(name, error))
        return value


def _person(typed: _Typed) -> dict[str, Any]:
    person = typed.fill("person", ("first_name", "last_name", "nhs_number", "postcode",
                                   "borough", "email", "phone", "ethnicity"))
    dob = typed.date("person.date_of_birth", "Date of birth")
    aftercare = {"yes": True, "no": False}.get(
        (typed.values.get("person.section_117_aftercare") or "").strip())
    consent = True if typed.values.get("person.consent") == "yes" else None
    extra = {"date_of_birth": dob, "section_117_aftercare": aftercare, "consent": consent}
    return {**person, **{k: v for k, v in extra.items() if v is not None}}


def _goals(typed: _Typed) -> list[dict[str, Any]]:
    goals = []
    for index in range(row_count(typed.values, "goals")):
        goal = typed.fill(f"goals.{index}", ("area", "goal"))
        target = typed.date(f"goals.{index}.target_date", f"Target date for goal {index + 1}")
        if target is not None:
            goal["target_date"] = target
        goals.append(goal)
    return goals


def _items(typed: _Typed) -> list[dict[str, Any]]:
    items = []
    for index in range(row_count(typed.values, "items")):
        item = typed.fill(f"items.{index}", ("description", "category", "supplier",
                                             "recurrence"))
        cost = typed.text(f"items.{index}.cost_pence")
        if cost is not None:
            pence = parse_pounds(cost)
            if pence is None:
                typed.errors.append(FieldError(
                    f"items.{index}.cost_pence",
                    f"Enter the cost of item {index + 1} in pounds and pence, like 45.99"))
            else:
                item["cost_pence"] = pence
        months = typed.text(f"items.{index}.months")
        if months is not None and item.get("recurrence") == "monthly":
            item["months"] = _int_or_text(months)
        items.append(item)
    return items


def items_from_form(values: dict[str, str]) -> tuple[list[dict[str, Any]], list[FieldError]]:
    """The item rows typed (`items.0.description`, ...) in the contract's shape, with errors
    only the form can make (money typed in pounds)."""
    typed = _Typed(values)
    return _items(typed), typed.errors


def item_values(items: list[Any]) -> dict[str, str]:
    """Items as their form fields, to change them: the cost in pounds, like 45.99."""
    values = {}
    for index, item in enumerate(items):
        prefix = f"items.{index}."
        pounds, pence = divmod(item.cost_pence, 100)
        values.update({prefix + "description": item.description, prefix + "category": item.category,
                       prefix + "supplier": item.supplier, prefix + "recurrence": item.recurrence,
                       prefix + "cost_pence": f"{pounds}.{pence:02d}",
                       prefix + "months": str(item.months) if item.months else ""})
    return values


def _reqol(typed: _Typed) -> dict[str, Any] | None:
    scores = [typed.text(f"reqol10_baseline.items.{i}") for i in range(REQOL_QUESTIONS)]
    physical = typed.text("reqol10_baseline.physical_health")
    if all(s is None for s in scores) and physical is None:
        return None
    for i, score in enumerate(scores):
        if score is None:
            typed.errors.append(FieldError(f"reqol10_baseline.items.{i}",
                                           f"Select a score for question {i + 1}"))
    if physical is None:
        typed.errors.append(FieldError("reqol10_baseline.physical_health",
                                       "Select a score for the physical health question"))
    reqol: dict[str, Any] = {"items": [_int_or_text(s) if s else None for s in scores]}
    if physical:
        reqol["physical_health"] = _int_or_text(physical)
    return reqol


def to_contract(values: dict[str, str]) -> tuple[dict[str, Any], list[FieldError]]:
    """What was typed -> a dict in the JSON API's shape, plus errors only the form can make
    (a date in three boxes, money typed in pounds). Blank optional answers are left out."""
    typed = _Typed(values)
    data: dict[str, Any] = {
        "referrer": typed.fill("referrer", ("name", "role", "team", "organisation", "email",
                                            "phone")),
    }
    manager = typed.fill("approving_manager", ("name", "email"))
    if manager:
        data["approving_manager"] = manager
    data["person"] = _person(typed)
    data["goals"] = _goals(typed)
    data.update({name: text for name in ("how_phb_helps", "alternatives_considered")
                 if (text := typed.text(name)) is not None})
    data["items"] = _items(typed)
    if (management := typed.text("budget_management")) is not None:
        data["budget_management"] = management
    reqol = _reqol(typed)
    if reqol is not None:
        data["reqol10_baseline"] = reqol
    return data, typed.errors


def merge_errors(form: list[FieldError], model: list[FieldError]) -> list[FieldError]:
    """Form-level errors win over the model's for the same field; order follows the page."""
    mine = {e.field for e in form}
    merged = form + [e for e in model if e.field not in mine]
    order = {name: i for i, name in enumerate(FIELD_ORDER)}
    return sorted(merged, key=lambda e: order.get(_pattern(e.field), len(order)))


def _pattern(path: str) -> str:
    return re.sub(r"\.\d+(\.|$)", lambda m: ".*" + m.group(1), path)


FIELD_ORDER = [
    "referrer", "referrer.name", "referrer.role", "referrer.team", "referrer.organisation",
    "referrer.email", "referrer.phone", "person", "person.first_name", "person.last_name",
    "person.date_of_birth", "person.nhs_number", "person.postcode", "person.borough",
    "person.email", "person.phone", "person.ethnicity", "person.section_117_aftercare",
    "goals", "goals.*.area", "goals.*.goal", "goals.*.target_date", "how_phb_helps",
    "alternatives_considered", "items", "items.*.description", "items.*.category",
    "items.*.supplier", "items.*.cost_pence", "items.*.recurrence", "items.*.months",
    "approving_manager", "approving_manager.name", "approving_manager.email",
    "reqol10_baseline", "reqol10_baseline.items", "reqol10_baseline.items.*",
    "reqol10_baseline.physical_health", "budget_management", "person.consent",
]


def anchor(path: str) -> str:
    """The id of the input an error links to (the first box of a date; a radio group's id is
    its first radio's)."""
    if path.endswith("date_of_birth") or path.endswith("target_date"):
        return f"{path}-day"
    if path == "approving_manager":
        return "approving_manager.name"
    return path
