"""Every validation rule of the referral contract, one case each: the change to a valid
referral, the field the error names and words its message must have. Used by the validator's
unit tests and by the API's use-case tests (nothing is stored for any of them)."""

from __future__ import annotations

from datetime import date, timedelta

TODAY = date.today()
CASES = [
    # (change path, value, field named in the error, words in the message)
    ("person.nhs_number", "9434765918", "person.nhs_number", "not a valid NHS number"),
    ("person.nhs_number", "94347659", "person.nhs_number", "10 digits"),
    ("person.nhs_number", "943476591X", "person.nhs_number", "10 digits"),
    ("person.postcode", "E8", "person.postcode", "full UK postcode"),
    ("person.date_of_birth", (TODAY - timedelta(days=17 * 365)).isoformat(),
     "person.date_of_birth", "under 18"),
    ("person.date_of_birth", (TODAY + timedelta(days=1)).isoformat(),
     "person.date_of_birth", "in the past"),
    ("person.date_of_birth", "1985-02-30", "person.date_of_birth", "real date"),
    ("goals.0.target_date", (TODAY - timedelta(days=1)).isoformat(),
     "goals.0.target_date", "today or in the future"),
    ("goals.0.target_date", (TODAY + timedelta(days=200)).isoformat(),
     "goals.0.target_date", "within 6 months"),
    ("referrer.email", "sam@gmail.com", "referrer.email", "nhs.net or nhs.uk"),
    ("referrer.email", "sam@evilnhs.net", "referrer.email", "nhs.net or nhs.uk"),
    ("referrer.email", "not an email", "referrer.email", "correct format"),
    ("referrer.phone", "12", "referrer.phone", "UK phone number"),
    ("referrer.name", "   ", "referrer.name", "Enter your full name"),
    ("referrer.name", "", "referrer.name", "Enter your full name"),
    ("referrer.name", "x" * 101, "referrer.name", "100 characters or fewer"),
    ("how_phb_helps", "x" * 2001, "how_phb_helps", "2000 characters or fewer"),
    ("referrer.team", "Line one\nline two", "referrer.team", "single line"),
    ("how_phb_helps", "bad \x00 byte", "how_phb_helps", "control characters"),
    # Characters nobody can see (chalicelib/domain/text.py), names with no letter, and
    # addresses SES cannot send to.
    ("person.first_name", "\u200b", "person.first_name", "invisible or control characters"),
    ("items.0.description", "Gym \u202epihsrebmem", "items.0.description",
     "invisible or control characters"),
    ("goals.0.goal", "\ufeffSwim weekly", "goals.0.goal", "invisible or control characters"),
    ("referrer.role", "Care\tcoordinator", "referrer.role", "invisible or control characters"),
    ("person.last_name", "---", "person.last_name", "at least one letter"),
    ("referrer.name", "123", "referrer.name", "at least one letter"),
    ("person.email", "ñoño@exämple.com", "person.email", "accented or non-English letters"),
    ("alternatives_considered", ..., "alternatives_considered", "Enter"),
    ("person.borough", "hackney", "person.borough", "Select"),
    ("person.ethnicity", "Q", "person.ethnicity", "Select"),
    ("person.consent", False, "person.consent", "agreed"),
    ("person.consent", "true", "person.consent", "true or false"),
    ("person.section_117_aftercare", "no", "person.section_117_aftercare", "true or false"),
    ("goals", [], "goals", "at least one recovery goal"),
    ("items", [], "items", "at least one item"),
    ("items.0.cost_pence", 0, "items.0.cost_pence", "more than"),
    ("items.0.cost_pence", "1200", "items.0.cost_pence", "whole number"),
    ("items.0.cost_pence", 12.5, "items.0.cost_pence", "whole number"),
    ("items.0.category", "food", "items.0.category", "Select"),
    ("items.0.months", 3, "items.0.months", "only for monthly"),
    ("items.0.recurrence", "monthly", "items.0.months", "needed for a monthly item"),
    # Digits other than 0-9 (Arabic-Indic, full-width) that Python's \d would accept.
    ("person.nhs_number", "\u0669\u0664\u0663\u0664\u0667\u0666\u0665\u0669\u0661\u0669",
     "person.nhs_number", "10 digits"),
    ("person.postcode", "E\uff18 1DY", "person.postcode", "full UK postcode"),
    ("referrer.phone", "\uff10\uff12\uff10 7946 0000", "referrer.phone", "UK phone number"),
    # Dates are YYYY-MM-DD only: not a date-time, not a number of seconds.
    ("person.date_of_birth", "1985-02-03T00:00:00", "person.date_of_birth", "YYYY-MM-DD"),
    ("person.date_of_birth", 0, "person.date_of_birth", "YYYY-MM-DD"),
    ("goals.0.target_date", "2027-01-01T00:00", "goals.0.target_date", "YYYY-MM-DD"),
    ("budget_management", "cash", "budget_management", "Select"),
    ("reqol10_baseline.items", [2] * 9, "reqol10_baseline.items", "each of the 10"),
    ("reqol10_baseline.items.3", 5, "reqol10_baseline.items.3", "4 or less"),
    ("reqol10_baseline.physical_health", -1, "reqol10_baseline.physical_health", "more than"),
    ("person.favourite_colour", "blue", "person.favourite_colour", "not part of a referral"),
    ("surprise", 1, "surprise", "not part of a referral"),
    # Field names that are digits to str.isdigit() but not to int() (found by schemathesis).
    ("\u00b2", 1, "\u00b2", "not part of a referral"),
    ("person.\u0661", 1, "person.\u0661", "not part of a referral"),
]

IDS = [f"{c[0]}={str(c[1])[:20]!r}" for c in CASES]
