"""When the pathway stops, on the in-memory adapters: the referral is handed to the advisors in
plain words, once; an advisor resumes it from the step its status waits on (one advisor wins);
the reconciler finds referrals no execution carries; waits that cannot expire are bounded; an
advisor corrects an address and the step's old links stop working; an email that fails after a
committed action never loses the action; retention covers every referral."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.actions import commands, links, pages
from chalicelib.bootstrap import Services
from chalicelib.domain.records import Email, NewReferral
from chalicelib.staff import correct, dataprotection
from chalicelib.workflow import reconcile, recovery, tasks
from tests.factories import make_referral
from tests.usecases.drive import emails_to, link_of, request, submit

ADVISORS = "phb-advisors@example.org"
MANAGER = "jo.patel@nhs.net"
JO = {"name": "Jo Patel", "email": MANAGER}


def stored(svc: Services, reference: str):  # type: ignore[no-untyped-def]
    return svc.store.referrals.get(reference)


def failed_step(svc: Services, reference: str, kind: str, step: str, code: str) -> None:
    """The state machine's NeedsAttention state, after `kind` for `step` failed with `code`:
    the error as Step Functions hands it on (a Lambda error's payload as the cause)."""
    cause = json.dumps({"errorMessage": json.dumps({"task": "notify", "kind": kind,
                                                    "step": step, "code": code}),
                        "errorType": code, "stackTrace": ['  File "/var/task/app.py", line 38']})
    tasks.run(svc, {"task": "mark_needs_attention", "referral_id": reference,
                    "error": {"Error": code, "Cause": cause}})


def alerts(svc: Services) -> list[Email]:
    return emails_to(svc, ADVISORS, "needs attention")


# --- plain failures ---------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "reason"), [
    ({"Error": "MessageRejected", "Cause": json.dumps({"errorMessage": json.dumps(
        {"task": "notify", "kind": "sign_off_request", "step": "manager",
         "code": "MessageRejected"})})},
     "The email asking the approving manager to sign off could not be sent: the address "
     "was refused."),
    ({"Error": "TransientError", "Cause": json.dumps({"errorMessage": json.dumps(
        {"task": "remind", "step": "review", "code": "TransientError"})})},
     "The reminder to the referrer could not be sent: AWS was busy or could not be reached, "
     "and retrying did not help."),
    ({"Error": "StepFailed", "Cause": json.dumps({"errorMessage": json.dumps(
        {"task": "record_intake", "code": "ServiceError"}), "stackTrace": ["/var/task/x.py"]})},
     "Intake (working out who signs the request off) could not be completed: an error in the "
     "service (the log has the details)."),
    ({"Error": "Lambda.TooManyRequestsException", "Cause": "Rate exceeded"},
     "A step of the pathway failed: AWS was busy or could not be reached, and retrying did "
     "not help."),
    ({"Error": "States.Timeout", "Cause": ""}, "A step of the pathway failed: it took too long."),
    ({"Error": "RemindersRanOut", "Cause": json.dumps({"step": "release", "reminders": 10})},
     "The referral waited for a PHB advisor to record that the money was released through 10 "
     "reminders with no answer."),
])
def test_staff_read_what_failed_in_plain_words(error: dict[str, str], reason: str) -> None:
    _, said = recovery.failure(error)
    assert said == reason
    assert "/" not in said and "Traceback" not in said and "{" not in said


def test_a_failed_step_is_handed_to_the_advisors_once_with_its_cause(memory: Services) -> None:
    reference = submit(memory, approving_manager=JO, items=[{
        "description": "Gym", "category": "membership", "supplier": "Gym", "cost_pence": 30000,
        "recurrence": "one_off"}])
    failed_step(memory, reference, "sign_off_request", "manager", "MessageRejected")
    held = stored(memory, reference)
    assert held.status == "needs_attention"
    assert held.recorded["attention"]["from"] == "awaiting_sign_off"
    [alert] = alerts(memory)
    assert "could not be sent: the address was refused" in alert.text
    assert f"/staff/referrals/{reference}" in alert.text
    assert "Alex" not in alert.text and MANAGER not in alert.text  # no personal data
    # Marked again (a retried task, the reconciler): nothing more is sent.
    failed_step(memory, reference, "sign_off_request", "manager", "MessageRejected")
    assert len(alerts(memory)) == 1


def test_a_refused_address_reaches_neither_the_executions_history_nor_the_log(
        memory: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """SES's refusal names the address it refused; what the state machine records (the
    raised error) and what the log keeps carry its code, never its text."""
    from botocore.exceptions import ClientError

    reference = submit(memory, approving_manager=JO, items=[{
        "description": "Gym", "category": "membership", "supplier": "Gym", "cost_pence": 30000,
        "recurrence": "one_off"}])
    refused = ClientError({"Error": {"Code": "MessageRejected", "Message": (
        f"Email address is not verified. The following identities failed the check in region "
        f"EU-WEST-2: {MANAGER}")}}, "SendEmail")

    def refuse(email: Email) -> str:
        raise refused

    monkeypatch.setattr(memory.mailer, "send", refuse)
    with pytest.raises(Exception) as raised:
        tasks.run(memory, {"task": "notify", "referral_id": reference, "kind": "rejected",
                           "step": "manager"})
    assert type(raised.value).__name__ == "MessageRejected"
    assert "@" not in str(raised.value) and "MessageRejected" in str(raised.value)
    assert "@" not in caplog.text and "MessageRejected" in caplog.text
    from chalicelib.workflow.failures import classify

    assert str(classify(refused)) == "MessageRejected calling SendEmail"


# --- resuming ---------------------------------------------------------------------------------


def test_a_resume_goes_back_to_where_it_was_and_starts_the_next_attempt(memory: Services) -> None:
    reference = submit(memory, approving_manager=JO, items=[{
        "description": "Laptop", "category": "equipment", "supplier": "Shop",
        "cost_pence": 60000, "recurrence": "one_off"}])
    held = stored(memory, reference)
    commands.decide(memory, held, "manager", MANAGER, "approved")  # the panel signs off next
    failed_step(memory, reference, "sign_off_request", "panel", "MessageRejected")
    held = stored(memory, reference)
    assert recovery.resume_label(memory, held) == "the PHB Oversight Panel's sign-off"
    assert recovery.resume(memory, held, ADVISORS)
    after = stored(memory, reference)
    assert (after.status, after.step, recovery.attempt_of(after)) == (
        "awaiting_sign_off", "panel", 2)
    assert memory.workflow.started[-1] == f"{reference}-2"  # type: ignore[attr-defined]
    # The resumed execution starts at sign-off; the manager's approval stays given.
    assert tasks.run(memory, {"task": "resume", "referral_id": reference})["next"] == "sign_off"
    [resumed] = [e for e in memory.store.referrals.history(reference) if e.what == "resumed"]
    assert resumed.detail["attempt"] == 2 and "address was refused" in resumed.detail["after"]


def test_two_advisors_resuming_at_once_one_wins(memory: Services) -> None:
    reference = submit(memory)
    failed_step(memory, reference, "acknowledgement", "", "MessageRejected")
    seen = stored(memory, reference)
    assert recovery.resume(memory, seen, "ann@example.org")
    assert not recovery.resume(memory, seen, "bob@example.org")
    assert memory.workflow.started.count(f"{reference}-2") == 1  # type: ignore[attr-defined]
    assert [e.who for e in memory.store.referrals.history(reference)
            if e.what == "resumed"] == ["ann@example.org"]


@pytest.mark.parametrize(("status", "point"), [
    ("submitted", "intake"), ("awaiting_sign_off", "sign_off"),
    ("awaiting_information", "sign_off"), ("approved", "agreement"),
    ("agreement_accepted", "agreement_copy"), ("funds_released", "review_schedule"),
    ("reviewed", "closure_schedule"), ("withdrawn", "withdrawn"), ("closed", "closed"),
])
def test_every_status_resumes_at_the_step_it_waits_on(status: str, point: str) -> None:
    from infra.pathway import definition

    assert recovery.RESUME_AT[status] == point
    route = definition()["States"]["RouteResume"]
    assert point in {choice["StringEquals"] for choice in route["Choices"]}


# --- the reconciler ---------------------------------------------------------------------------


def later(minutes: int = 10) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def test_a_referral_stored_but_never_started_is_found_and_resumed(memory: Services) -> None:
    referral = make_referral()
    reference = memory.store.referrals.create(NewReferral(
        json.dumps(referral), 12000, referral["referrer"]["email"], "hackney", "9434765919"),
        actor="x").reference  # the process died before StartExecution
    # A few minutes' grace: its execution may be starting.
    assert reconcile.reconcile(memory)["marked"] == []
    assert reconcile.reconcile(memory, later())["marked"] == [reference]
    held = stored(memory, reference)
    assert (held.status, held.recorded["attention"]["code"]) == ("needs_attention", "NotStarted")
    assert "The pathway did not start." in alerts(memory)[0].text
    # Found once: the next run tells nobody again.
    assert reconcile.reconcile(memory, later())["marked"] == []
    assert len(alerts(memory)) == 1
    assert recovery.resume_label(memory, held) == "intake: working out who signs off"


def test_an_execution_stopped_while_the_referral_is_open_is_found(memory: Services) -> None:
    running = submit(memory)
    stopped = submit(memory)
    memory.workflow.end(stopped, "ABORTED")  # type: ignore[attr-defined]
    assert reconcile.reconcile(memory, later())["marked"] == [stopped]
    assert stored(memory, running).status == "awaiting_sign_off"
    assert stored(memory, stopped).recorded["attention"]["reason"] == "The pathway was stopped."


def test_the_event_of_an_execution_that_ended_badly_marks_its_referral(memory: Services) -> None:
    reference = submit(memory)
    assert reconcile.execution_ended(memory, {"name": reference, "status": "TIMED_OUT"}) == {
        "marked": True}
    assert stored(memory, reference).recorded["attention"]["reason"] == (
        "The pathway ran out of time.")
    recovery.resume(memory, stored(memory, reference), ADVISORS)
    # The first attempt's end, reported late, is not the referral's any more.
    assert reconcile.execution_ended(memory, {"name": reference, "status": "ABORTED"}) == {
        "marked": False}
    assert stored(memory, reference).status == "awaiting_sign_off"


def test_an_action_taken_while_no_execution_runs_is_kept_and_handed_over(
        memory: Services) -> None:
    reference = submit(memory)
    request(memory, reference, "sign_off_request")
    memory.workflow.end(reference, "ABORTED")  # type: ignore[attr-defined]
    memory.workflow.completed.append((f"token-{reference}-referrer-t1", "x"))  # type: ignore[attr-defined]
    commands.decide(memory, stored(memory, reference), "referrer", "sam.okafor@nhs.net",
                    "approved")
    held = stored(memory, reference)
    assert held.status == "needs_attention"
    assert held.recorded["attention"]["from"] == "approved"  # the approval stands
    assert "The referrer signed off, but the pathway was not running" in alerts(memory)[0].text


# --- bounded waits ----------------------------------------------------------------------------


def test_a_wait_that_cannot_expire_is_handed_over_after_its_last_reminder(
        memory: Services) -> None:
    settings = replace(memory.settings, reminders_before_handover=4)
    svc = replace(memory, settings=settings)
    reference = submit(svc)
    results = [tasks.run(svc, {"task": "remind", "referral_id": reference, "step": "release",
                               "notice": f"r{n}", "revision": 0,
                               "started": datetime.now(UTC).isoformat()}) for n in range(5)]
    assert [r["handover"] for r in results] == [False] * 4 + [True]
    assert results[-1]["code"] == "RemindersRanOut" and results[-1]["reminders"] == 4
    assert len(emails_to(svc, ADVISORS, "Reminder")) == 4


def test_an_execution_near_its_maximum_age_is_handed_over(memory: Services) -> None:
    reference = submit(memory)
    old = (datetime.now(UTC) - timedelta(days=331)).isoformat().replace("+00:00", "Z")
    result = tasks.run(memory, {"task": "remind", "referral_id": reference, "step": "review",
                                "notice": "r", "revision": 0, "started": old})
    assert (result["handover"], result["code"]) == (True, "ExecutionTooOld")
    from chalicelib.workflow.failures import ExecutionTooOld

    with pytest.raises(ExecutionTooOld) as too_old:
        tasks.run(memory, {"task": "schedule", "referral_id": reference, "step": "closure",
                           "started": old})
    code, reason = recovery.failure({"Error": "ExecutionTooOld", "Cause": json.dumps(
        {"errorMessage": str(too_old.value)})})
    assert (code, reason) == ("ExecutionTooOld", "The pathway had run for nearly a year.")


# --- correcting an address --------------------------------------------------------------------


def test_a_corrected_address_gets_the_request_and_the_old_link_stops_working(
        memory: Services) -> None:
    reference = submit(memory, approving_manager={"name": "Jo Patel",
                                                  "email": "jo.patle@nhs.net"},
                       items=[{"description": "Gym", "category": "membership",
                               "supplier": "Gym", "cost_pence": 30000,
                               "recurrence": "one_off"}])
    request(memory, reference, "sign_off_request")
    [old] = emails_to(memory, "jo.patle@nhs.net", "sign off")
    errors, who, step = correct.correct(memory, stored(memory, reference),
                                        _referral(memory, reference), ADVISORS,
                                        {"whose": "manager", "new_address": "Jo.Patel@NHS.net"})
    assert (errors, who, step) == ([], "The approving manager", "manager")
    correct.resend(memory, stored(memory, reference), step, ADVISORS)
    # Kept as typed, its domain in lower case (as intake keeps addresses).
    [new] = emails_to(memory, "Jo.Patel@nhs.net", "sign off")
    [event] = [e for e in memory.store.referrals.history(reference)
               if e.what == "address_corrected"]
    assert (event.detail["before"], event.detail["after"]) == ("jo.patle@nhs.net",
                                                               "Jo.Patel@nhs.net")
    with pytest.raises(links.LinkProblem) as refused:
        pages._open(memory, "sign-off", link_of(old, "sign-off"))
    assert refused.value.status in (403, 410)
    assert pages._open(memory, "sign-off", link_of(new, "sign-off")).stored.reference == reference


@pytest.mark.parametrize(("whose", "address", "field_error"), [
    ("manager", "sam.okafor+boss@nhs.net", "Must not be the referrer's own address"),
    ("manager", "jo.patel@gmail.com", "must be a work email address"),
    ("person", "not an address", "must be an email address"),
    ("nobody", "x@nhs.net", "Select whose address"),
])
def test_a_correction_is_checked_as_intake_checks_it(memory: Services, whose: str, address: str,
                                                     field_error: str) -> None:
    person = {**make_referral()["person"], "email": "alex.morgan@example.com"}
    reference = submit(memory, approving_manager=JO, person=person, items=[{
        "description": "Gym", "category": "membership", "supplier": "Gym", "cost_pence": 30000,
        "recurrence": "one_off"}])
    errors, _, _ = correct.correct(memory, stored(memory, reference),
                                   _referral(memory, reference), ADVISORS,
                                   {"whose": whose, "new_address": address})
    assert [e.field for e in errors] in (["new_address"], ["whose"])
    assert field_error.lower() in errors[0].message.lower()


def test_a_panel_members_address_is_corrected_for_this_referral(memory: Services) -> None:
    reference = submit(memory, approving_manager=JO, items=[{
        "description": "Laptop", "category": "equipment", "supplier": "Shop",
        "cost_pence": 60000, "recurrence": "one_off"}])
    commands.decide(memory, stored(memory, reference), "manager", MANAGER, "approved")
    errors, _, step = correct.correct(memory, stored(memory, reference),
                                      _referral(memory, reference), ADVISORS,
                                      {"whose": "panel:0", "new_address": "panel@example.org"})
    assert (errors, step) == ([], "panel")
    correct.resend(memory, stored(memory, reference), step, ADVISORS)
    assert emails_to(memory, "panel@example.org", "sign off")


def _referral(svc: Services, reference: str):  # type: ignore[no-untyped-def]
    from chalicelib.domain.referral import load_stored

    return load_stored(stored(svc, reference).answers)


# --- emails that fail after a committed action ------------------------------------------------


class RefusingMailer:
    def send(self, email: Email) -> str:
        raise RuntimeError("SES refused it")


def test_a_withdrawal_stands_when_its_email_fails(memory: Services) -> None:
    reference = submit(memory)
    request(memory, reference, "sign_off_request")
    refusing = replace(memory, mailer=RefusingMailer())
    commands.withdraw(refusing, stored(memory, reference), ADVISORS, "Moved away")
    assert stored(memory, reference).status == "withdrawn"
    # The waiting execution was told: its NotifyWithdrawn sends the email.
    assert (f"token-{reference}-referrer-t1", "withdrawn") in memory.workflow.completed  # type: ignore[attr-defined]


def test_a_paused_referrals_links_say_so(memory: Services) -> None:
    reference = submit(memory)
    request(memory, reference, "sign_off_request")
    [email] = emails_to(memory, "sam.okafor@nhs.net", "sign off")
    failed_step(memory, reference, "reminder", "referrer", "MessageRejected")
    with pytest.raises(links.LinkProblem) as paused:
        pages._open(memory, "sign-off", link_of(email, "sign-off"))
    assert paused.value.title == "This referral is paused"


# --- retention --------------------------------------------------------------------------------


def test_retention_covers_every_referral_by_its_last_change(memory: Services) -> None:
    waiting = submit(memory)
    stuck = submit(memory)
    failed_step(memory, stuck, "acknowledgement", "", "MessageRejected")
    ended = submit(memory)
    commands.withdraw(memory, stored(memory, ended), ADVISORS, "Moved away")
    days = memory.settings.retention_days
    assert dataprotection.run_retention(memory, datetime.now(UTC) + timedelta(days=days - 1)) \
        == []
    removed = dataprotection.run_retention(memory, datetime.now(UTC) + timedelta(days=days + 1))
    assert sorted(removed) == sorted([waiting, stuck, ended])
    for reference in removed:
        assert stored(memory, reference).answers == ""
    # The anonymous facts stay, for the reports.
    assert all(stored(memory, r).facts for r in removed)


# --- resuming where sign-off is ------------------------------------------------------------


def over_500(svc: Services) -> str:
    return submit(svc, approving_manager=JO, items=[{
        "description": "Laptop", "category": "equipment", "supplier": "Shop",
        "cost_pence": 60000, "recurrence": "one_off"}])


def test_a_resume_during_a_question_waits_on_who_asked_not_who_signed_before(
        memory: Services) -> None:
    reference = over_500(memory)
    commands.decide(memory, stored(memory, reference), "manager", MANAGER, "approved")
    commands.decide(memory, stored(memory, reference), "panel", "phb-panel@example.org",
                    "more_information", "Which gym?")
    failed_step(memory, reference, "information_request", "information", "MessageRejected")
    recovery.resume(memory, stored(memory, reference), ADVISORS)
    resumed = tasks.run(memory, {"task": "resume", "referral_id": reference})
    assert (resumed["next"], resumed["approvers"]) == ("sign_off", ["panel"])
    # The manager, who signed off, is not asked again (their turn would be skipped anyway).
    assert tasks.run(memory, {"task": "notify", "referral_id": reference, "step": "manager",
                              "kind": "sign_off_request", "notice": "n"}) == {"sent": 0}


def test_a_resumed_step_is_reminded_afresh(memory: Services) -> None:
    reference = submit(memory)
    for _ in range(3):
        memory.store.referrals.count_reminder(reference, "referrer")
    failed_step(memory, reference, "reminder", "referrer", "MessageRejected")
    recovery.resume(memory, stored(memory, reference), ADVISORS)
    assert memory.store.referrals.count_reminder(reference, "referrer") == 1


def test_a_referrers_corrected_address_gets_new_links_and_the_old_ones_stop(
        memory: Services) -> None:
    reference = submit(memory, referrer={**make_referral()["referrer"],
                                         "email": "sam.okafr@nhs.net"})
    [first] = emails_to(memory, "sam.okafr@nhs.net", "received")
    errors, _, _ = correct.correct(memory, stored(memory, reference),
                                   _referral(memory, reference), ADVISORS,
                                   {"whose": "referrer", "new_address": "sam.okafor@nhs.net"})
    assert errors == []
    [again] = emails_to(memory, "sam.okafor@nhs.net", "received")
    with pytest.raises(links.LinkProblem):
        pages._open(memory, "withdraw", link_of(first, "withdraw"))
    assert pages._open(memory, "withdraw", link_of(again, "withdraw")).stored.reference \
        == reference
    assert stored(memory, reference).referrer_email == "sam.okafor@nhs.net"


def test_the_referrer_cannot_be_corrected_to_the_managers_mailbox(memory: Services) -> None:
    reference = over_500(memory)
    errors, _, _ = correct.correct(memory, stored(memory, reference),
                                   _referral(memory, reference), ADVISORS,
                                   {"whose": "referrer", "new_address": "Jo.Patel+x@nhs.net"})
    assert [e.field for e in errors] == ["new_address"]
    errors, _, _ = correct.correct(memory, stored(memory, reference),
                                   _referral(memory, reference), ADVISORS,
                                   {"whose": "panel:0", "new_address": "sam.okafor@nhs.net"})
    assert [e.field for e in errors] == ["new_address"]


def test_withdrawing_a_paused_referral_ends_the_pause(memory: Services) -> None:
    reference = submit(memory)
    failed_step(memory, reference, "reminder", "referrer", "MessageRejected")
    commands.withdraw(memory, stored(memory, reference), ADVISORS, "Moved away")
    held = stored(memory, reference)
    assert held.status == "withdrawn" and recovery.attention_of(held) is None
    # Its email went from the page: nothing is left to resume.
    assert emails_to(memory, "sam.okafor@nhs.net", "withdrawn")
