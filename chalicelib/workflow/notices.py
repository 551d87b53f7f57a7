"""Who each step's emails go to, and sending them with the one-time links they carry.

Each email is recorded once per (kind, step, notice, recipient), so a retried task never sends
it twice; `notice` is the time the state machine entered the state that sends it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from chalicelib.actions import links
from chalicelib.domain.codes import STEPS
from chalicelib.domain.identity import find_address, independent_of
from chalicelib.domain.pathway import ACTION_FOR_STEP
from chalicelib.domain.policy import (
    ACKNOWLEDGEMENT_CAP_SECONDS,
    AGREEMENT_COPY_LINK_DAYS,
    AMEND_LINK_DAYS,
    DAY,
    OUTCOME_LINK_LIFETIMES,
    WITHDRAW_LINK_DAYS,
)
from chalicelib.domain.records import StoredReferral
from chalicelib.web.render import render_email
from chalicelib.workflow.wording import (
    ADVISOR_STEP,
    DECIDERS,
    NEXT_STEP,
    REQUEST_KIND,
    ROLES,
    WORDING,
)

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.config import Settings
    from chalicelib.domain.referral import Referral

log = logging.getLogger(__name__)


def recipients(step: str, referral: Referral, settings: Settings,
               fixed: dict[str, str] | None = None) -> list[str]:
    """The addresses a step waits for (each gets a link of their own); `fixed` holds the
    panel members' addresses an advisor corrected for this referral."""
    if step == "panel":
        return independent_of([corrected(a, fixed) for a in settings.panel_emails],
                              referral.referrer.email)
    if step == "referrer" or step in ("information", "review", "closure"):
        return [referral.referrer.email]
    if step == "manager":
        return [referral.approving_manager.email] if referral.approving_manager else []
    if step in ("advisor", "release"):
        return list(settings.advisor_emails)
    if step == "agreement":
        return [referral.person.email or referral.referrer.email]
    raise ValueError(step)


def corrected(address: str, fixed: dict[str, str] | None) -> str:
    """An address as an advisor corrected it for this referral (itself if not corrected)."""
    from chalicelib.domain.identity import address_key

    return (fixed or {}).get(address_key(address), address)


def link_url(settings: Settings, action: str, link_id: str) -> str:
    return f"{settings.base_url}/act/{action}/{link_id}"


def send(svc: Services, kind: str, stored: StoredReferral, to: list[str], notice: str,
         step: str | None = None, link_action: str | None = None, link_step: str | None = None,
         link_days: int | None = None, page: str | None = None, **context: Any) -> list[str]:
    """Email each address once for this notice, each with a one-time link of their own when
    the email asks them to act (or the same `page` of this service for everyone, such as a
    staff console page, which needs signing in); returns the addresses emailed now."""
    settings, referrals = svc.settings, svc.store.referrals
    wording = WORDING[kind]
    values = {
        "reference": stored.reference,
        "role": ROLES.get(step or "", ""),
        "role_cap": DECIDERS.get(step or "", "The approver").capitalize(),
        "step_label": STEPS.get(step or "", "an action"),
        **context,
    }
    sent = []
    for address in to:
        key = f"{kind}:{step or '-'}:{notice}:{address}"
        if referrals.email_already_sent(stored.reference, key):
            continue
        link = f"{settings.base_url}{page}" if page else None
        if link_action:
            link_id = links.issue(svc.store.links, link_action, address,
                                  (link_days or settings.link_valid_days) * DAY,
                                  reference=stored.reference, step=link_step or step or "")
            link = link_url(settings, link_action, link_id)
        email = render_email(
            "notice", to=address, settings=settings,
            subject=wording.subject.format(**values),
            heading=wording.heading.format(**values),
            lines=[line.format(**values) for line in wording.lines],
            link_text=wording.link_text.format(**values) if wording.link_text and link else None,
            link_url=link,
            # A page of the console (which needs signing in), not a one-time link.
            page_link=bool(page) and not link_action,
            reference=stored.reference,
        )
        message_id = svc.mailer.send(email)
        record_sent(svc, stored.reference, key, address, email.subject, message_id)
        sent.append(address)
    return sent


def record_sent(svc: Services, reference: str, key: str, to: str, subject: str,
                message_id: str, attempts: int = 3) -> None:
    """Record an email just sent, trying again: an email sent but not recorded goes again
    when its task is retried (emails are at least once; this keeps the second rare)."""
    import time

    for attempt in range(attempts):
        try:
            svc.store.referrals.record_email(reference, key, to, subject, message_id)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * 2 ** attempt)


def request(svc: Services, step: str, stored: StoredReferral, referral: Referral, notice: str,
            kind: str | None = None) -> list[str]:
    """Ask the people a step waits for to act on it, each with a link (a resend, a reminder's
    first request, the state machine's request)."""
    kind = kind or REQUEST_KIND[step]
    if kind == "agreement_request" and not referral.person.email:
        kind = "agreement_request_via_referrer"
    return send(svc, kind, stored, recipients(step, referral, svc.settings,
                                              stored.recorded.get("corrected")),
                notice, step=step, link_action=ACTION_FOR_STEP[step])


def acknowledge(svc: Services, stored: StoredReferral, referral: Referral,
                key: str = "acknowledgement") -> int:
    """The referrer's acknowledgement: the reference, what happens next, a link to withdraw
    (once per `key`: the referrer's address corrected, it goes again to the new one)."""
    referrals, settings = svc.store.referrals, svc.settings
    if referrals.email_already_sent(stored.reference, key):
        return 0
    next_step = NEXT_STEP.get(stored.tier or "", NEXT_STEP["manager"])
    if stored.flags:
        next_step += ADVISOR_STEP
    referrer = referral.referrer.email
    if not svc.store.caps.take("acknowledgement", referrer, settings.acknowledgements_cap,
                               ACKNOWLEDGEMENT_CAP_SECONDS, int(time.time())):
        # Past the cap nothing is sent (a flood of referrals naming one clinician must not
        # flood their mailbox); the case's history and the worklist say so to the advisors.
        referrals.add_event(stored.reference, "acknowledgement_held_back", "system",
                            {"to": referrer, "cap": settings.acknowledgements_cap})
        return 0
    withdraw_id = links.issue(svc.store.links, "withdraw", referrer, WITHDRAW_LINK_DAYS * DAY,
                              reference=stored.reference, step="any")
    amend_id = links.issue(svc.store.links, "amend", referrer, AMEND_LINK_DAYS * DAY,
                           reference=stored.reference, step="any")
    email = render_email(
        "acknowledgement", to=referrer, settings=settings,
        reference=stored.reference, next_step=next_step,
        status_url=f"{settings.base_url}/referrals/{stored.reference}",
        withdraw_url=link_url(settings, "withdraw", withdraw_id),
        amend_url=link_url(settings, "amend", amend_id),
    )
    message_id = svc.mailer.send(email)
    record_sent(svc, stored.reference, key, email.to, email.subject, message_id)
    return 1


def agreement_copy(svc: Services, stored: StoredReferral, referral: Referral) -> list[str]:
    """Tell the referrer and the person (when they have an email address) that the agreement
    was accepted, each with a link to read and print it: once for each acceptance."""
    accepted = stored.recorded.get("agreements") or []
    if not accepted:
        return []
    to = [referral.referrer.email]
    if referral.person.email and find_address(referral.person.email, to) is None:
        to.append(referral.person.email)
    number = str(accepted[-1]["n"])
    return send(svc, "agreement_copy", stored, to, notice=f"acceptance {number}",
                step="agreement", link_action="agreement-copy", link_step=number,
                link_days=AGREEMENT_COPY_LINK_DAYS)


def tell_referrer(svc: Services, kind: str, stored: StoredReferral,
                  referral: Referral) -> list[str]:
    """The email that ends a referral; the same whether the workflow or a person sends it."""
    link_action = None
    step = stored.step
    if kind == "rejected":
        link_action = "outcome"
        step = str(stored.recorded.get("rejected", {}).get("step", stored.step or ""))
    if kind == "expired":
        step = str(stored.recorded.get("expired", {}).get("step", stored.step or ""))
    return send(svc, kind, stored, [referral.referrer.email], notice="final", step=step,
                link_action=link_action, link_step="outcome",
                link_days=svc.settings.link_valid_days * OUTCOME_LINK_LIFETIMES)


def alert_advisors(svc: Services, reference: str,
                   reason: str = "A step failed after retrying.", notice: str = "") -> bool:
    """Tell the advisors a referral needs attention, and why (in words with no personal data),
    with a link to its case; whether they were emailed now. If even that fails, record it:
    the staff worklist shows the referral as needing attention all the same, and the
    reconciler tries the email again."""
    stored = svc.store.referrals.get(reference)
    try:
        # Once per marking (`notice`: when it was marked), however often it is tried.
        return bool(send(svc, "needs_attention", stored, list(svc.settings.advisor_emails),
                         notice=notice or stored.updated_at, page=staff_case(reference),
                         reason=reason))
    except Exception as exc:  # its text may name an address: the log gets its type
        log.error("could not email the advisors about %s: %s", reference, type(exc).__name__)
        svc.store.referrals.add_event(reference, "advisor_alert_failed", "system",
                                      {"error": type(exc).__name__})
        return False


def staff_case(reference: str) -> str:
    """The path of a referral's case in the staff console."""
    return f"/staff/referrals/{reference}"


def describe_seconds(seconds: int) -> str:
    """`259200` -> "3 days", `600` -> "10 minutes": a reminder period in words."""
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
