"""Amendments on the in-memory adapters: a change to the items before the money is all
released, recorded before and after; signed off again from the tier now required when the
total rises or needs someone more senior; recorded without a sign-off when it falls; the
agreement accepted again once it was accepted; a refused change leaving an approved PHB as it
was; and the agreement readable again after acceptance."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.actions import commands, pages
from chalicelib.actions.amend import Amended, amend
from chalicelib.bootstrap import Services
from chalicelib.domain import amendment, ledger, pathway
from chalicelib.domain.referral import Referral, load_stored
from chalicelib.workflow import tasks
from tests.usecases.drive import emails_to, link_of, request, submit

REFERRER = "sam.okafor@nhs.net"
MANAGER = "jo.patel@nhs.net"
PANEL = "phb-panel@example.org"
ADVISORS = "phb-advisors@example.org"
JO = {"name": "Jo Patel", "email": MANAGER}


def gym(pence: int, supplier: str = "Better Leisure") -> dict[str, Any]:
    return {"description": "Gym membership", "category": "membership", "supplier": supplier,
            "cost_pence": pence, "recurrence": "one_off"}


def referral_of(svc: Services, reference: str) -> Referral:
    return load_stored(svc.store.referrals.get(reference).answers)


def changed(svc: Services, reference: str, items: list[dict[str, Any]],
            manager: dict[str, str] | None = None, actor: str = ADVISORS) -> Amended:
    """An advisor changes the items (and adds the manager, when given)."""
    data = referral_of(svc, reference).model_dump(mode="json")
    data["items"] = items
    if manager:
        data["approving_manager"] = manager
    amended = Referral.model_validate(data, context={"stored": True})
    return amend(svc, svc.store.referrals.get(reference), actor, amended, "The price changed")


def sign_off_all(svc: Services, reference: str) -> None:
    referrals = svc.store.referrals
    while (stored := referrals.get(reference)).status == "awaiting_sign_off":
        commands.decide(svc, stored, stored.step or "", f"{stored.step}@example.org",
                        "approved")


def released(svc: Services, pence: int = 12000, total: int = 12000) -> str:
    """A referral of `total` signed off, its agreement accepted and `pence` released."""
    reference = submit(svc, items=[gym(total)],
                       **({"approving_manager": JO} if total >= 25000 else {}))
    sign_off_all(svc, reference)
    commands.accept_agreement(svc, svc.store.referrals.get(reference), "Alex Morgan")
    commands.record_release(svc, svc.store.referrals.get(reference), ADVISORS, pence,
                            date.today(), "prepaid_card", "CARD-1", "direct_payment")
    return reference


def amendments(svc: Services, reference: str) -> list[dict[str, Any]]:
    return [e.detail for e in svc.store.referrals.history(reference) if e.what == "amended"]


def completed(svc: Services) -> list[str]:
    return [outcome for _, outcome in svc.workflow.completed]  # type: ignore[attr-defined]


# --- during sign-off ------------------------------------------------------------------------


def test_a_lower_total_during_sign_off_is_recorded_before_and_after(memory: Services) -> None:
    reference = submit(memory, items=[gym(20000)])
    request(memory, reference, "sign_off_request")
    done = changed(memory, reference, [gym(15000, supplier="PureGym")])
    stored = memory.store.referrals.get(reference)
    assert (done.needed, stored.status, stored.step, stored.revision) == (
        amendment.RECORDED, "awaiting_sign_off", "referrer", 0)
    assert stored.total_pence == 15000
    assert referral_of(memory, reference).items[0].supplier == "PureGym"
    [detail] = amendments(memory, reference)
    assert detail["before"] == "£200.00" and detail["after"] == "£150.00"
    assert "Item 1 supplier: Better Leisure → PureGym" in detail["changes"]
    assert "Item 1 cost: £200.00 → £150.00" in detail["changes"]
    assert detail["reason"] == "The price changed"
    assert completed(memory) == []  # the sign-off goes on waiting


def test_a_higher_total_during_sign_off_starts_it_again(memory: Services) -> None:
    reference = submit(memory, items=[gym(20000)])
    request(memory, reference, "sign_off_request")
    done = changed(memory, reference, [gym(24000)])
    stored = memory.store.referrals.get(reference)
    assert (done.needed, stored.status, stored.step, stored.revision) == (
        amendment.SIGN_OFF, "awaiting_sign_off", "referrer", 1)
    assert completed(memory) == ["amended"]
    after = tasks.run(memory, {"task": "after_amendment", "referral_id": reference})
    assert (after["next"], after["approvers"], after["revision"]) == ("sign_off",
                                                                      ["referrer"], 1)


def test_crossing_into_the_manager_tier_needs_the_manager(memory: Services) -> None:
    reference = submit(memory, items=[gym(24999)])
    with pytest.raises(ledger.Refused) as refused:
        changed(memory, reference, [gym(25000)])
    assert refused.value.field == "approving_manager"
    assert memory.store.referrals.get(reference).total_pence == 24999  # nothing half-written
    changed(memory, reference, [gym(25000)], manager=JO)
    stored = memory.store.referrals.get(reference)
    assert (stored.tier, stored.approvers, stored.step) == ("manager", ("manager",), "manager")
    assert stored.basis["why"] == "£250: the approving manager signs off"


def test_a_question_waiting_is_dropped_when_sign_off_starts_again(memory: Services) -> None:
    reference = submit(memory, total_pence=30000)
    commands.decide(memory, memory.store.referrals.get(reference), "manager", MANAGER,
                    "more_information", "Which gym?")
    changed(memory, reference, [gym(32000)])
    stored = memory.store.referrals.get(reference)
    assert (stored.status, stored.step, "question" in stored.recorded) == (
        "awaiting_sign_off", "manager", False)


def test_nothing_changed_is_refused(memory: Services) -> None:
    reference = submit(memory, items=[gym(12000)])
    with pytest.raises(ledger.Refused) as refused:
        changed(memory, reference, [gym(12000)])
    assert refused.value.field == "items"


# --- after approval, across each tier boundary ----------------------------------------------


@pytest.mark.parametrize("before, after, needed, approvers", [
    (24999, 25000, amendment.SIGN_OFF, ("manager",)),  # referrer -> manager
    (50000, 50001, amendment.SIGN_OFF, ("manager", "panel")),  # manager -> panel
    (20000, 20001, amendment.SIGN_OFF, ("referrer",)),  # a penny more, the same tier
    (50001, 50000, amendment.ACCEPT, ("manager", "panel")),  # panel -> manager: no sign-off
    (25000, 24999, amendment.ACCEPT, ("manager",)),  # manager -> referrer: no sign-off
])
def test_an_amendment_after_money_was_released_and_the_agreement_accepted_again(
        memory: Services, before: int, after: int, needed: str,
        approvers: tuple[str, ...]) -> None:
    reference = released(memory, pence=1000, total=before)
    request(memory, reference, "review_request", step="review")
    done = changed(memory, reference, [gym(after)], manager=JO)
    stored = memory.store.referrals.get(reference)
    assert done.needed == needed
    assert (stored.approvers, stored.revision) == (approvers, 1)
    assert completed(memory)[-1] == "amended"  # the review's wait ends
    if needed == amendment.SIGN_OFF:
        assert stored.status == "awaiting_sign_off"
        assert ledger.approved_total(stored.ledger) == before  # not approved yet
        sign_off_all(memory, reference)
    stored = memory.store.referrals.get(reference)
    assert stored.status == "approved"
    assert (ledger.approved_total(stored.ledger), ledger.released_total(stored.ledger)) == (
        after, 1000)
    assert tasks.run(memory, {"task": "after_amendment", "referral_id": reference}
                     )["next"] == "agreement"
    # The person accepts the changed agreement; the PHB goes on from where its money was.
    commands.accept_agreement(memory, stored, "Alex Morgan")
    stored = memory.store.referrals.get(reference)
    assert stored.status == "funds_released"
    assert pathway.outcome_if_done(stored, "agreement") == "released"
    assert [a["total_pence"] for a in stored.recorded["agreements"]] == [before, after]


def test_a_lower_total_before_the_agreement_is_accepted_needs_nothing_more(
        memory: Services) -> None:
    reference = submit(memory, total_pence=30000)
    sign_off_all(memory, reference)
    done = changed(memory, reference, [gym(20000)])
    stored = memory.store.referrals.get(reference)
    assert (done.needed, stored.status, stored.revision) == (amendment.RECORDED, "approved", 0)
    assert ledger.approved_total(stored.ledger) == 20000


def test_an_excluded_item_swapped_in_at_the_same_total_goes_to_a_phb_advisor(
        memory: Services) -> None:
    # No rise in the total, no higher tier: only the exclusion calls for sign-off again, so
    # an excluded item is never funded without an advisor's decision (hazard log, H-03).
    reference = submit(memory, items=[gym(12000)])
    sign_off_all(memory, reference)
    fryer = {"description": "Air fryer", "category": "equipment", "supplier": "Shop",
             "cost_pence": 6000, "recurrence": "one_off"}
    done = changed(memory, reference, [gym(6000), fryer])
    stored = memory.store.referrals.get(reference)
    assert done.needed == amendment.SIGN_OFF
    assert (stored.status, stored.total_pence) == ("awaiting_sign_off", 12000)
    assert stored.approvers[-1] == "advisor"
    sign_off_all(memory, reference)
    assert memory.store.referrals.get(reference).status == "approved"


def test_the_new_total_cannot_fall_below_what_was_released(memory: Services) -> None:
    reference = released(memory, pence=8000, total=12000)
    with pytest.raises(ledger.Refused) as refused:
        changed(memory, reference, [gym(7999)])
    assert (refused.value.field, "£80.00 already released" in refused.value.message) == (
        "items", True)
    changed(memory, reference, [gym(8000)])  # exactly what was released
    assert memory.store.referrals.get(reference).total_pence == 8000


def test_once_the_money_is_all_released_nothing_can_change(memory: Services) -> None:
    reference = released(memory, pence=12000, total=12000)
    with pytest.raises(commands.AlreadyDone):
        changed(memory, reference, [gym(13000)])


def test_a_monthly_schedule_follows_the_amended_items(memory: Services) -> None:
    monthly = {"description": "Swimming", "category": "membership", "supplier": "Better",
               "cost_pence": 3000, "recurrence": "monthly", "months": 3}
    reference = submit(memory, items=[monthly])
    sign_off_all(memory, reference)
    commands.accept_agreement(memory, memory.store.referrals.get(reference), "Alex Morgan")
    commands.record_release(memory, memory.store.referrals.get(reference), ADVISORS, 3000,
                            date(2026, 1, 10), "prepaid_card", "CARD-1", "direct_payment")
    changed(memory, reference, [{**monthly, "months": 2}])
    stored = memory.store.referrals.get(reference)
    assert (ledger.approved_total(stored.ledger), stored.next_release_due) == (6000,
                                                                               "2026-02-10")


# --- a change not signed off ----------------------------------------------------------------


def test_a_refused_amendment_leaves_the_phb_as_it_was_approved(memory: Services) -> None:
    reference = released(memory, pence=10000, total=30000)
    before = memory.store.referrals.get(reference)
    changed(memory, reference, [gym(60000)])
    stored = memory.store.referrals.get(reference)
    assert (stored.status, stored.approvers) == ("awaiting_sign_off", ("manager", "panel"))
    commands.decide(memory, stored, "manager", MANAGER, "approved")
    commands.decide(memory, memory.store.referrals.get(reference), "panel", PANEL, "rejected",
                    "Two memberships are not needed")
    after = memory.store.referrals.get(reference)
    assert (after.status, after.total_pence, after.answers, after.approvers, after.tier) == (
        "funds_released", 30000, before.answers, ("manager",), "manager")
    assert after.ledger == before.ledger
    assert pathway.outcome_if_done(after, "panel") == "approved"  # the map goes on
    email = emails_to(memory, REFERRER, "change was not approved")[-1]
    outcome = pages.show(memory, "outcome", link_of(email, "outcome"))
    assert "Two memberships are not needed" in outcome.body
    assert "goes on as it was approved before" in outcome.body


def test_an_amendment_nobody_signs_off_in_time_is_not_the_end_of_the_phb(
        memory: Services) -> None:
    reference = released(memory, pence=10000, total=12000)
    changed(memory, reference, [gym(14000)])
    for count in range(memory.settings.reminders_before_escalation + 2):
        result = tasks.run(memory, {"task": "remind", "referral_id": reference,
                                    "step": "referrer", "notice": f"r{count}", "revision": 1})
        assert result["expired"] is False and not result["handover"]
    stored = memory.store.referrals.get(reference)
    assert (stored.status, stored.total_pence) == ("funds_released", 12000)
    assert stored.recorded["amendment_refused"]["reason"] == "Nobody signed the change off in time."


# --- the state machine's older revision -------------------------------------------------------


def test_a_wait_of_an_older_revision_ends_at_once(memory: Services) -> None:
    reference = submit(memory, items=[gym(12000)])
    changed(memory, reference, [gym(13000)])
    sent = len(memory.mailer.sent)  # type: ignore[attr-defined]
    tasks.run(memory, {"task": "notify", "referral_id": reference, "kind": "sign_off_request",
                       "notice": "old", "revision": 0})
    assert len(memory.mailer.sent) == sent  # type: ignore[attr-defined]
    tasks.run(memory, {"task": "await", "referral_id": reference, "step": "referrer",
                       "token": "old-token", "revision": 0})
    assert memory.workflow.completed[-1] == ("old-token", "amended")  # type: ignore[attr-defined]
    tasks.run(memory, {"task": "await", "referral_id": reference, "step": "referrer",
                       "token": "new-token", "revision": 1})
    assert memory.workflow.completed[-1] != ("new-token", "amended")  # type: ignore[attr-defined]


# --- the referrer's link ----------------------------------------------------------------------


def form(items: list[dict[str, str]], reason: str = "New price from May") -> bytes:
    fields = {"reason": reason}
    for index, item in enumerate(items):
        fields.update({f"items.{index}.{name}": value for name, value in item.items()})
    return urlencode(fields).encode()


GYM_FIELDS = {"description": "Gym membership", "category": "membership",
              "supplier": "Better Leisure", "recurrence": "one_off", "cost_pence": "150.00"}


def test_the_referrer_changes_the_items_through_their_acknowledgement(memory: Services) -> None:
    reference = submit(memory, items=[gym(12000)])
    link = link_of(emails_to(memory, REFERRER, "received")[0], "amend")
    shown = pages.show(memory, "amend", link)
    assert shown.status_code == 200
    assert 'value="120.00"' in shown.body and 'value="Gym membership"' in shown.body
    wrong = pages.act(memory, "amend", link, form([{**GYM_FIELDS, "cost_pence": "a lot"}], ""))
    assert wrong.status_code == 422
    assert 'href="#items.0.cost_pence"' in wrong.body and 'href="#reason"' in wrong.body
    assert memory.store.referrals.get(reference).total_pence == 12000
    done = pages.act(memory, "amend", link, form([GYM_FIELDS]))
    assert done.status_code == 200, done.body
    assert "£120.00 before, £150.00 now" in done.body and "Signed off again" in done.body
    [detail] = amendments(memory, reference)
    assert detail["reason"] == "New price from May"
    assert memory.store.referrals.history(reference)[-1].who == REFERRER
    # The link is theirs to use again, until the PHB ends.
    assert pages.show(memory, "amend", link).status_code == 200
    commands.withdraw(memory, memory.store.referrals.get(reference), REFERRER, "")
    assert pages.show(memory, "amend", link).status_code == 409


def test_removing_an_item_and_adding_one_through_the_link(memory: Services) -> None:
    reference = submit(memory, items=[gym(6000), gym(4000, supplier="PureGym")])
    link = link_of(emails_to(memory, REFERRER, "received")[0], "amend")
    swim = {"description": "Swimming lessons", "category": "course", "supplier": "Better",
            "recurrence": "one_off", "cost_pence": "30"}
    posted = form([{**GYM_FIELDS, "cost_pence": "60"}, {**GYM_FIELDS, "remove": "yes"}, swim])
    assert pages.act(memory, "amend", link, posted).status_code == 200
    items = referral_of(memory, reference).items
    assert [(i.description, i.cost_pence) for i in items] == [("Gym membership", 6000),
                                                              ("Swimming lessons", 3000)]
    assert "Item 2 what it is: Gym membership → Swimming lessons" in amendments(
        memory, reference)[0]["changes"]


# --- the agreement, readable again -----------------------------------------------------------


def test_the_accepted_agreement_stays_readable(memory: Services) -> None:
    reference = submit(memory, items=[gym(12000)], person={
        **referral_of_person(), "email": "Alex.Morgan@example.com"})
    sign_off_all(memory, reference)
    request(memory, reference, "agreement_request", step="agreement")
    person_link = link_of(emails_to(memory, "Alex.Morgan@example.com", "agreement")[-1],
                          "agreement")
    accepted = pages.act(memory, "agreement", person_link, urlencode(
        {"name": "Alex Morgan", "accept": "yes", "choice": "accept"}).encode())
    assert accepted.status_code == 200
    # The used link opens a read-only copy of what was accepted.
    copy = pages.show(memory, "agreement", person_link)
    assert copy.status_code == 200
    assert "Name typed to accept" in copy.body and "Alex Morgan" in copy.body
    assert memory.settings.agreement_version in copy.body and "£120.00" in copy.body
    assert "<form" not in copy.body
    # The acceptance email carries a link to the copy, not its content, to both of them.
    tasks.run(memory, {"task": "notify", "referral_id": reference, "kind": "agreement_copy",
                       "notice": "t"})
    tasks.run(memory, {"task": "notify", "referral_id": reference, "kind": "agreement_copy",
                       "notice": "retried"})
    for address in (REFERRER, "Alex.Morgan@example.com"):
        [email] = emails_to(memory, address, "agreement has been accepted")
        assert "Gym" not in email.text and "Alex" not in email.text
        copy_link = link_of(email, "agreement-copy")
        assert "Name typed to accept" in pages.show(memory, "agreement-copy", copy_link).body
        assert pages.act(memory, "agreement-copy", copy_link, b"").status_code == 405
    # After an amendment the first copy says it has changed since.
    changed(memory, reference, [gym(10000)])
    first = pages.show(memory, "agreement-copy", link_of(
        emails_to(memory, REFERRER, "agreement has been accepted")[0], "agreement-copy"))
    assert "The items have changed since" in first.body and "£120.00" in first.body


def referral_of_person() -> dict[str, Any]:
    from tests.factories import make_referral

    return dict(make_referral()["person"])


def test_what_a_review_flagged_for_an_advisor_survives_an_amendment_sent_to_sign_off(
        memory: Services) -> None:
    reference = released(memory, pence=1000)
    commands.record_review(memory, memory.store.referrals.get(reference), REFERRER, {
        "bought": "partly", "goals": [{"goal": "Gym", "progress": "progressing"}],
        "reqol10_items": [2] * 10, "reqol10_physical_health": 2, "receipts": "yes",
        "unspent_pence": 0, "notes": ""})
    done = changed(memory, reference, [gym(25000)], manager=JO)
    stored = memory.store.referrals.get(reference)
    assert (done.needed, stored.status) == (amendment.SIGN_OFF, "awaiting_sign_off")
    assert [f["code"] for f in stored.flags] == ["review_partly_bought"]
