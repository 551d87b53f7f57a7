"""Who each step's emails go to, what they say, and the one-time links they carry.

Every email holds only the reference, what is being asked and a link: the details are behind
the link. Each email is recorded once per (kind, step, notice, recipient), so a retried task
never sends it twice; `notice` is the time the state machine entered the state that sends it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from chalicelib import aws, links, mail
from chalicelib.config import Settings
from chalicelib.pathway import SIGN_OFF_STEPS
from chalicelib.referral import Referral
from chalicelib.store import ReferralStore, StoredReferral

# The link each step's emails carry, by the action it allows.
ACTION_FOR_STEP = {
    **{step: "sign-off" for step in SIGN_OFF_STEPS},
    "information": "answer",
    "agreement": "agreement",
    "release": "release",
    "review": "review",
    "closure": "closure",
}
WITHDRAW_LINK_DAYS = 366
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wording:
    subject: str
    heading: str
    lines: tuple[str, ...]
    link_text: str | None = None


WORDING: dict[str, Wording] = {
    "sign_off_request": Wording(
        "PHB referral {reference}: please sign off",
        "A PHB request needs {role}",
        ("Follow the link to see what is requested, the goals it serves, the costs and any "
         "flags, then approve it, reject it with a reason, or ask the referrer a question.",),
        "Review PHB request {reference}",
    ),
    "sign_off_answered": Wording(
        "PHB referral {reference}: the referrer has answered",
        "The referrer has answered your question",
        ("Follow the link to read the answer and decide on the request.",),
        "Review PHB request {reference}",
    ),
    "information_request": Wording(
        "PHB referral {reference}: a question for you",
        "The person signing off your PHB request has a question",
        ("Follow the link to read the question and answer it. The request goes back to them "
         "when you do.",),
        "Answer the question about {reference}",
    ),
    "agreement_request": Wording(
        "PHB {reference}: your direct payment agreement",
        "Your personal health budget has been approved",
        ("Before any money is released, please read and accept the direct payment agreement. "
         "It says what the money is for and how it must be used.",),
        "Read the agreement for {reference}",
    ),
    "agreement_request_via_referrer": Wording(
        "PHB {reference}: direct payment agreement to share",
        "The PHB request has been approved",
        ("The person has no email address on the referral, so please share this agreement with "
         "them. They read it and accept it by typing their full name. Money is released only "
         "after they accept.",),
        "Open the agreement for {reference}",
    ),
    "release_request": Wording(
        "PHB {reference}: agreement accepted, release the money",
        "A PHB agreement has been accepted",
        ("Follow the link to record that the money was released and how the budget is managed.",),
        "Record the release for {reference}",
    ),
    "review_request": Wording(
        "PHB {reference}: 6-week review",
        "It is time for the 6-week review",
        ("Follow the link to record whether the item or service was bought, progress on each "
         "goal, the ReQoL-10 scores and whether receipts are held.",),
        "Complete the review for {reference}",
    ),
    "closure_request": Wording(
        "PHB {reference}: time to close",
        "The goal date has been reached",
        ("Follow the link to record whether the goal was achieved, the final ReQoL-10 scores "
         "and any money left unspent.",),
        "Close PHB {reference}",
    ),
    "reminder": Wording(
        "Reminder: PHB {reference} is waiting for {step_label}",
        "PHB {reference} is still waiting",
        ("It is waiting for {step_label}. Follow the link to act on it.",),
        "Open PHB {reference}",
    ),
    "escalation": Wording(
        "Escalated: PHB {reference} is waiting for {step_label}",
        "A PHB referral has had no answer",
        ("Referral {reference} is waiting for {step_label} and has had {reminders} reminders "
         "with no answer. Please follow it up. If nobody answers, it will expire after the next "
         "reminder period.",),
    ),
    "escalation_open": Wording(
        "Escalated: PHB {reference} is waiting for {step_label}",
        "A PHB referral has had no answer",
        ("Referral {reference} is waiting for {step_label} and has had {reminders} reminders "
         "with no answer. Please follow it up. It stays open: a reminder goes out every "
         "{period} until it is done, and it is listed as overdue in the staff console.",),
    ),
    "rejected": Wording(
        "PHB referral {reference} was not approved",
        "The PHB request was not approved",
        ("{role_cap} did not approve the request. Follow the link to read their reason.",
         "You can talk to the PHB team about it, or make a new referral that addresses the "
         "reason."),
        "Read the reason for {reference}",
    ),
    "expired": Wording(
        "PHB referral {reference} has expired",
        "The PHB referral has expired",
        ("It was waiting for {step_label}, and nobody answered in time despite reminders.",
         "If the person still needs a PHB, contact the PHB team or make a new referral."),
    ),
    "withdrawn": Wording(
        "PHB referral {reference} has been withdrawn",
        "The PHB referral has been withdrawn",
        ("Nothing more will happen with this referral and no money will be released from now on.",
         "If this is a mistake, contact the PHB team."),
    ),
    "closed": Wording(
        "PHB {reference} is closed",
        "The PHB is closed",
        ("Thank you for completing the closure. The outcome has been recorded.",),
    ),
    "needs_attention": Wording(
        "PHB referral {reference} needs attention",
        "A PHB referral needs attention",
        ("A step of referral {reference} failed after retrying. It has been marked as needing "
         "attention; please check it.",),
    ),
}

ROLES = {
    "referrer": "your sign-off",
    "manager": "sign-off by an approving manager",
    "panel": "sign-off by the PHB Oversight Panel",
    "advisor": "a decision by a PHB advisor",
}
DECIDERS = {
    "referrer": "the referrer",
    "manager": "the approving manager",
    "panel": "the PHB Oversight Panel",
    "advisor": "a PHB advisor",
}


def recipients(step: str, referral: Referral, settings: Settings) -> list[str]:
    """The addresses a step waits for (each gets a link of their own)."""
    if step == "referrer" or step in ("information", "review", "closure"):
        return [referral.referrer.email]
    if step == "manager":
        return [referral.approving_manager.email] if referral.approving_manager else []
    if step == "panel":
        return list(settings.panel_emails)
    if step in ("advisor", "release"):
        return list(settings.advisor_emails)
    if step == "agreement":
        return [referral.person.email or referral.referrer.email]
    raise ValueError(step)


class Notifier:
    """Sends a referral's emails; links are issued here, one per recipient."""

    def __init__(self, store: ReferralStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def link_url(self, action: str, link_id: str) -> str:
        return f"{self.settings.public_base_url}/act/{action}/{link_id}"

    def send(
        self,
        kind: str,
        stored: StoredReferral,
        to: list[str],
        notice: str,
        step: str | None = None,
        link_action: str | None = None,
        link_step: str | None = None,
        link_days: int | None = None,
        **context: Any,
    ) -> list[str]:
        """Email each address once for this notice; returns the addresses emailed now."""
        wording = WORDING[kind]
        values = {
            "reference": stored.reference,
            "role": ROLES.get(step or "", ""),
            "role_cap": DECIDERS.get(step or "", "The approver").capitalize(),
            "step_label": _step_label(step),
            **context,
        }
        sent = []
        for address in to:
            key = f"{kind}:{step or '-'}:{notice}:{address}"
            if self.store.email_already_sent(stored.reference, key):
                continue
            link = None
            if link_action:
                link_id = links.issue(
                    self.store, stored.reference, link_step or step or "", link_action, address,
                    link_days or self.settings.link_valid_days)
                link = self.link_url(link_action, link_id)
            email = mail.compose(
                "notice", to=address, settings=self.settings,
                subject=wording.subject.format(**values),
                heading=wording.heading.format(**values),
                lines=[line.format(**values) for line in wording.lines],
                link_text=(wording.link_text.format(**values)
                           if wording.link_text and link else None),
                link_url=link,
                reference=stored.reference,
            )
            message_id = mail.send(aws.client("ses"), self.settings, email)
            self.store.record_email(stored.reference, key, address, email.subject, message_id)
            sent.append(address)
        return sent


def alert_advisors(store: ReferralStore, reference: str, settings: Settings) -> None:
    """Tell the advisors a referral needs attention. If even that fails, record it: the
    staff worklist shows the referral as needing attention all the same."""
    stored = store.get(reference)
    try:
        Notifier(store, settings).send("needs_attention", stored, list(settings.advisor_emails),
                                       notice=stored.updated_at)
    except Exception as exc:
        log.exception("could not email the advisors about %s", reference)
        store.add_event(reference, "advisor_alert_failed", "system",
                        {"error": type(exc).__name__})


def _step_label(step: str | None) -> str:
    from chalicelib.pathway import STEP_LABELS

    return STEP_LABELS.get(step or "", "an action")
