"""What a person reads once they have acted through a link: what was done, what happens next
for them in plain words, and where to go now (the referrer to their referrals, an advisor to
the case), never just "you can close this page"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.domain.dates import long_date
from chalicelib.domain.records import StoredReferral

if TYPE_CHECKING:
    from chalicelib.config import Settings
    from chalicelib.domain.referral import Referral

# The referrer's own referrals, where they see what waits on them.
MY_REFERRALS = "/my-referrals"
# Who decides next, as "It now goes to {who}".
DECIDERS = {"referrer": "the referrer", "manager": "the approving manager",
            "panel": "the PHB Oversight Panel", "advisor": "a PHB advisor"}
# Who acts on each action's link, when it is not its step's approver.
REFERRER_ACTIONS = ("answer", "review", "closure", "withdraw", "amend")


@dataclass(frozen=True)
class Done:
    """The page after an action: `message` what was done, `then` what happens next, and the
    link onward (to the referrer's referrals, or to the case for an advisor)."""

    message: str
    then: tuple[str, ...]
    referrer: bool = False
    case: bool = False

    def context(self, reference: str) -> dict[str, Any]:
        """What actions/done.html shows."""
        return {"message": self.message, "then": list(self.then), "reference": reference,
                "my_referrals": MY_REFERRALS if self.referrer else None,
                "case": f"/staff/referrals/{reference}" if self.case else None}


def after(outcome: str, action: str, step: str, before: StoredReferral, now: StoredReferral,
          referral: Referral, settings: Settings) -> Done:
    """The page for `outcome` (what was done) of `action` on `step`, from the referral as it
    was (`before`) and as it is now."""
    by_referrer = action in REFERRER_ACTIONS or step == "referrer"
    by_advisor = action == "release" or step == "advisor"
    if action == "sign-off":
        done = _sign_off(outcome, step, now, referral)
    elif action == "agreement":
        done = _agreement(outcome, referral)
    elif action == "release":
        done = _release(before, now, settings)
    else:
        done = _referrer(outcome, now, referral)
    return Done(done.message, done.then, referrer=by_referrer, case=by_advisor)


def _sign_off(outcome: str, step: str, now: StoredReferral, referral: Referral) -> Done:
    you = step == "referrer"
    if outcome == "more_information":
        return Done("Your question has been sent to the referrer.", (
            "When they answer, we will email you a new link to read their answer and decide "
            "on the request.", "Until then there is nothing for you to do."))
    if outcome == "rejected" and now.status == "rejected":
        return Done("The request has been rejected.", (
            "Nothing will be paid and the referral has ended.",
            "The reason you gave is kept in the referral's history." if you else
            "The referrer is emailed a link to read your reason. They can talk to the PHB "
            "team, or make a new referral that addresses it."))
    if outcome == "rejected":  # an amendment refused: the PHB goes on as approved before
        return Done("The change has been refused.", (
            "The PHB goes on as it was approved before.",
            "The referrer is emailed a link to read your reason."))
    if now.status == "awaiting_sign_off" and now.step:
        return Done("Your approval has been recorded.", (
            f"It now goes to {DECIDERS.get(now.step, 'the next approver')} to sign off. "
            "We will email them a link.",
            "There is nothing more for you to do on this request."
            + (" We will email you when there is." if you else "")))
    to_person = ("The person is emailed the direct payment agreement to read and accept."
                 if referral.person.email else
                 "The person has no email address on the referral, so the direct payment "
                 "agreement is emailed to " + ("you" if you else "the referrer")
                 + " to share with them.")
    then = [to_person, "No money is released until they accept it. Then a PHB advisor "
                       "releases the money."]
    if you:
        then.append("We will email you a copy of the agreement once it is accepted, and a link "
                    "to the 6-week review 6 weeks after the money is released.")
    return Done("The request is signed off.", tuple(then))


def _agreement(outcome: str, referral: Referral) -> Done:
    if outcome == "declined":
        return Done("You have said you do not want this personal health budget.", (
            "Nothing will be paid, and your care team has been told.",
            "If you change your mind, talk to your care team."))
    copy_to = "you" if referral.person.email else "your care team"
    return Done("You have accepted the agreement.", (
        "A PHB advisor now arranges for the money to be released.",
        f"We will email {copy_to} a link to a copy of what you accepted, to read or print.",
        "About 6 weeks after the money is released, your care team will ask how it is going. "
        "Keep the receipts for what you buy."))


def _release(before: StoredReferral, now: StoredReferral, settings: Settings) -> Done:
    then = []
    if before.status == "agreement_accepted":
        at = str(now.recorded.get("release", {}).get("at", ""))
        if at:
            due = long_date(_day(at) + timedelta(seconds=settings.review_after_seconds))
            then.append(f"The referrer will be emailed a link to the 6-week review on {due}.")
    if now.next_release_due:
        then.append(f"The next monthly release is due on {long_date(now.next_release_due)}: "
                    "record it on the case page once it is paid.")
    elif before.status != "agreement_accepted":
        then.append("The approved money has now all been released.")
    return Done("The release has been recorded.", tuple(then))


def _referrer(outcome: str, now: StoredReferral, referral: Referral) -> Done:
    if outcome == "answer":
        step = str((now.recorded.get("question") or {}).get("step") or now.step or "")
        return Done("Your answer has been sent.", (
            f"The request has gone back to {DECIDERS.get(step, 'the person who asked')}, who "
            "will decide on it. We will email you when there is something for you to do.",))
    if outcome == "review":
        goal_date = max(goal.target_date for goal in referral.goals)
        then = [f"We will email you a link to close the PHB at the goal date, "
                f"{long_date(goal_date)}."]
        then += _followed_up(now, "review_")
        return Done("The review has been sent.", tuple(then))
    if outcome == "closure":
        return Done("The PHB is closed.", ("There is nothing more for you to do. Thank you.",
                                           *_followed_up(now, "closure_")))
    return Done("The referral has been withdrawn.", (
        "Nothing more will be paid, and everyone waiting on it has been told.",))


def _followed_up(now: StoredReferral, prefix: str) -> list[str]:
    """What a PHB advisor follows up from the answers just given, if anything."""
    reasons = [str(f.get("reason", "")).split(": ", 1)[-1] for f in now.flags
               if str(f.get("code", "")).startswith(prefix)]
    if not reasons:
        return []
    return ["A PHB advisor will follow up what you told us (" + "; ".join(reasons)
            + ") and may contact you."]


def _day(at: str) -> date:
    return date.fromisoformat(at[:10])


def amended(message: str) -> Done:
    """The referrer's change to the items: what happens next is in `message` already."""
    return Done(message, (), referrer=True)

