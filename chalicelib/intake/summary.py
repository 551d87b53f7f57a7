"""The "check your answers" page: the referral as NHS.UK summary list rows, each with a link
to change it on its own page."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from chalicelib.domain import codes
from chalicelib.domain.dates import long_date
from chalicelib.domain.identifiers import format_nhs_number
from chalicelib.domain.money import format_pence
from chalicelib.domain.referral import Referral
from chalicelib.intake.form import anchor


def _row(label: str, value: str | None, base: str, slug: str, field: str,
         multiline: bool = False, change: bool = True) -> dict[str, Any]:
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


def summary(referral: Referral, base: str = "") -> list[tuple[str, list[dict[str, Any]]]]:
    """Sections of the check-your-answers page, as NHS.UK summary list rows; `base` is the
    path the app is served under."""
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
            row("NHS number", format_nhs_number(r.person.nhs_number), "person",
                "person.nhs_number"),
            row("Postcode", r.person.postcode, "person", "person.postcode"),
            row("Borough", codes.LABELS[r.person.borough], "person", "person.borough"),
            row("Email", r.person.email, "person", "person.email"),
            row("Phone", r.person.phone, "person", "person.phone"),
            row("Ethnic group", codes.ETHNICITIES[r.person.ethnicity], "person",
                 "person.ethnicity"),
            row("Section 117 aftercare", "Yes" if r.person.section_117_aftercare else "No",
                 "person", "person.section_117_aftercare"),
        ]),
        ("Recovery goals", [
            row(f"Goal {i + 1}: {codes.LABELS[g.area]}, by {long_date(g.target_date)}", g.goal,
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
                row(f"{item.description} ({codes.LABELS[item.category]}, from {item.supplier})",
                     format_pence(item.cost_pence) if item.recurrence == "one_off" else
                     f"{format_pence(item.cost_pence)} a month for {item.months} month"
                     f"{'s' if item.months != 1 else ''} ({format_pence(item.total_pence)})",
                     "items", f"items.{i}.description")
                for i, item in enumerate(r.items)
            ],
            row("Total", format_pence(r.total_pence), "items", "items", change=False),
        ]),
        ("ReQoL-10 and budget", [
            row("ReQoL-10 scores",
                 f"{', '.join(map(str, r.reqol10_baseline.items))} (total "
                 f"{r.reqol10_baseline.total} out of 40); physical health "
                 f"{r.reqol10_baseline.physical_health}",
                 "outcomes", "reqol10_baseline.items.0"),
            row("How the budget is managed", codes.LABELS[r.budget_management], "budget",
                 "budget_management"),
            row("Consent", "The person has agreed", "consent", "person.consent"),
        ]),
    ]
    return sections
