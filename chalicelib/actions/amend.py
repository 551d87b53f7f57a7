"""Amending a referral's items, costs or suppliers (chalicelib/domain/amendment.py says when),
by a PHB advisor in the staff console or by the referrer through the link in their
acknowledgement; and what happens when the amended request is not signed off.

An amendment is one conditional write, only if the referral is unchanged since it was read, with
its before and after in the history. When it needs a new sign-off or the agreement accepted
again, it raises the referral's revision and ends the state machine's wait ("amended"): the
execution then takes up the referral where the amendment left it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.actions.commands import AlreadyDone, first_released_on, ledger_of, next_due_of
from chalicelib.domain import amendment, ledger
from chalicelib.domain.codes import FOLLOW_UPS
from chalicelib.domain.dates import now_iso
from chalicelib.domain.errors import TransitionRefused
from chalicelib.domain.money import format_pence
from chalicelib.domain.records import Link, StoredReferral

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.domain.referral import Referral

# What happens after the change, as the history and the confirmation say it.
THEN = {
    amendment.SIGN_OFF: "Signed off again: {why}",
    amendment.ACCEPT: "The person is asked to accept the agreement again",
    amendment.RECORDED: "Recorded: no new sign-off is needed",
}
# What a refused amendment restores of the referral as it was approved.
_RESTORED = ("status", "answers", "total_pence", "tier", "flags", "approvers", "basis")


@dataclass(frozen=True)
class Amended:
    """What an amendment did: what it needed, and the totals before and after."""

    needed: str
    before_pence: int
    after_pence: int
    then: str


def amend(svc: Services, stored: StoredReferral, actor: str, amended: Referral,
          reason: str) -> Amended:
    """Change the referral to `amended` (its items, and the approving manager if one is
    newly needed). ledger.Refused (field "items") when nothing changed or the total would fall
    below what was released; AlreadyDone when it can no longer change or changed meanwhile."""
    from chalicelib.intake.decision import approvers_for, decide, manager_needed

    if not stored.answers or not amendment.can_amend(stored.status, stored.ledger):
        raise AlreadyDone()
    lines = _changes(stored, amended)
    decision = decide(svc, amended, stored.reference)
    for missing in manager_needed(decision, amended):  # the person's total now needs one
        raise ledger.Refused(missing.field, missing.message)
    approvers, flags = approvers_for(decision, amended)
    # What a review raised for an advisor still stands: only intake's flags are worked out anew.
    flags += [f for f in stored.flags if f.get("code") in FOLLOW_UPS]
    needed = amendment.needed(
        stored.status,
        amendment.Plan(stored.total_pence, stored.tier or "referrer", stored.approvers),
        amendment.Plan(amended.total_pence, decision.sign_off.tier, tuple(approvers)))
    then = THEN[needed].format(why=decision.why)
    detail = {"changes": "; ".join(lines), "reason": reason,
              "before": format_pence(stored.total_pence),
              "after": format_pence(amended.total_pence), "then": then}
    fields: dict[str, Any] = {"answers": amended.model_dump_json(),
                              "total_pence": amended.total_pence,
                              "basis": {**decision.basis.as_dict(), "why": decision.why}}
    if needed == amendment.SIGN_OFF:
        progress = {k: v for k, v in stored.recorded.items() if k != "question"}
        if stored.status in amendment.APPROVED and "amendment" not in progress:
            progress["amendment"] = {name: _plain(getattr(stored, name)) for name in _RESTORED}
        _move(svc, stored, "awaiting_sign_off", actor, detail, {
            **fields, "tier": decision.sign_off.tier, "flags": flags, "approvers": approvers,
            "step": approvers[0], "progress": progress})
    else:
        if stored.status in amendment.APPROVED:
            money = ledger.approve(amended.items, now_iso(), stored.tier or "",
                                   ledger_of(stored))
            fields.update(ledger=money, next_release_due=next_due_of(
                money, first_released_on(stored)))
        if needed == amendment.ACCEPT:
            _move(svc, stored, "approved", actor, detail, fields)
        else:
            try:
                svc.store.referrals.record(stored, actor, "amended", detail, fields=fields)
            except TransitionRefused:
                raise AlreadyDone() from None
    return Amended(needed, stored.total_pence, amended.total_pence, then)


def _changes(stored: StoredReferral, amended: Referral) -> list[str]:
    """What changed, in words; ledger.Refused when nothing did, or when the new total is less
    than was released."""
    from chalicelib.domain.referral import load_stored

    before = load_stored(stored.answers)
    lines = amendment.changes(before.items, amended.items)
    if amended.approving_manager != before.approving_manager:
        lines.append("Approving manager: " + (amended.approving_manager.email
                                              if amended.approving_manager else "none"))
    if not lines:
        raise ledger.Refused("items", "Nothing has changed: change an item, its cost or its "
                                      "supplier")
    below = amendment.refused_below_released(amended.total_pence, stored.ledger)
    if below:
        raise ledger.Refused("items", below)
    return lines


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _move(svc: Services, stored: StoredReferral, to: str, actor: str, detail: dict[str, Any],
          fields: dict[str, Any]) -> None:
    """Send the referral back to `to` under a new revision, and end the state machine's wait:
    it carries on from there."""
    referrals = svc.store.referrals
    try:
        referrals.change(stored.reference, to, (stored.status,), actor, "amended", detail,
                         fields={**fields, "revision": stored.revision + 1},
                         when={"updated_at": stored.updated_at})
    except TransitionRefused:
        raise AlreadyDone() from None
    for token in referrals.task_tokens(stored.reference).values():
        svc.workflow.complete(token, "amended")


def restorable(stored: StoredReferral) -> bool:
    """Whether the referral is being signed off again after an amendment to an approved PHB."""
    return bool(stored.recorded.get("amendment"))


def restore(svc: Services, stored: StoredReferral, actor: str, why: dict[str, Any],
            step: str, using: Link | None = None) -> None:
    """The amended request was not signed off (`why`: refused with a reason, or not in time):
    the referral returns to the plan approved before, where it was, and the referrer is told.
    The state machine's sign-off then finds the step approved and goes on from there."""
    from chalicelib.workflow.notices import send

    before = dict(stored.recorded["amendment"])
    progress = {k: v for k, v in stored.recorded.items() if k not in ("amendment", "question")}
    progress["amendment_refused"] = {**why, "step": step, "by": actor, "at": now_iso()}
    to = str(before.pop("status"))
    try:
        svc.store.referrals.change(
            stored.reference, to, ("awaiting_sign_off", "awaiting_information"), actor,
            "amendment_refused", {**why, "step": step, "restored": format_pence(
                int(before["total_pence"]))},
            fields={**before, "progress": progress}, when={"updated_at": stored.updated_at},
            using_link=using)
    except TransitionRefused:
        raise AlreadyDone() from None
    from chalicelib.domain.referral import load_stored

    referrer = load_stored(str(before["answers"])).referrer.email
    send(svc, "amendment_refused", stored, [referrer], notice=progress["amendment_refused"]["at"],
         step=step, link_action="outcome", link_step="outcome")
