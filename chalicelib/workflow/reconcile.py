"""Finding referrals whose pathway stopped without anyone being told.

Two ways in, both through the pathway function:

- `reconcile`, every 15 minutes (an EventBridge schedule): each referral whose status says an
  execution should be running (submitted, awaiting sign-off, ... reviewed) but none is, is
  handed to the advisors (`recovery.mark`, which emails them once); and the advisors' email
  about a referral needing attention that could not be sent then is sent now. It reads the
  status index for those statuses and lists the running executions: a handful of requests when
  there is nothing to do, never a scan of the table.
- `execution_ended`, when Step Functions reports an execution failed, timed out or was
  stopped (an EventBridge rule): the referral is marked at once, not 15 minutes later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.domain import pathway
from chalicelib.domain.dates import iso

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services

# The statuses a running execution carries a referral through.
EXPECTING = ("submitted", "awaiting_sign_off", "awaiting_information", "approved",
             "agreement_accepted", "funds_released", "reviewed")
ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")


def reconcile(svc: Services, now: datetime | None = None) -> dict[str, Any]:
    """Mark every open referral with no running execution; what was checked and marked."""
    from chalicelib.adapters.stepfunctions import reference_of_execution
    from chalicelib.workflow.recovery import attempt_of, failure, mark

    referrals = svc.store.referrals
    moment = now or datetime.now(UTC)
    # A referral changed this recently may be starting its execution (a submission, a
    # resume): it is looked at on the next run.
    settled = iso(moment - timedelta(seconds=svc.settings.reconcile_after_seconds))
    running = {reference_of_execution(name) for name in svc.workflow.running()}
    rows = referrals.in_statuses(EXPECTING)
    marked = []
    for row in rows:
        if row.reference in running or row.updated_at > settled:
            continue
        stored = referrals.get(row.reference)
        status = svc.workflow.status(stored.reference, attempt_of(stored))
        if stored.status not in EXPECTING or status == "RUNNING":
            continue
        code, reason = failure({"Error": "NotStarted" if status is None else status})
        if mark(svc, stored.reference, code, reason):
            marked.append(stored.reference)
    return {"checked": len(rows), "marked": marked, "alerted": _alert_again(svc)}


def _alert_again(svc: Services) -> list[str]:
    """The advisors' email about each referral needing attention, for any whose email could
    not be sent when it was marked (each is sent once per marking: the rest cost a read)."""
    from chalicelib.workflow.notices import alert_advisors

    referrals, alerted = svc.store.referrals, []
    for row in referrals.in_statuses(("needs_attention",)):
        attention = referrals.get(row.reference).recorded.get("attention")
        if attention and alert_advisors(svc, row.reference, attention["reason"],
                                        notice=attention["at"]):
            alerted.append(row.reference)
    return alerted


def execution_ended(svc: Services, event: dict[str, Any]) -> dict[str, Any]:
    """Step Functions says an execution ended badly (`name`, `status`): mark its referral,
    unless a newer attempt has replaced it or the referral was already marked."""
    from chalicelib.adapters.stepfunctions import execution_name, reference_of_execution
    from chalicelib.workflow.recovery import attempt_of, failure, mark

    name, status = str(event.get("name", "")), str(event.get("status", ""))
    stored = svc.store.referrals.find(reference_of_execution(name))
    if stored is None or status not in ENDED_BADLY:
        return {"marked": False}
    if execution_name(stored.reference, attempt_of(stored)) != name:
        return {"marked": False}  # an earlier attempt, replaced by a resume
    if stored.status in pathway.FINAL and status == "ABORTED":
        return {"marked": False}  # stopped after it ended: nothing is left to do
    code, reason = failure({"Error": status})
    return {"marked": mark(svc, stored.reference, code, reason)}
