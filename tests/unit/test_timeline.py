"""The case page's timeline: a referral's history in plain English, with no internal keys."""

from __future__ import annotations

import re

from chalicelib.config import Settings
from chalicelib.domain.identity import StaffMember
from chalicelib.domain.records import Event
from chalicelib.domain.referral import Referral, load_stored
from chalicelib.staff.timeline import timeline
from tests.factories import make_referral

SETTINGS = Settings(stage="test")


def referral() -> Referral:
    import json

    return load_stored(json.dumps(make_referral(total_pence=30000)))


def event(what: str, who: str = "system", at: str = "2026-12-01T07:42:00.079957+00:00",
          **detail: object) -> Event:
    return Event(what=what, who=who, at=at, detail=dict(detail))


HISTORY = [
    event("submitted", "sam.okafor@nhs.net"),
    event("intake_recorded", tier="manager", total_pence=8499, approvers=["manager", "advisor"],
          flags=[{"code": "household_items", "item": 0,
                  "reason": "Household items are not normally funded"}],
          why="£84.99: the approving manager signs off"),
    event("email_sent:acknowledgement", to="sam.okafor@nhs.net"),
    event("email_sent:sign_off_request:manager:2026-12-01T07:42:00.079957+00:00:"
          "jo.patel@nhs.net", to="jo.patel@nhs.net"),
    event("viewed", "amara.nwosu@example.org", page="case"),
    event("approved", "Jo.Patel@NHS.net", step="manager", approved_pence=8499),
    event("viewed", "amara.nwosu@example.org", at="2026-12-02T09:05:00+00:00", page="case"),
    # Recorded as the address was typed: named by the staff list however either is typed.
    event("funds_released", "Amara.Nwosu@Example.org", amount_pence=8499, on="2026-12-01",
          how="prepaid_card", reference="CARD-1", management="direct_payment"),
    event("reviewed", "sam.okafor@nhs.net", bought="partly", receipts="no",
          reqol10_items=[2] * 10, unspent_pence=1500, notes=""),
    event("something_new", "phb-advisors@example.org", amount_pence=120,
          nested={"a": 1}, codes=[{"x": 1}]),
]


def test_each_event_reads_as_a_sentence_naming_people_by_name_and_role() -> None:
    lines = timeline(HISTORY, referral(), SETTINGS).lines
    texts = [line.text for line in lines]
    assert texts[:7] == [
        "Referral submitted by Sam Okafor, referrer",
        "Checked at intake",
        "Acknowledgement emailed to Sam Okafor, referrer",
        "Sign-off request emailed to Jo Patel, approving manager",
        "Approved by Jo Patel, approving manager",
        "£84.99 released by Amara Nwosu, PHB advisor",
        "6-week review recorded by Sam Okafor, referrer",
    ]
    assert lines[0].at == "1 Dec 2026, 07:42"
    assert "Flagged for a PHB advisor: Household items are not normally funded" in \
        lines[1].details
    assert lines[4].details == ["Approved: £84.99"]
    assert lines[6].details == ["Bought: partly", "Receipts: no", "ReQoL-10: 20 out of 40",
                                "Unspent: £15.00"]


def test_no_internal_key_or_raw_data_is_shown() -> None:
    shown = timeline(HISTORY, referral(), SETTINGS)
    words = " ".join([line.text for line in shown.lines]
                     + [d for line in shown.lines for d in line.details])
    for internal in ("email_sent", "_pence", "pence", "household_items", "{", "[", "'",
                     "2026-12-01T", "sign_off_request"):
        assert internal not in words, internal
    assert "Something new (phb-advisors@example.org (PHB advisors))" in words
    assert "Amount: £1.20" in words


def test_page_views_fold_into_one_viewed_by_line_per_person() -> None:
    shown = timeline(HISTORY, referral(), SETTINGS)
    assert not any("iewed" in line.text for line in shown.lines)
    assert shown.viewed == ["Amara Nwosu, PHB advisor (2 times, last 2 Dec 2026, 09:05)"]
    assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d", shown.lines[-1].at)


def test_staff_are_named_by_the_staff_list_and_leavers_by_address_as_staff() -> None:
    settings = Settings(stage="test", staff_emails=(
        StaffMember("jo.adeyemi@example.org", "Jo Adeyemi"),
        StaffMember("bare@example.org")))
    history = [
        event("viewed", "left@example.org", page="case"),  # someone no longer on the list
        event("assigned", "jo.adeyemi@example.org", to="gone@example.org"),
        event("approved", "JO.ADEYEMI@example.org", step="advisor"),
        event("funds_released", "left@example.org", amount_pence=1000),
        event("rejected", "left@example.org", step="advisor", reason="No"),
        event("note_added", "bare@example.org", note="Called"),
        event("money_released", "phb-advisors@example.org", amount_pence=500),
        # An address the history does not show was staff's is not called staff.
        event("amended", "old.address@nhs.net", reason="Cheaper supplier"),
    ]
    texts = [line.text for line in timeline(history, referral(), settings).lines]
    assert texts == [
        "Assigned to gone@example.org (staff) by Jo Adeyemi, PHB advisor",
        "Approved by Jo Adeyemi, PHB advisor",
        "£10.00 released by left@example.org (staff)",
        "Not approved by left@example.org (staff)",
        "Note added by bare@example.org (PHB advisor)",
        "£5.00 released by phb-advisors@example.org (PHB advisors)",
        "Items changed by old.address@nhs.net",
    ]
    assert timeline(history, referral(), settings).viewed[0].startswith(
        "left@example.org (staff) (1 time")
