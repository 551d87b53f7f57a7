"""Who signs a referral off, decided on the person: their other PHBs (found by NHS number)
count towards the tier, the same number under another name or date of birth is flagged, and
an approving manager who may be the referrer under another NHS address is flagged; so are a
postcode the sector table cannot place in the borough for sure, and a monthly item paid for
after the last goal's target date.

Used where the decision is shown before sending (check your answers, the API's validation) and
where it is made (intake, in the state machine), so both say the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from chalicelib.domain import ledger, pathway, person
from chalicelib.domain.errors import FieldError
from chalicelib.domain.funding import Flag, SignOff, paid_past_the_goals, sign_off
from chalicelib.domain.identity import same_name_at_another_nhs_domain
from chalicelib.domain.money import format_pence
from chalicelib.domain.records import StoredReferral

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.config import Settings
    from chalicelib.domain.referral import Referral

WHO = {"referrer": "the referrer", "manager": "the approving manager",
       "panel": "the approving manager, then the PHB Oversight Panel,"}


@dataclass(frozen=True)
class Decision:
    sign_off: SignOff
    basis: person.Basis
    others: list[person.OtherPHB]  # every other referral with this NHS number
    mismatched: list[person.OtherPHB]

    @property
    def why(self) -> str:
        """The tier in words, with what it was decided on."""
        if self.sign_off.streamlined:
            return "Smartphone and data within the catalogue caps: the referrer signs off"
        return self.basis.words(WHO[self.sign_off.tier])


def other_phb(stored: StoredReferral) -> person.OtherPHB | None:
    """What another referral of the person counts for; None once its data is removed."""
    from chalicelib.domain.referral import load_stored

    if not stored.answers:
        return None
    answers = load_stored(stored.answers)
    money = stored.ledger
    return person.OtherPHB(
        reference=stored.reference, status=stored.status, submitted_at=stored.created_at,
        first_name=answers.person.first_name, last_name=answers.person.last_name,
        date_of_birth=answers.person.date_of_birth.isoformat(),
        requested_pence=stored.total_pence,
        approved_pence=ledger.approved_total(money) if money else None,
        approved_at=stored.approved_at, released_pence=ledger.released_total(money),
        ended_at=stored.updated_at if stored.status in pathway.FINAL else None,
        items=tuple(person.PriorItem(i.description, i.category, i.cost_pence, i.recurrence,
                                     i.months) for i in answers.items))


def others_of(svc: Services, nhs_number: str, excluding: str | None = None
              ) -> list[person.OtherPHB]:
    """The person's other referrals that still hold their data, oldest first."""
    referrals = svc.store.referrals
    found = [other_phb(referrals.get(reference))
             for reference in referrals.references_for_person(nhs_number)
             if reference != excluding]
    return [other for other in found if other is not None]


def _people_flags(referral: Referral, mismatched: list[person.OtherPHB],
                  panel: tuple[str, ...]) -> list[Flag]:
    flags = []
    if mismatched:
        flags.append(Flag("possible_mismatch", "Possible mismatch: check the NHS number. It is "
                          "on file under another name or date of birth ("
                          + ", ".join(o.reference for o in mismatched) + ")"))
    referrer = referral.referrer.email
    manager = referral.approving_manager
    if manager and same_name_at_another_nhs_domain(manager.email, referrer):
        flags.append(Flag("approver_may_be_referrer", "The approving manager's address has the "
                          "referrer's name at another NHS domain: check they are different "
                          "people"))
    if any(same_name_at_another_nhs_domain(member, referrer) for member in panel):
        flags.append(Flag("panel_member_may_be_referrer", "A PHB Oversight Panel address has "
                          "the referrer's name at another NHS domain: check they are different "
                          "people"))
    return flags


def referral_flags(referral: Referral, settings: Settings, today: date) -> list[Flag]:
    """What an advisor checks in the referral itself, beyond the funding exclusions: the
    postcode's borough when its sector is shared or unknown, and monthly items paid past the
    goals."""
    from chalicelib.domain.places import place_of

    who = referral.person
    place = place_of(who.postcode, who.borough, settings.postcode_sectors)
    doubt = place.doubt()
    flags = [Flag(f"postcode_{place.fit}", doubt)] if doubt else []
    goals_end = max((goal.target_date for goal in referral.goals), default=None)
    return [*flags, *paid_past_the_goals(referral.items, goals_end, today)]


def decide(svc: Services, referral: Referral, reference: str | None = None,
           today: date | None = None) -> Decision:
    """Who signs `referral` off (stored as `reference`, or about to be sent)."""
    settings = svc.settings
    today = today or date.today()
    who = referral.person
    dob = who.date_of_birth.isoformat()
    others = others_of(svc, who.nhs_number, excluding=reference)
    window = settings.person_window_days
    basis = person.basis(referral.total_pence, others, who.first_name, who.last_name, dob,
                         today, window)
    mismatched = person.mismatches(others, who.first_name, who.last_name, dob)
    decision = sign_off(
        referral.items, settings.funding_rules, settings.referrer_signoff_below_pence,
        settings.manager_signoff_up_to_pence, person_total=basis.total_pence,
        before=person.prior_items(others, who.first_name, who.last_name, dob, today, window),
        flags=[*referral_flags(referral, settings, today),
               *_people_flags(referral, mismatched, settings.panel_emails)])
    return Decision(decision, basis, others, mismatched)


def approvers_for(decision: Decision, referral: Referral) -> tuple[list[str], list[dict[str, Any]]]:
    """Who signs off, in order, and the flags recorded: as decided, except that a PHB advisor
    signs off in the manager's place when the person's total needs a manager and none was
    given (another of their PHBs was approved after this was sent)."""
    flags: list[dict[str, Any]] = [flag.as_dict() for flag in decision.sign_off.flags]
    approvers: list[str] = list(decision.sign_off.approvers)
    if "manager" in approvers and referral.approving_manager is None:
        approvers = [step for step in approvers if step != "manager"]
        approvers = approvers if "advisor" in approvers else [*approvers, "advisor"]
        flags.append({"code": "no_approving_manager", "item": None, "reason": (
            "The person's total needs an approving manager, and none was given: a PHB advisor "
            "signs off instead")})
    return approvers, flags


def manager_needed(decision: Decision, referral: Referral) -> list[FieldError]:
    """The approving manager is asked for when the person's total needs one."""
    if decision.sign_off.tier == "referrer" or referral.approving_manager is not None:
        return []
    counted = decision.basis.counted
    return [FieldError(
        "approving_manager",
        "Enter your approving manager's details: with the person's other PHB"
        + ("s" if len(counted) > 1 else "") + " (" + ", ".join(
            f"{format_pence(c.pence)} on {c.on}" for c in counted) + ") the total is "
        f"{format_pence(decision.basis.total_pence)}, which they sign off")]


@dataclass(frozen=True)
class Related:
    """Another PHB with the person's NHS number, as an approver or advisor reads it."""

    reference: str
    status: str
    submitted_on: str
    amount_pence: int
    approved: bool
    same_person: bool


def related(svc: Services, stored: StoredReferral, referral: Referral) -> list[Related]:
    """The person's PHBs worth knowing about beside this one (open, or ended within the
    window), and any with the same NHS number under another name or date of birth."""
    who = referral.person
    dob = who.date_of_birth.isoformat()
    others = others_of(svc, who.nhs_number, excluding=stored.reference)
    shown = person.current(others, date.today(), svc.settings.person_window_days)
    mismatched = {o.reference for o in person.mismatches(others, who.first_name,
                                                         who.last_name, dob)}
    return [Related(o.reference, o.status, o.submitted_at[:10],
                    o.approved_pence if o.approved_pence is not None else o.requested_pence,
                    o.approved_pence is not None, o.reference not in mismatched)
            for o in others if o in shown or o.reference in mismatched]
