"""The referral form for clinicians: sections, turning what was typed into the API's contract,
and which errors belong on which page.

The form keeps what was typed (strings, keyed by field name) in a draft; each page is checked
by validating the whole referral with the same models as the JSON API and showing the errors
that belong to that page. Field names are the contract's dotted paths, so an error's path is
also the id of the field it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs

from chalicelib.errors import FieldError

MAX_GOALS = 3
MAX_ITEMS = 10
REQOL_QUESTIONS = 10


@dataclass(frozen=True)
class Section:
    slug: str
    title: str
    prefixes: tuple[str, ...]

    def owns(self, path: str) -> bool:
        return any(path == p or path.startswith(p + ".") for p in self.prefixes)


SECTIONS: tuple[Section, ...] = (
    Section("referrer", "Your details", ("referrer", "approving_manager")),
    Section("person", "About the person", ("person.first_name", "person.last_name",
            "person.date_of_birth", "person.nhs_number", "person.postcode", "person.borough",
            "person.email", "person.phone", "person.ethnicity", "person.section_117_aftercare",
            "person")),
    Section("goals", "Recovery goals", ("goals",)),
    Section("support", "How the PHB helps", ("how_phb_helps", "alternatives_considered")),
    Section("items", "Items requested", ("items",)),
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


def next_section(slug: str) -> str | None:
    slugs = [s.slug for s in SECTIONS]
    index = slugs.index(slug)
    return slugs[index + 1] if index + 1 < len(slugs) else None


def previous_section(slug: str) -> str | None:
    slugs = [s.slug for s in SECTIONS]
    index = slugs.index(slug)
    return slugs[index - 1] if index > 0 else None


# ---------------------------------------------------------------------------------------------
# Parsing the posted form

MAX_FORM_BYTES = 64 * 1024
MAX_FIELD_CHARS = 5000


class FormRejected(Exception):
    """The request itself is malformed (not a user's typing mistake)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_form(body: bytes) -> dict[str, str]:
    """Decode a urlencoded body; a field sent twice or far too long is refused, not guessed at."""
    if len(body) > MAX_FORM_BYTES:
        raise FormRejected("The form is too large to send. Shorten your answers and try again.")
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=False,
                          max_num_fields=500, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise FormRejected("The form could not be read. Go back and try again.") from None
    result = {}
    for name, values in fields.items():
        if len(values) != 1:
            raise FormRejected(f"The form sent the field {name!r} more than once.")
        if len(values[0]) > MAX_FIELD_CHARS:
            raise FormRejected(f"The answer in {name!r} is too long.")
        result[name] = values[0]
    return result


# ---------------------------------------------------------------------------------------------
# What the page sends -> the contract


def _blank(value: str | None) -> bool:
    return value is None or value.strip() == ""


def field_path(name: str) -> str:
    """`person.date_of_birth[day]` -> `person.date_of_birth`."""
    return name.split("[", 1)[0]


def row_count(values: dict[str, str], prefix: str) -> int:
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    indexes = [int(m.group(1)) for name in values if (m := pattern.match(name))]
    return max(indexes) + 1 if indexes else 0


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


def parse_date(values: dict[str, str], name: str) -> tuple[str | None, str | None]:
    """(ISO date, error) from `name[day]`, `name[month]`, `name[year]`."""
    parts = [values.get(f"{name}[{p}]", "").strip() for p in ("day", "month", "year")]
    if all(p == "" for p in parts):
        return None, None
    if any(p == "" for p in parts):
        missing = [n for n, p in zip(("day", "month", "year"), parts, strict=True) if p == ""]
        return None, f"must include a {' and '.join(missing)}"
    if not all(_is_number(p) for p in parts) or len(parts[2]) != 4:
        return None, "must be a real date, like 27 3 1990"
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0])).isoformat(), None
    except ValueError:
        return None, "must be a real date, like 27 3 1990"


_MONEY = re.compile(r"^£?\s*([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.([0-9]{1,2}))?$")


def parse_pounds(text: str) -> int | None:
    """`45`, `45.5`, `£1,200.00` -> pence; None when it is not an amount of money."""
    match = _MONEY.match(text.strip())
    if not match:
        return None
    pounds = int(match.group(1).replace(",", ""))
    pence = int((match.group(4) or "0").ljust(2, "0"))
    return pounds * 100 + pence


def _is_number(text: str) -> bool:
    # ASCII only: str.isdigit() also accepts "²", which int() refuses.
    return text.isascii() and text.isdigit()


def _int_or_text(text: str) -> int | str:
    return int(text) if _is_number(text.strip()) else text


def _yes_no(text: str | None) -> bool | None:
    return {"yes": True, "no": False}.get((text or "").strip())


def to_contract(values: dict[str, str]) -> tuple[dict[str, Any], list[FieldError]]:
    """What was typed -> a dict in the JSON API's shape, plus errors only the form can make
    (a date in three boxes, money typed in pounds). Blank optional answers are left out."""
    errors: list[FieldError] = []
    v = values

    def text(name: str) -> str | None:
        value = v.get(name)
        return None if _blank(value) else value

    def put(target: dict[str, Any], key: str, value: Any) -> None:
        if value is not None:
            target[key] = value

    data: dict[str, Any] = {}

    referrer: dict[str, Any] = {}
    for field in ("name", "role", "team", "organisation", "email", "phone"):
        put(referrer, field, text(f"referrer.{field}"))
    data["referrer"] = referrer
    manager: dict[str, Any] = {}
    for field in ("name", "email"):
        put(manager, field, text(f"approving_manager.{field}"))
    if manager:
        data["approving_manager"] = manager

    person: dict[str, Any] = {}
    for field in ("first_name", "last_name", "nhs_number", "postcode", "borough", "email",
                  "phone", "ethnicity"):
        put(person, field, text(f"person.{field}"))
    dob, dob_error = parse_date(v, "person.date_of_birth")
    put(person, "date_of_birth", dob)
    if dob_error:
        errors.append(FieldError("person.date_of_birth", f"The date of birth {dob_error}"))
    put(person, "section_117_aftercare", _yes_no(v.get("person.section_117_aftercare")))
    put(person, "consent", True if v.get("person.consent") == "yes" else None)
    data["person"] = person

    goals = []
    for index in range(row_count(v, "goals")):
        goal: dict[str, Any] = {}
        put(goal, "area", text(f"goals.{index}.area"))
        put(goal, "goal", text(f"goals.{index}.goal"))
        target, target_error = parse_date(v, f"goals.{index}.target_date")
        put(goal, "target_date", target)
        if target_error:
            errors.append(FieldError(f"goals.{index}.target_date",
                                     f"The target date for goal {index + 1} {target_error}"))
        goals.append(goal)
    data["goals"] = goals

    put(data, "how_phb_helps", text("how_phb_helps"))
    put(data, "alternatives_considered", text("alternatives_considered"))

    items = []
    for index in range(row_count(v, "items")):
        item: dict[str, Any] = {}
        for field in ("description", "category", "supplier", "recurrence"):
            put(item, field, text(f"items.{index}.{field}"))
        cost = text(f"items.{index}.cost_pence")
        if cost is not None:
            pence = parse_pounds(cost)
            if pence is None:
                errors.append(FieldError(
                    f"items.{index}.cost_pence",
                    f"Enter the cost of item {index + 1} in pounds and pence, like 45.99"))
            else:
                item["cost_pence"] = pence
        months = text(f"items.{index}.months")
        if months is not None and item.get("recurrence") == "monthly":
            item["months"] = _int_or_text(months)
        items.append(item)
    data["items"] = items

    put(data, "budget_management", text("budget_management"))

    scores = [text(f"reqol10_baseline.items.{i}") for i in range(REQOL_QUESTIONS)]
    physical = text("reqol10_baseline.physical_health")
    if any(s is not None for s in scores) or physical is not None:
        for i, score in enumerate(scores):
            if score is None:
                errors.append(FieldError(f"reqol10_baseline.items.{i}",
                                         f"Select a score for question {i + 1}"))
        if physical is None:
            errors.append(FieldError("reqol10_baseline.physical_health",
                                     "Select a score for the physical health question"))
        reqol: dict[str, Any] = {"items": [_int_or_text(s) if s else None for s in scores]}
        put(reqol, "physical_health", _int_or_text(physical) if physical else None)
        data["reqol10_baseline"] = reqol
    return data, errors


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
    "referrer.email", "referrer.phone", "approving_manager", "approving_manager.name",
    "approving_manager.email", "person", "person.first_name", "person.last_name",
    "person.date_of_birth", "person.nhs_number", "person.postcode", "person.borough",
    "person.email", "person.phone", "person.ethnicity", "person.section_117_aftercare",
    "goals", "goals.*.area", "goals.*.goal", "goals.*.target_date", "how_phb_helps",
    "alternatives_considered", "items", "items.*.description", "items.*.category",
    "items.*.supplier", "items.*.cost_pence", "items.*.recurrence", "items.*.months",
    "reqol10_baseline", "reqol10_baseline.items", "reqol10_baseline.items.*",
    "reqol10_baseline.physical_health", "budget_management", "person.consent",
]


def anchor(path: str) -> str:
    """The id of the input an error links to (the first box of a date; a radio group's id is
    its first radio's)."""
    if path.endswith("date_of_birth") or path.endswith("target_date"):
        return f"{path}-day"
    return path


# Choices shown on the pages, in the contract's codes.
BOROUGHS = [("city_and_hackney", "City & Hackney"), ("tower_hamlets", "Tower Hamlets"),
            ("newham", "Newham")]
GOAL_AREAS = [("mental_health", "Mental health"), ("physical_health", "Physical health"),
              ("social", "Social")]
CATEGORIES = [("equipment", "Equipment"), ("membership", "Membership"), ("course", "Course"),
              ("activity", "Activity"), ("smartphone_data", "Smartphone or data"),
              ("travel", "Travel (in the UK)"), ("other", "Other")]
RECURRENCES = [("one_off", "One-off payment"), ("monthly", "Monthly")]
BUDGET_MANAGEMENT = [
    ("direct_payment", "Direct payment",
     "Money paid to the person, for example onto a prepaid card"),
    ("notional", "Notional budget", "The NHS holds the money and arranges what is agreed"),
    ("third_party", "Third-party budget",
     "An organisation holds and manages the money for the person"),
    ("mixed", "A mix of these", None),
]
ETHNICITIES = [
    ("A", "White: British"), ("B", "White: Irish"), ("C", "White: any other White background"),
    ("D", "Mixed: White and Black Caribbean"), ("E", "Mixed: White and Black African"),
    ("F", "Mixed: White and Asian"), ("G", "Mixed: any other mixed background"),
    ("H", "Asian or Asian British: Indian"), ("J", "Asian or Asian British: Pakistani"),
    ("K", "Asian or Asian British: Bangladeshi"),
    ("L", "Asian or Asian British: any other Asian background"),
    ("M", "Black or Black British: Caribbean"), ("N", "Black or Black British: African"),
    ("P", "Black or Black British: any other Black background"), ("R", "Other: Chinese"),
    ("S", "Other: any other ethnic group"), ("Z", "Not stated"),
]

LABELS = {
    "city_and_hackney": "City & Hackney", "tower_hamlets": "Tower Hamlets", "newham": "Newham",
    **{code: label for code, label in GOAL_AREAS},
    **{code: label for code, label in CATEGORIES},
    **{code: label for code, label in RECURRENCES},
    **{code: label for code, label, _ in BUDGET_MANAGEMENT},
}
ETHNICITY_LABELS = dict(ETHNICITIES)
LABELS_BUDGET = {code: label for code, label, _ in BUDGET_MANAGEMENT}
PROGRESS = [("achieved", "Achieved"), ("progressing", "Making progress"),
            ("not_yet", "No progress yet"), ("no_longer_relevant", "No longer relevant")]
LABELS_PROGRESS = dict(PROGRESS)


# ---------------------------------------------------------------------------------------------
# Check your answers


def _row(label: str, value: str | None, base: str, slug: str, field: str,
         multiline: bool = False, change: bool = True) -> dict[str, Any]:
    from markupsafe import Markup, escape

    shown = value if value not in (None, "") else "Not given"
    cell: dict[str, Any] = (
        {"html": Markup("<br>").join(escape(shown).split("\n"))} if multiline else {"text": shown}
    )
    row: dict[str, Any] = {"key": {"text": label}, "value": cell}
    if change:
        row["actions"] = {"items": [{
            "href": f"{base}/referral/{slug}?change=1#{anchor(field)}", "text": "Change",
            "visuallyHiddenText": label,
        }]}
    return row


def summary(referral: Any, base: str = "") -> list[tuple[str, list[dict[str, Any]]]]:
    """Sections of the check-your-answers page, as NHS.UK summary list rows; `base` is the
    path the app is served under."""
    from chalicelib.filters import long_date, nhs_number, pounds

    def row(label: str, value: str | None, slug: str, field: str, **options: bool
            ) -> dict[str, Any]:
        return _row(label, value, base, slug, field, **options)

    r = referral
    manager = r.approving_manager
    sections = [
        ("Your details", [
            row("Name", r.referrer.name, "referrer", "referrer.name"),
            row("Role", r.referrer.role, "referrer", "referrer.role"),
            row("Team", r.referrer.team, "referrer", "referrer.team"),
            row("Organisation", r.referrer.organisation, "referrer", "referrer.organisation"),
            row("Work email", r.referrer.email, "referrer", "referrer.email"),
            row("Work phone", r.referrer.phone, "referrer", "referrer.phone"),
            row("Approving manager", f"{manager.name}, {manager.email}" if manager else None,
                 "referrer", "approving_manager.name"),
        ]),
        ("About the person", [
            row("Name", f"{r.person.first_name} {r.person.last_name}", "person",
                 "person.first_name"),
            row("Date of birth", long_date(r.person.date_of_birth), "person",
                 "person.date_of_birth"),
            row("NHS number", nhs_number(r.person.nhs_number), "person", "person.nhs_number"),
            row("Postcode", r.person.postcode, "person", "person.postcode"),
            row("Borough", LABELS[r.person.borough], "person", "person.borough"),
            row("Email", r.person.email, "person", "person.email"),
            row("Phone", r.person.phone, "person", "person.phone"),
            row("Ethnic group", ETHNICITY_LABELS[r.person.ethnicity], "person",
                 "person.ethnicity"),
            row("Section 117 aftercare", "Yes" if r.person.section_117_aftercare else "No",
                 "person", "person.section_117_aftercare"),
        ]),
        ("Recovery goals", [
            row(f"Goal {i + 1}: {LABELS[g.area]}, by {long_date(g.target_date)}", g.goal,
                 "goals", f"goals.{i}.goal", multiline=True)
            for i, g in enumerate(r.goals)
        ]),
        ("How the PHB helps", [
            row("How the PHB helps", r.how_phb_helps, "support", "how_phb_helps",
                 multiline=True),
            row("Other options considered", r.alternatives_considered, "support",
                 "alternatives_considered", multiline=True),
        ]),
        ("Items requested", [
            *[
                row(f"{item.description} ({LABELS[item.category]}, from {item.supplier})",
                     pounds(item.cost_pence) if item.recurrence == "one_off" else
                     f"{pounds(item.cost_pence)} a month for {item.months} month"
                     f"{'s' if item.months != 1 else ''} ({pounds(item.total_pence)})",
                     "items", f"items.{i}.description")
                for i, item in enumerate(r.items)
            ],
            row("Total", pounds(r.total_pence), "items", "items", change=False),
        ]),
        ("ReQoL-10 and budget", [
            row("ReQoL-10 scores",
                 f"{', '.join(map(str, r.reqol10_baseline.items))} (total "
                 f"{r.reqol10_baseline.total} out of 40); physical health "
                 f"{r.reqol10_baseline.physical_health}",
                 "outcomes", "reqol10_baseline.items.0"),
            row("How the budget is managed", LABELS[r.budget_management], "budget",
                 "budget_management"),
            row("Consent", "The person has agreed", "consent", "person.consent"),
        ]),
    ]
    return sections
