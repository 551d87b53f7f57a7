"""What became of an email after it was sent: the statuses SES's delivery events give it, which
one may replace which, and which undelivered emails leave a step waiting on someone who never
got the email (the advisors are told, and the case page says so at the top).

SES delivers its events at least once and not always in order, so a status only replaces one
ranked below it: a second copy of an event, or a late "delivered" after a complaint, changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.domain.pathway import FINAL, Progress, outcome_if_done
from chalicelib.domain.records import EmailRecord

# Each status and its rank: a status replaces only statuses of a lower rank.
RANK = {"sent": 0, "delayed": 1, "delivered": 2, "bounced": 3, "complained": 3, "rejected": 3}
# The recipient never had the email (bounced, rejected) or reported it as spam (complained):
# whoever it asked to act may not act.
UNDELIVERED = ("bounced", "complained", "rejected")
# Recorded in the referral's history too; deliveries and delays only on the email's record
# (every email is delivered, and the history says what people and the pathway did).
IN_HISTORY = UNDELIVERED
BOUNCE_TYPES = ("permanent", "transient", "undetermined")

# The emails that ask someone to act on a step (each carries its link): if one does not arrive
# while its step still waits, the pathway waits on someone who does not know.
ACTION_KINDS = ("sign_off_request", "sign_off_answered", "information_request",
                "agreement_request", "agreement_request_via_referrer", "release_request",
                "review_request", "closure_request", "reminder")


def replaces(status: str) -> tuple[str, ...]:
    """The statuses `status` may replace on an email's record (none for an unknown one)."""
    rank = RANK.get(status)
    if rank is None:
        return ()
    return tuple(other for other, other_rank in RANK.items() if other_rank < rank)


def stops_the_step(status: str, bounce_type: str | None) -> bool:
    """Whether the recipient will not act on this email: a permanent bounce, a rejection or a
    complaint. A transient bounce is only recorded: SES retried for hours first, and the
    reminders that follow may yet arrive."""
    if status == "bounced":
        return bounce_type == "permanent"
    return status in ("complained", "rejected")


def step_still_waits(referral: Progress, step: str) -> bool:
    """Whether the referral still waits on `step` (nobody has acted on it, nor ended it)."""
    return referral.status not in FINAL and outcome_if_done(referral, step) is None


def asked_to_act(email: EmailRecord) -> str | None:
    """The step an email asked its recipient to act on, if it asked them to act."""
    return email.step if email.kind in ACTION_KINDS else None


def undelivered_requests(emails: Iterable[EmailRecord], referral: Progress) -> list[EmailRecord]:
    """The emails asking someone to act on a step the referral still waits on, which did not
    reach them, oldest first. One stops counting once an email for the same step went to
    another address after SES said it failed (an advisor corrected the address and sent it
    again); the others sent with it (each panel member's) do not count."""
    ordered = sorted(emails, key=lambda e: e.at)
    found = []
    for index, email in enumerate(ordered):
        step = asked_to_act(email)
        if (step is None or not stops_the_step(email.status, email.bounce_type)
                or not step_still_waits(referral, step)):
            continue
        failed_at = email.status_at or email.at
        corrected = any(asked_to_act(later) == step and later.at > failed_at
                        and later.to.casefold() != email.to.casefold()
                        for later in ordered[index + 1:])
        if not corrected:
            found.append(email)
    return found


def event_detail(email: EmailRecord, bounce_type: str | None) -> dict[str, Any]:
    """What the history says of an email's delivery event: which email, to whom, about which
    step, and a bounce's type."""
    detail: dict[str, Any] = {"email": email.kind, "to": email.to}
    if email.step:
        detail["step"] = email.step
    if bounce_type:
        detail["bounce_type"] = bounce_type
    return detail
