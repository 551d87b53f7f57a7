"""Driving a referral through its use cases on the in-memory adapters, as the state machine
would: the tests call the tasks themselves (the in-memory workflow runs nothing)."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.bootstrap import Services
from chalicelib.domain.records import Email
from chalicelib.domain.validation import validate_referral
from chalicelib.intake import submission
from chalicelib.workflow import tasks
from tests.factories import make_referral

LINK = re.compile(r"/act/([a-z-]+)/([A-Za-z0-9_-]+)")


def submit(svc: Services, **changes: Any) -> str:
    """A valid referral submitted and through intake: its sign-off step waits."""
    referral = validate_referral(make_referral(**changes), svc.settings)
    assert not isinstance(referral, list), referral
    reference = submission.submit(svc, referral, None).reference
    tasks.run(svc, {"task": "record_intake", "referral_id": reference})
    tasks.run(svc, {"task": "notify", "referral_id": reference, "kind": "acknowledgement",
                    "notice": "t0"})
    return reference


def request(svc: Services, reference: str, kind: str, step: str | None = None,
            notice: str = "t1") -> None:
    """The state machine's request for a step, and its wait (with a task token)."""
    event = {"task": "notify", "referral_id": reference, "kind": kind, "notice": notice}
    if step:
        event["step"] = step
    tasks.run(svc, event)
    waiting = step or svc.store.referrals.get(reference).step
    tasks.run(svc, {"task": "await", "referral_id": reference, "step": waiting,
                    "token": f"token-{reference}-{waiting}-{notice}"})


def emails_to(svc: Services, address: str, words: str = "") -> list[Email]:
    return [e for e in svc.mailer.sent  # type: ignore[attr-defined]
            if e.to == address and words in e.subject]


def link_of(email: Email, action: str) -> str:
    """The link id of the email's link for `action`."""
    found = [m.group(2) for m in LINK.finditer(email.text) if m.group(1) == action]
    assert found, (action, email.text)
    return found[0]
