"""A referral's history as an advisor reads it: one plain-English line per event ("Sign-off
request emailed to Priya Shah, approving manager"; "Approved by Sam Okafor, referrer"), money
in pounds, people by name and role, dates like `1 Dec 2026, 07:42`, and page views folded into
one "viewed by" line. Internal keys (an email record's key, a flag's code, a field's name) are
never shown: each kind of event says what it means, and an unknown one says what happened in
words made from its name, with only its plain values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib.domain import codes
from chalicelib.domain.dates import date_time
from chalicelib.domain.identity import same_address
from chalicelib.domain.money import format_pence

if TYPE_CHECKING:
    from chalicelib.config import Settings
    from chalicelib.domain.records import Event
    from chalicelib.domain.referral import Referral

# What each kind of email is, as the timeline names it.
EMAILS = {
    "acknowledgement": "Acknowledgement",
    "sign_off_request": "Sign-off request",
    "sign_off_answered": "Answer to the sign-off question",
    "information_request": "Question for the referrer",
    "agreement_request": "Direct payment agreement",
    "agreement_request_via_referrer": "Direct payment agreement (through the referrer)",
    "release_request": "Request to release the money",
    "review_request": "6-week review request",
    "closure_request": "Closure request",
    "reminder": "Reminder",
    "escalation": "Escalation to the PHB advisors",
    "escalation_open": "Escalation to the PHB advisors",
    "rejected": "Not-approved notice",
    "expired": "Expiry notice",
    "withdrawn": "Withdrawal notice",
    "closed": "Closure notice",
    "agreement_copy": "Copy of the accepted agreement",
    "amendment_refused": "Amendment notice",
    "release_due": "Monthly release reminder",
    "undelivered": "Undelivered-email alert",
    "needs_attention": "Needs-attention alert",
}
ROLES = {"referrer": "referrer", "manager": "approving manager",
         "panel": "PHB Oversight Panel", "advisor": "PHB advisor"}


@dataclass(frozen=True)
class Line:
    """One event as the timeline shows it."""

    at: str
    text: str
    details: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Timeline:
    lines: list[Line]
    viewed: list[str]  # "Amara Nwosu, PHB advisor (3 times, last 1 Dec 2026, 07:42)"


# What only the staff console records: whoever these name is, or was, on the staff list.
STAFF_ONLY = ("viewed", "note_added", "assigned", "subject_access_export")


class People:
    """Names the addresses a referral's history holds by who they are to it: its referrer,
    manager and person, the staff list's people by name ("Amara Nwosu, PHB advisor"), the
    panel's and the advisors' (shared) addresses; an address the history shows was staff's but
    is not on the staff list now (someone who left) as the address with "(staff)"."""

    def __init__(self, referral: Referral | None, settings: Settings,
                 events: list[Event] | None = None) -> None:
        self.known: list[tuple[str, str]] = []
        if referral is not None:
            self.known.append((referral.referrer.email, f"{referral.referrer.name}, referrer"))
            manager = referral.approving_manager
            if manager is not None:
                self.known.append((manager.email, f"{manager.name}, approving manager"))
            if referral.person.email:
                self.known.append((referral.person.email, "the person"))
        self.known += [(m.email, f"{m.name}, {ROLES['advisor']}" if m.name
                        else f"{m.email} ({ROLES['advisor']})") for m in settings.staff]
        self.known += [(a, f"{a} (PHB Oversight Panel)") for a in settings.panel_emails]
        self.known += [(a, f"{a} (PHB advisors)") for a in settings.advisor_emails]
        for event in events or ():
            if event.what in STAFF_ONLY:
                assignee = str(event.detail.get("to", "")) if event.what == "assigned" else ""
                for address in (event.who, assignee):
                    if "@" in address:
                        self.known.append((address, f"{address} (staff)"))

    def name(self, who: str) -> str:
        if who in ("system", ""):
            return "PHB Pathway"
        if who == "budget holder":
            return "the person"
        for address, named in self.known:
            if same_address(address, who):
                return named
        return who


def timeline(events: list[Event], referral: Referral | None, settings: Settings) -> Timeline:
    """The history, oldest first, in words; the page views folded per viewer."""
    people = People(referral, settings, events)
    lines: list[Line] = []
    views: dict[str, tuple[int, str]] = {}
    for event in events:
        if event.what == "viewed":
            count, _ = views.get(event.who, (0, ""))
            views[event.who] = (count + 1, event.at)
            continue
        text, details = describe(event, people)
        lines.append(Line(date_time(event.at), text, details))
    viewed = [f"{people.name(who)} ({count} time{'s' if count != 1 else ''}, "
              f"last {date_time(last)})" for who, (count, last) in views.items()]
    return Timeline(lines, viewed)


def describe(event: Event, people: People) -> tuple[str, list[str]]:
    """An event's line and its details, in words."""
    what, detail, who = event.what, dict(event.detail), people.name(event.who)
    if what.startswith("email_sent:"):
        kind, _, rest = what[len("email_sent:"):].partition(":")
        to = detail.get("to") or (rest.rsplit(":", 1)[-1] if "@" in rest else "")
        return f"{EMAILS.get(kind, _words(kind))} emailed to {people.name(to)}", []
    if what.startswith("email_") and what[6:] in codes.DELIVERY_STATUSES:
        kind = str(detail.get("email", ""))
        status = codes.DELIVERY_STATUSES[what[6:]]
        bounce = codes.BOUNCE_TYPES.get(str(detail.get("bounce_type", "")))
        return (f"{EMAILS.get(kind, 'An email')} to {people.name(str(detail.get('to', '')))}: "
                f"{status}{' (' + bounce + ')' if bounce else ''}"), []
    wording = WORDS.get(what)
    if wording is not None:
        return wording(who, detail, people)
    return f"{_words(what).capitalize()} ({who})", _plain(detail)


def _words(code: str) -> str:
    return code.replace("_", " ").strip()


def _pounds(detail: dict[str, Any], key: str) -> str:
    value = detail.get(key)
    return format_pence(value) if isinstance(value, int) else ""


def _plain(detail: dict[str, Any]) -> list[str]:
    """An unknown event's values in words: money in pounds, lists joined, no nested data."""
    shown = []
    for key, value in sorted(detail.items()):
        if isinstance(value, dict) or (isinstance(value, list)
                                       and not all(isinstance(v, str) for v in value)):
            continue
        if key.endswith("_pence") and isinstance(value, int):
            key, value = key[:-len("_pence")], format_pence(value)
        elif isinstance(value, list):
            value = ", ".join(value)
        if value not in ("", None):
            shown.append(f"{_words(key).capitalize()}: {value}")
    return shown


def _role(step: Any) -> str:
    return ROLES.get(str(step), "")


def _intake(who: str, detail: dict[str, Any], people: People) -> tuple[str, list[str]]:
    details = [str(detail["why"])] if detail.get("why") else []
    approvers = [ROLES.get(a, a) for a in detail.get("approvers", [])]
    if approvers:
        details.append("Signed off by: " + ", then ".join(approvers))
    details += [f"Flagged for a PHB advisor: {flag.get('reason') or flag.get('label', '')}"
                for flag in detail.get("flags", []) if isinstance(flag, dict)]
    return "Checked at intake", details


def _decided(verb: str) -> Callable[[str, dict[str, Any], People], tuple[str, list[str]]]:
    def say(who: str, detail: dict[str, Any], people: People) -> tuple[str, list[str]]:
        role = _role(detail.get("step"))
        # A name that already says who they are (in words or in brackets) gets no second role.
        by = who if not role or role in who or who.endswith(")") else f"{who} ({role})"
        details = []
        if _pounds(detail, "approved_pence"):
            details.append(f"Approved: {_pounds(detail, 'approved_pence')}")
        if detail.get("reason"):
            details.append(f"Reason: {detail['reason']}")
        return f"{verb} by {by}", details
    return say


def _released(who: str, detail: dict[str, Any], people: People) -> tuple[str, list[str]]:
    how = codes.RELEASE_METHODS.get(str(detail.get("how", "")), "")
    details = [part for part in (how, f"reference {detail['reference']}"
                                 if detail.get("reference") else "") if part]
    return f"{_pounds(detail, 'amount_pence')} released by {who}", ["; ".join(details)] \
        if details else []


def _reviewed(who: str, detail: dict[str, Any], people: People) -> tuple[str, list[str]]:
    items = detail.get("reqol10_items") or []
    details = [f"Bought: {detail.get('bought', '')}", f"Receipts: {detail.get('receipts', '')}"]
    if items:
        details.append(f"ReQoL-10: {sum(items)} out of 40")
    if _pounds(detail, "unspent_pence"):
        details.append(f"Unspent: {_pounds(detail, 'unspent_pence')}")
    if detail.get("notes"):
        details.append(f"Notes: {detail['notes']}")
    return f"6-week review recorded by {who}", details


def _said(text: str, *keys: str) -> Callable[[str, dict[str, Any], People],
                                             tuple[str, list[str]]]:
    """A line `text` (with `{who}`), and the details under `keys` as they were typed."""
    def say(who: str, detail: dict[str, Any], people: People) -> tuple[str, list[str]]:
        return text.format(who=who), [f"{_words(k).capitalize()}: {detail[k]}" for k in keys
                                      if detail.get(k)]
    return say


def _assigned(who: str, detail: dict[str, Any], people: People) -> tuple[str, list[str]]:
    return f"Assigned to {people.name(str(detail.get('to', '')))} by {who}", []


WORDS: dict[str, Callable[[str, dict[str, Any], People], tuple[str, list[str]]]] = {
    "assigned": _assigned,
    "submitted": _said("Referral submitted by {who}"),
    "intake_recorded": _intake,
    "approved": _decided("Approved"),
    "rejected": _decided("Not approved"),
    "information_requested": _said("{who} asked the referrer a question", "question"),
    "information_given": _said("The referrer answered the question", "answer"),
    "agreement_accepted": _said("Direct payment agreement accepted by {who}", "name", "version"),
    "funds_released": _released,
    "money_released": _released,
    "reviewed": _reviewed,
    "closed": _said("Closed by {who}", "notes"),
    "withdrawn": _said("Withdrawn by {who}", "reason"),
    "expired": _said("Expired: nobody answered in time"),
    "reminder_sent": _said("Reminder sent"),
    "escalated": _said("Escalated to the PHB advisors"),
    "needs_attention": _said("Stopped: needs attention from a PHB advisor", "reason"),
    "resumed": _said("Resumed by {who}"),
    "address_corrected": _said("Email address corrected by {who}", "before", "after"),
    "email_resent": _said("Email sent again by {who}"),
    "email_failed": _said("An email could not be sent"),
    "note_added": _said("Note added by {who}", "note"),
    "amended": _said("Items changed by {who}", "reason"),
    "unspent_settled": _said("Unspent money settled by {who}", "state"),
    "subject_access_export": _said("Personal data exported by {who}"),
    "acknowledgement_held_back": _said(
        "Acknowledgement not sent: its address had had its limit this hour"),
    "advisor_alert_failed": _said("The alert to the PHB advisors could not be sent"),
    "personal_data_removed": _said("Personal data removed under the retention policy"),
}
