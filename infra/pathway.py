"""The state machine, built: `python infra/pathway.py` writes `infra/pathway.asl.json`.

The JSON stays committed: it is the one file CloudFormation deploys (with
`DefinitionSubstitutions` for the function's ARN) and that moto executes in the tests and in
`make run`. tests/unit/test_state_machine.py fails when building again would change it.

One Standard execution per referral, named by its reference, input {"referral_id": ...}. Every
task calls the `pathway` Lambda function with a task name; no personal data passes through the
execution. The repeated shapes are one helper each: `ask` (email a person, wait for their link
with a timeout, remind, escalate, route the answer), `wait_until` (the 6-week review, closure at
the goal date), `task` (one retry policy for every call, and a catch that marks the referral for
an advisor).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ASL = Path(__file__).resolve().parent / "pathway.asl.json"
State = dict[str, Any]

# Lambda's own transient errors, and the app's name for AWS errors worth retrying
# (chalicelib/workflow/failures.py).
RETRY = [{
    "ErrorEquals": ["Lambda.ServiceException", "Lambda.AWSLambdaException",
                    "Lambda.SdkClientException", "Lambda.TooManyRequestsException",
                    "TransientError"],
    "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2, "JitterStrategy": "FULL",
}]
MARK = {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NeedsAttention"}
TIMEOUTS = ["States.Timeout", "States.HeartbeatTimeout"]
ENTERED = "$$.State.EnteredTime"  # each email's notice: sent once per entering of its state
STARTED = "$$.Execution.StartTime"  # an execution near its maximum age is handed over
REMINDS = ("Reminds whoever the step waits for; after the configured reminders escalates to "
           "the PHB advisors; then, where the step can expire, expires the referral.")


def task(name: str, next_state: str, comment: str = "", *, payload: dict[str, Any] | None = None,
         marks: bool = True, wait_seconds: str = "", result: str | None = None,
         selector: dict[str, str] | None = None,
         catch: list[dict[str, Any]] | None = None) -> State:
    """A call of the pathway function's task `name` (with `payload` besides the referral's id);
    with `wait_seconds` (a path), a wait for its task token with that timeout. Retries transient
    errors; other failures mark the referral for an advisor, except inside the sign-off map
    (`marks=False`), whose own catch does."""
    state: State = {"Type": "Task"}
    if comment:
        state["Comment"] = comment
    resource = "arn:aws:states:::lambda:invoke"
    payload = {"task": name, "referral_id.$": "$.referral_id", **(payload or {})}
    if wait_seconds:
        resource += ".waitForTaskToken"
        payload["token.$"] = "$$.Task.Token"
    state.update(Resource=resource,
                 Parameters={"FunctionName": "${PathwayFunctionArn}", "Payload": payload})
    if wait_seconds:
        state["TimeoutSecondsPath"] = wait_seconds
    if selector:
        state["ResultSelector"] = selector
    state.update(ResultPath=result, Retry=RETRY)
    catches = [*(catch or []), *([MARK] if marks else [])]
    if catches:
        state["Catch"] = catches
    state["Next"] = next_state
    return state


def notify(kind: str, next_state: str, comment: str = "", marks: bool = True,
           step: str | None = None, revision: str | None = None) -> State:
    """Send the email of `kind` (chalicelib/workflow/tasks.py `notify`), for `step` if given
    (a name, or a path such as `$.step`); with `revision` (a path), only while the referral is
    still at that revision."""
    step_of = {} if not step else {"step.$": step} if step.startswith("$") else {"step": step}
    return task("notify", next_state, comment, marks=marks,
                payload={"kind": kind, "notice.$": ENTERED, **step_of,
                         **({"revision.$": revision} if revision else {})})


def route(path: str, outcomes: dict[str, str], otherwise: str) -> State:
    return {"Type": "Choice",
            "Choices": [{"Variable": path, "StringEquals": outcome, "Next": target}
                        for outcome, target in outcomes.items()],
            "Default": otherwise}


def ask(name: str, kind: str, step: str | None, *, wait_seconds: str, answer: str,
        outcomes: dict[str, str], expired: str, unexpected: str, comments: tuple[str, str],
        marks: bool = True, revision: str = "$.intake.revision") -> dict[str, State]:
    """Ask a person: email them a link, wait for it with a timeout, remind on each timeout
    (escalating, and expiring where the step can), and route the answer.

    `step` None: the step is the map item's (`$.step`), which the request reads from the
    referral itself. `answer` is where the wait's outcome goes; `outcomes` maps it to the next
    state. Each call carries the `revision` the execution follows: once an amendment has
    raised the referral's, the request is not sent and the wait ends at once ("amended")."""
    request, wait = comments
    step_of = {"step.$": "$.step"} if step is None else {"step": step}
    step_of["revision.$"] = revision
    # Outside the sign-off map (whose steps expire) a wait is handed to the advisors after
    hands_over = marks  # the last reminder, or when the execution nears its maximum age.
    choices = [{"Variable": "$.reminder.expired", "BooleanEquals": True, "Next": expired}]
    if hands_over:
        choices.append({"Variable": "$.reminder.handover", "BooleanEquals": True,
                        "Next": "HandOver"})
    return {
        f"Request{name}": notify(kind, f"Await{name}", request, marks, step or "$.step",
                                 revision),
        f"Await{name}": task("await", f"Route{name}", wait, payload=step_of, marks=marks,
                             wait_seconds=wait_seconds, result=answer,
                             catch=[{"ErrorEquals": TIMEOUTS, "ResultPath": None,
                                     "Next": f"Remind{name}"}]),
        f"Remind{name}": task("remind", f"After{name}Reminder", REMINDS, marks=marks,
                              payload={**step_of, "notice.$": ENTERED,
                                       **({"started.$": STARTED} if hands_over else {})},
                              result="$.reminder",
                              selector={"expired.$": "$.Payload.expired",
                                        **({"handover.$": "$.Payload.handover",
                                            "code.$": "$.Payload.code", "step.$": "$.Payload.step",
                                            "reminders.$": "$.Payload.reminders"}
                                           if hands_over else {})}),
        f"After{name}Reminder": {"Type": "Choice", "Choices": choices,
                                 "Default": f"Await{name}"},
        f"Route{name}": route(f"{answer}.outcome", outcomes, unexpected),
    }


# What the execution carries of the sign-off (chalicelib/workflow/tasks.py `_intake`).
INTAKE = {"tier.$": "$.Payload.tier", "approvers.$": "$.Payload.approvers",
          "wait_seconds.$": "$.Payload.wait_seconds", "revision.$": "$.Payload.revision"}
ENDS = {"withdrawn": "NotifyWithdrawn", "expired": "NotifyExpired",
        "amended": "AfterAmendment"}


def ask_after_sign_off(name: str, kind: str, step: str, done: dict[str, str],
                       comments: tuple[str, str]) -> dict[str, State]:
    """A step after sign-off: its wait ends in one of `done` (each outcome to the state it goes
    on to), or in a withdrawal, expiry or amendment."""
    return ask(name, kind, step, wait_seconds="$.intake.wait_seconds", answer="$.outcome",
               outcomes={**done, **ENDS}, expired="NotifyExpired",
               unexpected="UnexpectedOutcome", comments=comments)


def wait_until(name: str, step: str, comments: tuple[str, str, str]) -> dict[str, State]:
    """Wait until the time the `schedule` task works out for `step`, then ask for it. A task
    rather than a Wait state, so that a withdrawal meanwhile ends the execution at once."""
    schedule, wait, ended = comments
    return {
        # A wait that would end past the execution's maximum age fails the task with
        # ExecutionTooOld: its catch hands the referral to the advisors, to resume.
        f"Schedule{name}": task("schedule", f"WaitFor{name}", schedule,
                                payload={"step": step, "started.$": STARTED},
                                selector={"at.$": "$.Payload.at",
                                          "seconds.$": "$.Payload.seconds"},
                                result="$.schedule"),
        f"WaitFor{name}": task("await", f"After{name}Due", wait,
                               payload={"step": f"{step}_due",
                                        "revision.$": "$.intake.revision"},
                               wait_seconds="$.schedule.seconds", result="$.outcome",
                               catch=[{"ErrorEquals": TIMEOUTS, "ResultPath": None,
                                       "Next": f"Request{name}"}]),
        f"After{name}Due": {"Comment": ended, **route("$.outcome.outcome", ENDS,
                                                      f"Request{name}")},
    }


def end(kind: str, name: str, comment: str, ended: str) -> dict[str, State]:
    """Tell the referrer how the referral ended, then end the execution."""
    return {f"Notify{name}": notify(kind, f"{name}End", comment),
            f"{name}End": {"Type": "Succeed", "Comment": ended}}


def sign_off() -> State:
    """Each approver in turn (a Map over the approvers intake decided), each asked in the same
    way; a question to the referrer comes back to the approver who asked."""
    ended = {"Expired": "Nobody answered in time.", "Withdrawn": "The referral was withdrawn.",
             "Amended": "The request was amended: sign-off starts again at the tier now "
                        "required."}
    states = {
        **ask("Decision", "sign_off_request", None, wait_seconds="$.wait_seconds",
              answer="$.decision",
              outcomes={"approved": "Approved", "rejected": "Rejected",
                        "more_information": "RequestInformation", "withdrawn": "Withdrawn",
                        "expired": "Expired", "amended": "Amended"},
              expired="Expired", unexpected="Unexpected", marks=False, revision="$.revision",
              comments=(
                  "Emails each recipient for this step (the referrer, the approving manager, "
                  "each panel member or each advisor) a one-time link.",
                  "Waits for the approver's decision, taken through the link (approve, reject "
                  "with a reason, or ask the referrer a question).")),
        **ask("Information", "information_request", "information",
              wait_seconds="$.wait_seconds", answer="$.answer",
              outcomes={"answered": "RequestDecision", "withdrawn": "Withdrawn",
                        "expired": "Expired", "amended": "Amended"},
              expired="Expired", unexpected="Unexpected", marks=False, revision="$.revision",
              comments=(
                  "Emails the referrer a link to read and answer the approver's question.",
                  "Waits for the referrer's answer; it returns the referral to the approver "
                  "who asked.")),
        "Approved": {"Type": "Succeed"},
        "Rejected": {"Type": "Fail", "Error": "Rejected",
                     "Cause": "An approver rejected the request."},
        **{name: {"Type": "Fail", "Error": name, "Cause": cause} for name, cause in ended.items()},
        "Unexpected": {"Type": "Fail", "Error": "UnexpectedOutcome",
                       "Cause": "A step completed with an outcome the pathway does not know."},
    }
    return {
        "Type": "Map",
        "Comment": "Each approver in turn: the referrer (under the fast-track limit or the "
                   "smartphone and data pathway), or the approving manager and, over the "
                   "manager's limit, the PHB Oversight Panel; then a PHB advisor when the "
                   "request is flagged.",
        "ItemsPath": "$.intake.approvers",
        "MaxConcurrency": 1,
        "ItemSelector": {"referral_id.$": "$.referral_id", "step.$": "$$.Map.Item.Value",
                         "wait_seconds.$": "$.intake.wait_seconds",
                         "revision.$": "$.intake.revision"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "RequestDecision",
                          "States": states},
        "ResultPath": None,
        # Inside the map a failure ends the map; this catch marks the referral.
        "Catch": [*({"ErrorEquals": [name], "ResultPath": None, "Next": f"Notify{name}"}
                    for name in ("Rejected", "Expired", "Withdrawn")),
                  {"ErrorEquals": ["Amended"], "ResultPath": None, "Next": "AfterAmendment"},
                  MARK],
        "Next": "RequestAgreement",
    }


def definition() -> dict[str, Any]:
    """The whole state machine, in the order a referral passes through it."""
    states: dict[str, State] = {
        "Resume": task(
            "resume", "RouteResume", "Reads where the referral is and who signs it off.",
            result="$.intake", selector={**INTAKE, "next.$": "$.Payload.next"}),
        "RouteResume": {
            "Comment": "Goes on at the step the referral's status waits on: what was done "
                       "before (sign-offs given, the agreement accepted) stays done.",
            **route("$.intake.next", {
                "intake": "IntakeOnResume", "sign_off": "SendAcknowledgement",
                "agreement": "RequestAgreement", "agreement_copy": "ResumeAccepted",
                "review_schedule": "ScheduleReview", "closure_schedule": "ScheduleClosure",
                "closed": "NotifyClosed", "rejected": "NotifyRejected",
                "withdrawn": "NotifyWithdrawn", "expired": "NotifyExpired"},
                "UnexpectedStatus")},
        "ResumeAccepted": {
            "Type": "Pass", "Comment": "The agreement was accepted: its copy, then the release.",
            "Result": {"outcome": "accepted"}, "ResultPath": "$.outcome",
            "Next": "SendAgreementCopy"},
        "RecordIntake": task(
            "record_intake", "SendAcknowledgement",
            "Computes who signs off (by amount, the smartphone and data pathway, and exclusion "
            "flags) from the funding rules, and moves the referral to awaiting_sign_off. A "
            "resumed execution (an advisor resumed the referral: its attempt is 2 or more) is "
            "told Resuming and starts where the referral is: a failure caught, not a Choice "
            "every execution would pass through.",
            payload={"attempt.$": "$.attempt"}, result="$.intake", selector=INTAKE,
            catch=[{"ErrorEquals": ["Resuming"], "ResultPath": None, "Next": "Resume"}]),
        "IntakeOnResume": task(
            "record_intake", "SendAcknowledgement",
            "A resumed referral that had not been through intake: intake, then on as a first "
            "execution goes.", result="$.intake", selector=INTAKE),
        "SendAcknowledgement": notify(
            "acknowledgement", "SignOff", "Emails the referrer the reference and what happens "
            "next (no patient-identifiable data)."),
        "SignOff": sign_off(),
        **ask_after_sign_off("Agreement", "agreement_request", "agreement",
                             dict.fromkeys(("accepted", "released", "reviewed"),
                                           "SendAgreementCopy"), (
            "Emails the budget holder (or, when they have no email address, the referrer to "
            "share) a link to the direct payment agreement.",
            "Waits for the person to accept the agreement by typing their name; money cannot "
            "be released before.")),
        "SendAgreementCopy": notify(
            "agreement_copy", "AfterAgreement", "Emails the referrer and the person a link to "
            "read and print the agreement they accepted (once per acceptance)."),
        "AfterAgreement": {
            "Comment": "Accepted for the first time the money is released next; accepted again "
                       "after an amendment, the PHB goes on from where its money was.",
            **route("$.outcome.outcome", {"accepted": "RequestRelease",
                                          "released": "ScheduleReview",
                                          "reviewed": "ScheduleClosure"},
                    "UnexpectedOutcome")},
        **ask_after_sign_off("Release", "release_request", "release",
                             {"released": "ScheduleReview"}, (
            "Emails the PHB advisors a link to record that the money was released and how the "
            "budget is managed.",
            "Waits for an advisor to record the release.")),
        **wait_until("Review", "review", (
            "Works out when the 6-week review is due: the configured time after the money was "
            "released.",
            "Waits until the 6-week review is due (the time ScheduleReview worked out), as a "
            "task rather than a Wait state so that a withdrawal meanwhile ends the execution "
            "at once.",
            "Ended before the 6-week review was due: only a withdrawal (or expiry) does that.")),
        **ask_after_sign_off("Review", "review_request", "review",
                             {"reviewed": "ScheduleClosure"}, (
            "Emails the referrer a link to the 6-week review form.",
            "Waits for the review: item bought, progress on each goal, ReQoL-10, receipts, "
            "notes.")),
        **wait_until("Closure", "closure", (
            "Works out when to ask for closure: the goals' target date.",
            "Waits until closure is due (the time ScheduleClosure worked out), as a task rather "
            "than a Wait state so that a withdrawal meanwhile ends the execution at once.",
            "Ended before closure was due: only a withdrawal (or expiry) does that.")),
        **ask_after_sign_off("Closure", "closure_request", "closure", {"closed": "NotifyClosed"}, (
            "Emails the referrer a link to close the PHB.",
            "Waits for closure: goal achieved or not, final ReQoL-10, unspent money.")),
        "AfterAmendment": task(
            "after_amendment", "RouteAmendment", "An amendment ended the wait: reads where the "
            "referral now is and who signs it off (the tier now required).", result="$.intake",
            selector={**INTAKE, "next.$": "$.Payload.next"}),
        "RouteAmendment": {
            "Comment": "Signed off again from the first approver now required, or the "
                       "agreement accepted again; or it ended meanwhile.",
            **route("$.intake.next", {"sign_off": "SignOff", "agreement": "RequestAgreement",
                                      "withdrawn": "NotifyWithdrawn",
                                      "expired": "NotifyExpired"}, "UnexpectedStatus")},
        "UnexpectedStatus": {
            "Type": "Pass",
            "Comment": "After an amendment or a resume the referral is where no wait goes on "
                       "from: marked for an advisor.",
            "Parameters": {"Error": "UnexpectedStatus",
                           "Cause": "An amendment left the referral where the pathway cannot "
                                    "go on from."},
            "ResultPath": "$.error", "Next": "NeedsAttention"},
        "NotifyClosed": notify("closed", "Closed"),
        "Closed": {"Type": "Succeed"},
        **end("rejected", "Rejected", "Tells the referrer the request was not approved, why, "
              "and what they can do next.", "Ended: not approved."),
        **end("expired", "Expired", "Tells the referrer the referral expired and what they can "
              "do next.", "Ended: expired."),
        **end("withdrawn", "Withdrawn", "Tells the referrer the referral was withdrawn.",
              "Ended: withdrawn."),
        "UnexpectedOutcome": {
            "Type": "Pass",
            "Comment": "A wait ended with an outcome its route does not know: marked for an "
                       "advisor with that outcome as the error.",
            "Parameters": {"Error": "UnexpectedOutcome",
                           "Cause.$": "States.JsonToString($.outcome)"},
            "ResultPath": "$.error", "Next": "NeedsAttention"},
        "HandOver": {
            "Type": "Pass", "Comment": "The last reminder went unanswered, or the execution "
                                       "nears its maximum age: handed to the advisors.",
            "Parameters": {"Error.$": "$.reminder.code",
                           "Cause.$": "States.JsonToString($.reminder)"},
            "ResultPath": "$.error", "Next": "NeedsAttention"},
        "NeedsAttention": {
            **task("mark_needs_attention", "Failed", "Marks the referral as needing a PHB "
                   "advisor, records the error and emails the advisors.", marks=False,
                   payload={"error.$": "$.error"}),
            # Marking must not give up on a transient fault: it is the last step.
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 5,
                       "BackoffRate": 2}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.alert_error",
                       "Next": "AlertFailed"}]},
        "Failed": {"Type": "Fail", "Error": "ReferralNeedsAttention",
                   "Cause": "A step failed after its retries; the referral is marked for a PHB "
                            "advisor."},
        "AlertFailed": {
            "Type": "Fail",
            "Comment": "Even marking the referral failed: the execution fails, and the "
                       "deployment's EventBridge rule emails the alert address about it.",
            "Error": "NeedsAttentionFailed",
            "Cause": "A step failed and the referral could not be marked as needing attention"},
    }
    return {
        "Comment": "PHB Pathway: one Standard execution per referral, named by its reference, "
                   "input {\"referral_id\": \"PHB-XXXX-XXXX\", \"attempt\": 1} (a resumed "
                   "one is named and numbered by its attempt). Tasks read and write the "
                   "referral in DynamoDB by id; no personal data passes through the execution. "
                   "People act through one-time links (chalicelib/actions/links.py), whose "
                   "handlers complete the waiting task. Built by infra/pathway.py: edit that, "
                   "not this file.",
        "StartAt": "RecordIntake",
        "States": states,
    }


def text() -> str:
    """The definition as the committed file holds it."""
    return json.dumps(definition(), indent=2) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ASL
    target.write_text(text(), encoding="utf-8")
    print(f"wrote {target}")
