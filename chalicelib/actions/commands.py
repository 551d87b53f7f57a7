"""The changes people make to a referral: each a function the emailed links and the staff
console call alike.

Each makes one conditional status change with its history event (in the same transaction as
using up the link, when there is one), and then completes the state machine's wait for that
step. AlreadyDone when someone else acted first: nothing is changed.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

from chalicelib.domain import ledger, pathway
from chalicelib.domain.dates import now_iso
from chalicelib.domain.errors import TransitionRefused
from chalicelib.domain.outcomes import follow_ups, reqol_change
from chalicelib.domain.records import Link, StoredReferral

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services

log = logging.getLogger(__name__)


class AlreadyDone(Exception):
    """Someone else acted on this step first (or it is no longer waiting)."""


def _finish(svc: Services, reference: str, step: str) -> None:
    """Complete the state machine's wait for `step`, if it is waiting. If no execution is
    running to go on (it was stopped, or it failed), what the person did stands and the
    referral is handed to the advisors to resume: it never silently goes nowhere."""
    from chalicelib.workflow import recovery

    done = STEP_DONE.get(step, "A step was done")
    try:
        referrals = svc.store.referrals
        token = referrals.task_token(reference, step)
        stored = referrals.get(reference)
        outcome = pathway.outcome_if_done(stored, step)
        if token and outcome and not svc.workflow.complete(token, outcome):
            attempt = recovery.attempt_of(stored)
            if svc.workflow.status(reference, attempt) not in ("RUNNING", None):
                recovery.mark(svc, reference, "NotRunning",
                              f"{done}, but the pathway was not running to go on from it.")
    except Exception as exc:
        # What the person did is committed: it stands, and their page says so. The waiting
        # execution could not be told, so the advisors resume the referral from there.
        after_commit_failed(svc, reference, exc, f"{done}, but the pathway could not be told")


def after_commit_failed(svc: Services, reference: str, exc: Exception, what: str) -> None:
    """A step after a committed change failed (telling the waiting execution, say): the
    change stands and the referral is handed to the advisors, with why in plain words."""
    from chalicelib.workflow import recovery

    code = recovery.code_of(exc)
    log.warning("after a change to %s: %s (%s)", reference, code, type(exc).__name__)
    try:
        recovery.mark(svc, reference, code, f"{what}: {recovery.why(code)}.")
    except Exception:  # even that: the reconciler finds it (the log says where)
        log.exception("could not mark %s for the advisors", reference)


STEP_DONE = {"referrer": "The referrer signed off", "manager": "The approving manager signed off",
             "panel": "The PHB Oversight Panel signed off", "advisor": "A PHB advisor decided",
             "information": "The referrer answered the question",
             "agreement": "The agreement was accepted", "release": "The money was released",
             "review": "The 6-week review was recorded", "closure": "The PHB was closed"}


def _change(svc: Services, stored: StoredReferral, to: str, actor: str, what: str,
            detail: dict[str, Any], fields: dict[str, Any] | None = None,
            when: dict[str, str] | None = None, using: Link | None = None) -> None:
    try:
        svc.store.referrals.change(stored.reference, to, pathway.allowed_from(to), actor, what,
                                   detail, fields=fields, when=when, using_link=using)
    except TransitionRefused:
        raise AlreadyDone() from None


def decide(svc: Services, stored: StoredReferral, step: str, actor: str, outcome: str,
           text: str = "", using: Link | None = None) -> None:
    """An approver's decision on a sign-off step: approved, rejected or more_information."""
    from chalicelib.actions.amend import restorable, restore

    if stored.status != "awaiting_sign_off" or stored.step != step:
        raise AlreadyDone()
    when = {"step": step}
    progress = dict(stored.recorded)
    if outcome == "approved":
        following = pathway.next_approver(list(stored.approvers), step)
        if following:
            _change(svc, stored, "awaiting_sign_off", actor, "approved",
                    {"step": step, "next": following}, {"step": following}, when, using)
        else:
            # The final sign-off fixes what is approved, per item and in total.
            at = now_iso()
            money = ledger.approve(_items(stored), at, stored.tier or "", stored.ledger)
            # An amendment signed off: what was approved before is replaced, not restored.
            progress.pop("amendment", None)
            _change(svc, stored, "approved", actor, "approved",
                    {"step": step, "approved_pence": ledger.approved_total(money)},
                    # approved_at stays the first approval's: the reports' time to sign-off.
                    {"approved_at": stored.approved_at or at, "ledger": money,
                     "progress": progress}, when, using)
    elif outcome == "rejected" and restorable(stored):
        # Refusing an amendment of an approved PHB refuses the change, not the PHB.
        restore(svc, stored, actor, {"reason": text}, step, using)
    elif outcome == "rejected":
        progress["rejected"] = {"step": step, "reason": text, "by": actor, "at": now_iso()}
        _change(svc, stored, "rejected", actor, "rejected", {"step": step, "reason": text},
                {"progress": progress}, when, using)
    elif outcome == "more_information":
        progress["question"] = {"step": step, "question": text, "by": actor, "at": now_iso()}
        _change(svc, stored, "awaiting_information", actor, "information_requested",
                {"step": step, "question": text}, {"progress": progress}, when, using)
    else:
        raise ValueError(outcome)
    _finish(svc, stored.reference, step)


def answer_question(svc: Services, stored: StoredReferral, actor: str, answer: str,
                    using: Link | None = None) -> None:
    """The referrer's answer: stored in the history, the referral back to who asked."""
    question = stored.recorded.get("question", {})
    if stored.status != "awaiting_information" or not question:
        raise AlreadyDone()
    progress = {k: v for k, v in stored.recorded.items() if k != "question"}
    _change(svc, stored, "awaiting_sign_off", actor, "information_given",
            {"step": question["step"], "question": question["question"], "answer": answer},
            {"progress": progress}, using=using)
    try:  # the approver's reminders count again from nought; not worth failing the answer
        svc.store.referrals.reset_reminders(stored.reference, question["step"])
    except Exception as exc:
        log.warning("reminders of %s not reset: %s", stored.reference, type(exc).__name__)
    _finish(svc, stored.reference, "information")


def accept_agreement(svc: Services, stored: StoredReferral, typed_name: str,
                     using: Link | None = None) -> None:
    """The budget holder accepts the direct payment agreement, by typing their name. What they
    accepted is kept, for the copy they and the referrer can read again. Accepted again after
    an amendment, once money has been released, the PHB goes on from where it was."""
    from chalicelib.domain.referral import load_stored

    referral = load_stored(stored.answers)
    accepted = list(stored.recorded.get("agreements", []))
    acceptance = {"n": len(accepted) + 1, "name": typed_name, "at": now_iso(),
                  "version": svc.settings.agreement_version}
    copy = {**acceptance, "link": using.id_hash if using else None,
            "total_pence": referral.total_pence,
            "items": [{"description": i.description, "supplier": i.supplier,
                       "cost_pence": i.cost_pence, "recurrence": i.recurrence,
                       "months": i.months, "total_pence": i.total_pence}
                      for i in referral.items],
            "goals": [{"goal": g.goal, "target_date": g.target_date.isoformat()}
                      for g in referral.goals]}
    to = "agreement_accepted"
    if ledger.released_total(stored.ledger):
        to = "reviewed" if "review" in stored.recorded else "funds_released"
    try:
        svc.store.referrals.change(
            stored.reference, to, ("approved",), "budget holder", "agreement_accepted",
            acceptance, fields={"progress": {**stored.recorded, "agreement": acceptance,
                                             "agreements": [*accepted, copy]}},
            using_link=using)
    except TransitionRefused:
        raise AlreadyDone() from None
    _finish(svc, stored.reference, "agreement")


def _items(stored: StoredReferral) -> list[Any]:
    from chalicelib.domain.referral import load_stored

    return list(load_stored(stored.answers).items)


def ledger_of(stored: StoredReferral) -> ledger.Ledger:
    """The referral's ledger (for one approved before ledgers were kept: made from its items)."""
    if stored.ledger:
        return stored.ledger
    return ledger.approve(_items(stored), stored.approved_at or stored.created_at,
                          stored.tier or "")


def first_released_on(stored: StoredReferral) -> date | None:
    release = stored.recorded.get("release")
    if not release:
        return None
    return date.fromisoformat(str(release.get("on") or release["at"])[:10])


def record_release(svc: Services, stored: StoredReferral, actor: str, amount_pence: int,
                   on: date, how: str, reference: str, management: str | None = None,
                   using: Link | None = None) -> None:
    """A PHB advisor records money released: the first release only after the agreement (it
    starts the 6-week review and the monthly schedule), then more until the approved total.
    ledger.Refused for an amount past what is left."""
    at = now_iso()
    money = ledger.release(ledger_of(stored), amount_pence, on, how, reference, actor, at)
    detail = {"amount_pence": amount_pence, "on": on.isoformat(), "how": how,
              "reference": reference}
    if stored.status == "agreement_accepted":
        release = {"management": management, "amount_pence": amount_pence, "by": actor,
                   "at": at, "on": on.isoformat()}
        _change(svc, stored, "funds_released", actor, "funds_released",
                {**detail, "management": management},
                {"progress": {**stored.recorded, "release": release}, "ledger": money,
                 "next_release_due": next_due_of(money, on)}, using=using)
        _finish(svc, stored.reference, "release")
        return
    if stored.status not in ("funds_released", "reviewed"):
        raise AlreadyDone()
    try:
        svc.store.referrals.record(stored, actor, "money_released", detail, fields={
            "ledger": money, "next_release_due": next_due_of(money, first_released_on(stored))})
    except TransitionRefused:
        raise AlreadyDone() from None


def next_due_of(money: ledger.Ledger, first: date | None) -> str | None:
    """The next monthly release's date (YYYY-MM-DD) as the referral stores it, or None."""
    due = ledger.next_due(money, first)
    return due.isoformat() if due else None


def settle_unspent(svc: Services, stored: StoredReferral, actor: str, entry: str,
                   state: str) -> None:
    """An advisor settles money reported unspent: recovered, or written off."""
    money = ledger.settle(ledger_of(stored), entry, state, actor, now_iso())
    amount = next(u["amount_pence"] for u in money["unspent"] if u["id"] == entry)
    try:
        svc.store.referrals.record(stored, actor, "unspent_settled",
                                   {"state": state, "amount_pence": amount},
                                   fields={"ledger": money})
    except TransitionRefused:
        raise AlreadyDone() from None


def _with_unspent(stored: StoredReferral, pence: int | None, step: str, actor: str,
                  at: str) -> ledger.Ledger:
    return ledger.report_unspent(ledger_of(stored), pence or 0, step, actor, at)


def _flagged(stored: StoredReferral, step: str, answered: dict[str, Any]) -> dict[str, Any]:
    """The referral's flags with those the answers raise for an advisor to follow up (none
    twice): as a field to set, or nothing when there are none, so the referral is filed in
    the worklist's flagged view only for a reason."""
    raised = [f for f in follow_ups(step, answered)
              if f["code"] not in {held.get("code") for held in stored.flags}]
    return {"flags": [*stored.flags, *raised]} if raised else {}


def record_review(svc: Services, stored: StoredReferral, actor: str, review: dict[str, Any],
                  using: Link | None = None) -> None:
    """The 6-week review: bought, progress on each goal, ReQoL-10, receipts, and any money
    unspent (to recover). What was not bought, receipts not held and money unspent flag the
    referral for a PHB advisor to follow up."""
    at = now_iso()
    money = _with_unspent(stored, review.get("unspent_pence"), "review", actor, at)
    review = {**review, "by": actor, "at": at}
    _change(svc, stored, "reviewed", actor, "reviewed", review,
            {"progress": {**stored.recorded, "review": review}, "ledger": money,
             **_flagged(stored, "review", review)}, using=using)
    _finish(svc, stored.reference, "review")


def record_closure(svc: Services, stored: StoredReferral, actor: str, closure: dict[str, Any],
                   using: Link | None = None) -> None:
    """Closure at the goal date: whether each goal was achieved, and the ReQoL-10 change from
    the referral's baseline. Money unspent flags the referral for an advisor to recover."""
    from chalicelib.domain.referral import load_stored

    baseline = load_stored(stored.answers).reqol10_baseline.items
    at = now_iso()
    money = _with_unspent(stored, closure.get("unspent_pence"), "closure", actor, at)
    closure = {**closure, "by": actor, "at": at,
               "reqol10": reqol_change(baseline, closure["reqol10_items"],
                                       svc.settings.reqol_reliable_change)}
    # Closed: nothing more is released, so no monthly release is due any more.
    _change(svc, stored, "closed", actor, "closed", closure,
            {"progress": {**stored.recorded, "closure": closure}, "ledger": money,
             "next_release_due": None, **_flagged(stored, "closure", closure)}, using=using)
    _finish(svc, stored.reference, "closure")


def withdraw(svc: Services, stored: StoredReferral, actor: str, reason: str,
             using: Link | None = None) -> None:
    """End the referral at any open step, tell the referrer, and release the state machine."""
    from chalicelib.domain.referral import load_stored
    from chalicelib.workflow.notices import tell_referrer

    # A referral withdrawn while paused is not paused any more: what stopped it is moot.
    progress = {k: v for k, v in stored.recorded.items() if k != "attention"}
    _change(svc, stored, "withdrawn", actor, "withdrawn", {"reason": reason},
            {"next_release_due": None, "progress": progress}, using=using)
    referrals = svc.store.referrals
    try:
        tell_referrer(svc, "withdrawn", referrals.get(stored.reference),
                      load_stored(stored.answers))
    except Exception as exc:
        # The withdrawal stands: the execution's NotifyWithdrawn sends the email (and, if it
        # still cannot, hands the referral to the advisors).
        from chalicelib.workflow.recovery import code_of

        log.warning("the withdrawal email of %s failed: %s", stored.reference, code_of(exc))
    try:
        ended = [svc.workflow.complete(token, "withdrawn")
                 for token in referrals.task_tokens(stored.reference).values()]
    except Exception as exc:
        after_commit_failed(svc, stored.reference, exc,
                            "The referral was withdrawn, but the pathway could not be told")
        return
    if not any(ended) and stored.status == "needs_attention":
        # No execution waits to tell the referrer: a resumed one does (from "withdrawn").
        from chalicelib.workflow import recovery

        if not any(e.kind == "withdrawn" for e in referrals.emails_sent(stored.reference)):
            recovery.mark(svc, stored.reference, "NotRunning", "The referral was withdrawn "
                          "while the pathway was stopped: resume it to tell the referrer.")
