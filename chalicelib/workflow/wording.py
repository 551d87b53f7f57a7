"""What each email says: its subject, heading, lines and link text, by kind. Every email holds
only the reference, what is being asked and a link; the details are behind the link."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.pathway import SIGN_OFF_STEPS


@dataclass(frozen=True)
class Wording:
    """An email's words; `{reference}`, `{role}`, `{step_label}` and the like are filled in."""

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
    "agreement_copy": Wording(
        "PHB {reference}: the agreement has been accepted",
        "The direct payment agreement has been accepted",
        ("The direct payment agreement for PHB {reference} has been accepted. Follow the link "
         "to read it again or print a copy to keep. The link is yours alone.",),
        "Read the accepted agreement for {reference}",
    ),
    "amendment_refused": Wording(
        "PHB {reference}: the change was not approved",
        "The change to the PHB was not approved",
        ("The change to the items of PHB {reference} was not signed off, so the PHB goes on as "
         "it was approved before.",
         "Follow the link to read why. You can talk to the PHB team about it."),
        "Read why for {reference}",
    ),
    "release_due": Wording(
        "PHB {reference}: a monthly release is due",
        "A monthly payment is due",
        ("A monthly payment of PHB {reference} was due on {due}. Record it in the staff console "
         "once it has been paid.",),
        "Open PHB {reference} in the staff console",
    ),
    "undelivered": Wording(
        "PHB {reference}: an email did not arrive",
        "An email about PHB {reference} did not arrive",
        ("The email to {recipient} {outcome}: {remedy}.",
         "It asked for {step_label}. Referral {reference} is still waiting for it, and nothing "
         "changes until the email is sent again."),
        "Open PHB {reference} in the staff console",
    ),
    "needs_attention": Wording(
        "PHB referral {reference} needs attention",
        "A PHB referral needs attention",
        ("Referral {reference} has stopped. {reason}",
         "Once the cause is fixed, resume it from its case page in the staff console: it goes "
         "on from where it stopped, and nothing already done is lost."),
        "Open {reference} in the staff console",
    ),
}

# How each approver is named in an email: "A PHB request needs {role}", "{decider} did not ...".
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

# The email that asks for a step, to send again.
REQUEST_KIND = {
    **{step: "sign_off_request" for step in SIGN_OFF_STEPS},
    "information": "information_request",
    "agreement": "agreement_request",
    "release": "release_request",
    "review": "review_request",
    "closure": "closure_request",
}

# What the acknowledgement says happens next, by tier.
NEXT_STEP = {
    "referrer": "The total is under the fast-track limit, so you can sign this request off "
    "yourself. We will email you a link to do that.",
    "manager": "Your approving manager will be emailed a link to sign this request off.",
    "panel": "Your approving manager will be emailed a link to sign this request off. "
    "Because the total is over the manager's limit, the PHB Oversight Panel signs it off next.",
}
ADVISOR_STEP = (
    " A PHB advisor will also check the request, because part of it may not be fundable "
    "by a PHB."
)

# Whom an email that did not arrive was for, by the step it asked about: "the email to
# {recipient} bounced". The person's own address is never named in an email (it identifies
# them); advisors read it on the case page.
UNDELIVERED_TO = {
    "referrer": "the referrer",
    "manager": "the approving manager",
    "panel": "a member of the PHB Oversight Panel",
    "advisor": "the PHB advisors",
    "release": "the PHB advisors",
    "information": "the referrer",
    "review": "the referrer",
    "closure": "the referrer",
    "agreement": "the person the PHB is for",
}
PERSON_ADDRESS = " (their address is on the case page)"
# What became of it, and what the advisors do about it.
UNDELIVERED_OUTCOMES = {
    "bounced": ("bounced", "correct the address and send it again"),
    "complained": ("was reported as spam by its recipient",
                   "check the address with them and send it again"),
    "rejected": ("was refused by the email service", "check the address and send it again"),
}
