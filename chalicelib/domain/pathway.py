"""Referral statuses, the transitions allowed between them, the steps a referral waits on and
what ends each wait.

Every status change in the table is a conditional write from one of the allowed previous
statuses, so two clicks or two approvers can never both win, and funds can never be recorded as
released before the agreement is accepted.
"""

from __future__ import annotations

from typing import Any, Protocol

from chalicelib.domain.codes import STATUSES

FINAL = ("closed", "rejected", "expired", "withdrawn")
OPEN = tuple(s for s in STATUSES if s not in FINAL)

# to-status -> the statuses it may be reached from
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "awaiting_sign_off": ("submitted", "awaiting_sign_off", "awaiting_information"),
    "awaiting_information": ("awaiting_sign_off",),
    "approved": ("awaiting_sign_off",),
    "agreement_accepted": ("approved",),
    "funds_released": ("agreement_accepted",),
    "reviewed": ("funds_released",),
    "closed": ("reviewed",),
    "rejected": ("awaiting_sign_off",),
    "expired": ("awaiting_sign_off", "awaiting_information", "approved", "agreement_accepted"),
    "withdrawn": OPEN,
    "needs_attention": tuple(s for s in OPEN if s != "needs_attention"),
    # Only a referral whose workflow never started goes back to submitted (the advisor starts it).
    "submitted": ("needs_attention",),
}


def allowed_from(status: str) -> tuple[str, ...]:
    return ALLOWED_FROM[status]


# Outside the table, each with its own guard (chalicelib/actions/amend.py): an amendment sends a
# referral back to sign-off or to its agreement, accepting the agreement again resumes it, and a
# refused amendment returns it to where it was. None of these is open to the changes above.


# The steps a person is asked to act on. A sign-off step is named after its approver.
SIGN_OFF_STEPS = ("referrer", "manager", "panel", "advisor")
# Steps that end the referral when nobody answers; the rest keep waiting after escalation.
EXPIRING_STEPS = (*SIGN_OFF_STEPS, "information", "agreement")
# Waits for a time (the review, closure), not a person; only the referral ending cuts them short.
DUE_STEPS = ("review_due", "closure_due")

# The one-time link each step's emails carry, by the action it allows.
ACTION_FOR_STEP: dict[str, str] = {
    **{step: "sign-off" for step in SIGN_OFF_STEPS},
    "information": "answer",
    "agreement": "agreement",
    "release": "release",
    "review": "review",
    "closure": "closure",
}
# What a link lets its recipient do, by the path it is served under.
LINK_ACTIONS = ("sign-off", "answer", "agreement", "release", "review", "closure", "withdraw",
                "outcome", "amend", "agreement-copy")
# Links a person keeps, for the referral rather than one step: never used up, never for
# someone else (each is emailed to its recipient alone).
STANDING_LINKS = ("withdraw", "outcome", "amend", "agreement-copy")


def next_approver(approvers: list[str], step: str) -> str | None:
    """The approver after `step`, or None when `step` was the last."""
    index = approvers.index(step)
    return approvers[index + 1] if index + 1 < len(approvers) else None


# After sign-off, the statuses in the order a referral passes through them.
_LATER = ("approved", "agreement_accepted", "funds_released", "reviewed", "closed")
# The status a step's wait ends in, and what the state machine is told.
_DONE_AT = {
    "agreement": ("agreement_accepted", "accepted"),
    "release": ("funds_released", "released"),
    "review": ("reviewed", "reviewed"),
    "closure": ("closed", "closed"),
}


# The status each step after sign-off is open at.
_OPEN_AT = {"agreement": "approved", "release": "agreement_accepted", "review": "funds_released",
            "closure": "reviewed"}
# Accepting an agreement again, after an amendment, returns a referral whose money was already
# being released to where it was; the state machine's agreement wait routes on these.
_RESUMED = {"funds_released": "released", "reviewed": "reviewed", "closed": "reviewed"}


class Progress(Protocol):
    """What `outcome_if_done` needs of a referral (`StoredReferral`, or a stand-in in tests)."""

    @property
    def status(self) -> str: ...

    @property
    def step(self) -> str | None: ...

    @property
    def approvers(self) -> tuple[str, ...]: ...

    @property
    def recorded(self) -> dict[str, Any]: ...


def outcome_if_done(referral: Progress, step: str) -> str | None:
    """What ended a step's wait, or None while the step still waits for someone.

    The state machine asks this when it starts (or restarts) waiting, so an action taken just
    before, or while a reminder was being sent, is never lost.
    """
    status = referral.status
    if status in ("withdrawn", "expired"):
        return status
    if status == "needs_attention" or step in DUE_STEPS:
        return None
    if step in SIGN_OFF_STEPS:
        return _sign_off_outcome(referral, step)
    if step == "information":
        return None if status in ("awaiting_information", "submitted") else "answered"
    if step == "agreement" and status in _RESUMED:
        # Accepted again after an amendment: the pathway goes on from where the money was.
        return _RESUMED[status]
    done_status, outcome = _DONE_AT[step]
    if status in _LATER and _LATER.index(status) >= _LATER.index(done_status):
        return outcome
    return None


def open_for(referral: Progress, step: str) -> bool:
    """Whether a step after sign-off is the one the referral waits on (an amendment can send a
    referral back, so an older email's link may be for a step not open now)."""
    return referral.status == _OPEN_AT.get(step, referral.status)


def _sign_off_outcome(referral: Progress, step: str) -> str | None:
    status = referral.status
    if status == "rejected":
        return "rejected"
    if status == "awaiting_information":
        asked = referral.recorded.get("question", {}).get("step")
        if asked == step:
            return "more_information"
        # An approver before the one who asked has signed off already.
        order = referral.approvers
        before = step in order and asked in order and order.index(step) < order.index(asked)
        return "approved" if before else None
    if status == "awaiting_sign_off":
        current = referral.step or ""
        if current == step or step not in referral.approvers:
            return None
        done = referral.approvers.index(step) < referral.approvers.index(current)
        return "approved" if done else None
    return "approved" if status in _LATER else None
