"""What a referrer's page says of each referral: whose it is (the person's initials), where it
is in words, what waits on the referrer, and its history in plain English.

Whom a referral waits on is the staff case page's answer (`chalicelib/staff/case.py`
`waiting_for`, over `workflow/notices.py` `recipients`), so this page and the advisors' never
disagree; a step waits on this referrer when they are among its recipients.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.domain import codes, pathway
from chalicelib.domain.dates import parse_iso
from chalicelib.domain.identity import find_address, same_address
from chalicelib.domain.records import Event, StoredReferral

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.config import Settings
    from chalicelib.domain.referral import Referral

# A step waiting on the referrer, as "Waiting for ..." ends.
YOURS = {
    "referrer": "your sign-off",
    "information": "your answer to a question",
    "agreement": "you to show the person the direct payment agreement to accept",
    "review": "your 6-week review",
    "closure": "you to close the PHB",
}
# The button that opens the step's page.
BUTTONS = {
    "referrer": "Sign off the request",
    "information": "Answer the question",
    "agreement": "Open the agreement for the person",
    "review": "Record the 6-week review",
    "closure": "Close the PHB",
}


@dataclass(frozen=True)
class Card:
    """One referral as the referrer's pages show it."""

    reference: str
    initials: str
    total_pence: int
    where: str  # "Waiting for the approving manager since 28 Nov"
    step: str | None  # the step waiting on this referrer, if one is
    button: str  # the words of the button that opens it
    question: str  # the question asked, when the step is an answer to one
    can_withdraw: bool


def initials(referral: Referral | None) -> str:
    """The person's initials (`S K`): enough for a referrer to know whose it is, no more."""
    if referral is None:
        return "–"
    person = referral.person
    return " ".join(name.strip()[:1].upper() for name in (person.first_name, person.last_name)
                    if name.strip())


def day(stamp: str, today: date | None = None) -> str:
    """`2026-11-28T…` -> `28 Nov` this year, `28 Nov 2025` another."""
    moment = parse_iso(stamp)
    today = today or datetime.now(UTC).date()
    return f"{moment.day} {moment:%b}" + ("" if moment.year == today.year else f" {moment:%Y}")


def waiting_since(stored: StoredReferral, settings: Settings) -> str:
    """When the step waiting now began: its first reminder is due a reminder period after
    (kept as it was through the reminders); else the referral's last change."""
    if stored.due_at:
        begun = parse_iso(stored.due_at) - timedelta(seconds=settings.reminder_after_seconds)
        return begun.isoformat()
    return stored.updated_at


def card(svc: Services, stored: StoredReferral, me: str) -> Card:
    """The referral as the referrer `me` sees it."""
    from chalicelib.domain.referral import load_stored
    from chalicelib.staff.case import waiting_for
    from chalicelib.workflow.recovery import WHO

    referral = load_stored(stored.answers) if stored.answers else None
    step, waits_for = waiting_for(svc, stored)
    mine = step if step and find_address(me, waits_for) else None
    if step:
        whom = YOURS.get(step, "you") if mine else WHO.get(step, "the PHB team")
        where = f"Waiting for {whom} since {day(waiting_since(stored, svc.settings))}"
    elif stored.status in pathway.FINAL:
        where = f"{codes.STATUSES[stored.status]} on {day(stored.updated_at)}"
    else:
        where = f"{codes.STATUSES.get(stored.status, stored.status)} (since " \
                f"{day(stored.updated_at)})"
    question = str(stored.recorded.get("question", {}).get("question", "")) \
        if mine == "information" else ""
    return Card(reference=stored.reference, initials=initials(referral),
                total_pence=stored.total_pence, where=where, step=mine,
                button=BUTTONS.get(mine or "", "Act on it now"), question=question,
                can_withdraw=stored.status not in pathway.FINAL and bool(stored.answers))


# --- the history, in plain English --------------------------------------------------------


def _who(actor: str, referral: Referral, settings: Settings) -> str:
    """Who did something, as the referrer reads it: never another person's address."""
    if same_address(actor, referral.referrer.email):
        return "you"
    if referral.approving_manager and same_address(actor, referral.approving_manager.email):
        return "the approving manager"
    if find_address(actor, settings.panel_emails):
        return "the PHB Oversight Panel"
    if actor == "budget holder":
        return "the person"
    if "@" in actor:  # an advisor's, or another address the service acted for
        return "a PHB advisor"
    return ""


def _by(who: str) -> str:
    return f" by {who}" if who else ""


def _sentence(event: Event, who: str) -> str | None:
    """An event in words, or None for one the referrer is not shown (notes, views, emails)."""
    from chalicelib.workflow.recovery import WHO

    detail: dict[str, Any] = event.detail
    step = str(detail.get("step", ""))
    role = WHO.get(step, "the approver")
    words: dict[str, str] = {
        "submitted": f"Referral made{_by(who)}",
        "intake_recorded": "Checked, and sent for sign-off",
        "approved": "Signed off by you" if step == "referrer" else f"Signed off by {role}",
        "rejected": f"Not approved by {role}" + (f": {detail['reason']}"
                                                 if detail.get("reason") else ""),
        "information_requested": f"{role[:1].upper()}{role[1:]} asked: "
                                 f"{detail.get('question', '')}",
        "information_given": f"Question answered{_by(who)}",
        "agreement_accepted": "The person accepted the direct payment agreement",
        "funds_released": "The money was released",
        "money_released": "More of the money was released",
        "reviewed": f"6-week review recorded{_by(who)}",
        "closed": f"PHB closed{_by(who)}",
        "withdrawn": "The person declined the agreement: withdrawn" if who == "the person"
        else f"Withdrawn{_by(who)}",
        "expired": f"Expired: no answer in time from {role}",
        "needs_attention": "Paused while the PHB team sorts out a problem",
        "resumed": "Resumed by the PHB team",
        "amended": f"Items changed{_by(who)}",
        "address_corrected": f"{detail.get('whose', 'Someone')}'s email address corrected",
        "email_resent": f"The request to {role} sent again{_by(who)}",
        "reminder_sent": f"Reminder sent to {role}",
        "escalated": f"The PHB team asked to help: no answer from {role}",
        "unspent_settled": "Unspent money settled by the PHB team",
    }
    return words.get(event.what)


def timeline(events: list[Event], referral: Referral | None,
             settings: Settings) -> list[tuple[str, str]]:
    """(when, what happened) for each event the referrer is shown, oldest first."""
    if referral is None:
        return []
    shown = []
    for event in events:
        sentence = _sentence(event, _who(event.who, referral, settings))
        if sentence:
            shown.append((event.at, sentence))
    return shown
