"""What people do through action links: sign off, answer a question, accept the agreement,
record the release of money, review, close, withdraw.

Each action is a function (the staff console will call the same ones) that makes one
conditional status change with its history event, in the same transaction as using up the link,
and then completes the state machine's wait for that step. GET only shows; only POST acts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalice import Response

from chalicelib import aws, form, links, pathway
from chalicelib.config import Settings, get_settings
from chalicelib.errors import FieldError
from chalicelib.links import Link, LinkProblem
from chalicelib.notices import Notifier, recipients
from chalicelib.referral import Referral, load_stored, sign_off
from chalicelib.store import ReferralStore, StoredReferral, TransitionRefused, now_iso
from chalicelib.web import page

MAX_TEXT = 2000


class AlreadyDone(Exception):
    """Someone else acted on this step first (or it is no longer waiting)."""


# --- the actions --------------------------------------------------------------------------------


def _finish(store: ReferralStore, reference: str, step: str) -> None:
    """Complete the state machine's wait for `step`, if it is waiting."""
    from chalicelib.tasks import complete_wait

    token = store.task_token(reference, step)
    stored = store.get(reference)
    outcome = pathway.outcome_if_done(stored, step)
    if token and outcome:
        complete_wait(aws.client("stepfunctions"), token, outcome)


def _change(store: ReferralStore, stored: StoredReferral, to: str, actor: str, what: str,
            detail: dict[str, Any], set_fields: dict[str, Any] | None = None,
            when_fields: dict[str, str] | None = None,
            also: list[dict[str, Any]] | None = None) -> None:
    try:
        store.transition(stored.reference, to, pathway.allowed_from(to), actor, what, detail,
                         set_fields=set_fields, when_fields=when_fields, also=also)
    except TransitionRefused:
        raise AlreadyDone() from None


def decide(store: ReferralStore, stored: StoredReferral, step: str, actor: str, outcome: str,
           text: str = "", also: list[dict[str, Any]] | None = None) -> None:
    """An approver's decision on a sign-off step: approved, rejected or more_information."""
    if stored.status != "awaiting_sign_off" or stored.step != step:
        raise AlreadyDone()
    when = {"step": step}
    progress = dict(stored.recorded)
    if outcome == "approved":
        following = pathway.next_approver(list(stored.approvers), step)
        if following:
            _change(store, stored, "awaiting_sign_off", actor, "approved",
                    {"step": step, "next": following}, {"step": following}, when, also)
        else:
            _change(store, stored, "approved", actor, "approved", {"step": step},
                    {"approved_at": now_iso()}, when, also)
    elif outcome == "rejected":
        progress["rejected"] = {"step": step, "reason": text, "by": actor, "at": now_iso()}
        _change(store, stored, "rejected", actor, "rejected", {"step": step, "reason": text},
                {"progress": progress}, when, also)
    elif outcome == "more_information":
        progress["question"] = {"step": step, "question": text, "by": actor, "at": now_iso()}
        _change(store, stored, "awaiting_information", actor, "information_requested",
                {"step": step, "question": text}, {"progress": progress}, when, also)
    else:
        raise ValueError(outcome)
    _finish(store, stored.reference, step)


def answer_question(store: ReferralStore, stored: StoredReferral, actor: str, answer: str,
                    also: list[dict[str, Any]] | None = None) -> None:
    """The referrer's answer: stored in the history, the referral back to who asked."""
    question = stored.recorded.get("question", {})
    if stored.status != "awaiting_information" or not question:
        raise AlreadyDone()
    progress = {k: v for k, v in stored.recorded.items() if k != "question"}
    _change(store, stored, "awaiting_sign_off", actor, "information_given",
            {"step": question["step"], "question": question["question"], "answer": answer},
            {"progress": progress}, also=also)
    store.reset_reminders(stored.reference, question["step"])
    _finish(store, stored.reference, "information")


def accept_agreement(store: ReferralStore, stored: StoredReferral, typed_name: str,
                     settings: Settings, also: list[dict[str, Any]] | None = None) -> None:
    acceptance = {"name": typed_name, "at": now_iso(), "version": settings.agreement_version}
    _change(store, stored, "agreement_accepted", "budget holder", "agreement_accepted",
            acceptance, {"progress": {**stored.recorded, "agreement": acceptance}}, also=also)
    _finish(store, stored.reference, "agreement")


def record_release(store: ReferralStore, stored: StoredReferral, actor: str, management: str,
                   amount_pence: int, also: list[dict[str, Any]] | None = None) -> None:
    """A PHB advisor records the money released; only possible after the agreement."""
    release = {"management": management, "amount_pence": amount_pence, "by": actor,
               "at": now_iso()}
    _change(store, stored, "funds_released", actor, "funds_released", release,
            {"progress": {**stored.recorded, "release": release}}, also=also)
    _finish(store, stored.reference, "release")


def record_review(store: ReferralStore, stored: StoredReferral, actor: str,
                  review: dict[str, Any], also: list[dict[str, Any]] | None = None) -> None:
    review = {**review, "by": actor, "at": now_iso()}
    _change(store, stored, "reviewed", actor, "reviewed", review,
            {"progress": {**stored.recorded, "review": review}}, also=also)
    _finish(store, stored.reference, "review")


def reqol_change(baseline: list[int], final: list[int], reliable: int) -> dict[str, Any]:
    change = sum(final) - sum(baseline)
    return {"baseline_total": sum(baseline), "final_total": sum(final), "change": change,
            "reliable_improvement": change >= reliable,
            "reliable_deterioration": change <= -reliable}


def record_closure(store: ReferralStore, stored: StoredReferral, actor: str,
                   closure: dict[str, Any], settings: Settings,
                   also: list[dict[str, Any]] | None = None) -> None:
    baseline = load_stored(stored.answers).reqol10_baseline.items
    closure = {**closure, "by": actor, "at": now_iso(),
               "reqol10": reqol_change(baseline, closure["reqol10_items"],
                                       settings.reqol_reliable_change)}
    _change(store, stored, "closed", actor, "closed", closure,
            {"progress": {**stored.recorded, "closure": closure}}, also=also)
    _finish(store, stored.reference, "closure")


def withdraw(store: ReferralStore, stored: StoredReferral, actor: str, reason: str,
             settings: Settings, also: list[dict[str, Any]] | None = None) -> None:
    """End the referral at any open step, tell the referrer, and release the state machine."""
    _change(store, stored, "withdrawn", actor, "withdrawn", {"reason": reason}, also=also)
    from chalicelib.tasks import complete_wait, tell_referrer

    withdrawn = store.get(stored.reference)
    tell_referrer(Notifier(store, settings), "withdrawn", withdrawn,
                  load_stored(stored.answers))
    sfn = aws.client("stepfunctions")
    for token in store.task_tokens(stored.reference).values():
        complete_wait(sfn, token, "withdrawn")


# --- pages --------------------------------------------------------------------------------------


@dataclass
class Opened:
    link: Link
    store: ReferralStore
    stored: StoredReferral
    referral: Referral
    settings: Settings


TITLES = {
    "sign-off": "Sign off a PHB request",
    "answer": "Answer a question about a PHB request",
    "agreement": "Direct payment agreement",
    "release": "Record that the money was released",
    "review": "6-week review",
    "closure": "Close the PHB",
    "withdraw": "Withdraw a PHB referral",
    "outcome": "Why the PHB request was not approved",
}


def _problem(problem: LinkProblem) -> Response:
    return page("error.html", status=problem.status, title=problem.title,
                message=problem.message)


def _open(action: str, link_id: str) -> Opened:
    settings = get_settings()
    store = ReferralStore(aws.client("dynamodb"), settings.table_name)
    link = links.look_up(store, action, link_id)
    stored = store.get(link.reference)
    referral = load_stored(stored.answers)
    if action == "withdraw" and stored.status in pathway.FINAL:
        raise LinkProblem(409, "This referral has already ended",
                          f"It is {pathway.STATUS_LABELS[stored.status].lower()}, so there is "
                          "nothing to withdraw.")
    if action in ("withdraw", "outcome"):
        return Opened(link, store, stored, referral, settings)
    if link.recipient not in recipients(link.step, referral, settings):
        raise LinkProblem(403, "This link is not for you",
                          "It was sent to someone who is no longer asked to act on this step. "
                          "Contact the PHB team.")
    if pathway.outcome_if_done(stored, link.step) or (
        link.step in pathway.SIGN_OFF_STEPS and stored.step != link.step
    ):
        raise LinkProblem(409, "This has already been done",
                          "Someone has already acted on this step, so there is nothing for you "
                          f"to do. The referral is now: {pathway.STATUS_LABELS[stored.status]}.")
    return Opened(link, store, stored, referral, settings)


def decided_flags(stored: StoredReferral, referral: Referral,
                  settings: Settings) -> list[dict[str, Any]]:
    """The flags intake recorded (what the approvers were asked to decide on), so a later
    change to the funding rules does not change what a referral's pages say; worked out
    afresh only for a referral not yet through intake."""
    if stored.tier is not None:
        return list(stored.flags)
    return [flag.as_dict() for flag in sign_off(referral, settings).flags]


def _context(opened: Opened) -> dict[str, Any]:
    referral, stored = opened.referral, opened.stored
    return {
        "action": opened.link.action,
        "title": TITLES[opened.link.action],
        "reference": stored.reference,
        "referral": referral,
        "stored": stored,
        "flags": decided_flags(stored, referral, opened.settings),
        # The referrer signing off their own request reads "your sign-off".
        "step": opened.link.step,
        "step_label": "your sign-off" if opened.link.step == "referrer" else
        pathway.STEP_LABELS.get(opened.link.step, ""),
        "labels": form.LABELS,
        "question": stored.recorded.get("question", {}),
        # Questions asked on this step and the referrer's answers, oldest first.
        "answered": [e.detail for e in opened.store.history(stored.reference)
                     if e.what == "information_given"
                     and e.detail.get("step") == opened.link.step]
        if opened.link.action == "sign-off" else [],
        "rejected": stored.recorded.get("rejected", {}),
        "values": {},
        "errors": [],
        "error_for": {},
        "anchor": form.anchor,
        "form_budget": form.BUDGET_MANAGEMENT,
        "progress_choices": form.PROGRESS,
    }


def show(action: str, link_id: str) -> Response:
    """GET: what the person needs to decide. Never acts (mail scanners fetch links)."""
    try:
        opened = _open(action, link_id)
    except LinkProblem as problem:
        return _problem(problem)
    return page(f"actions/{action.replace('-', '_')}.html", **_context(opened))


def act(action: str, link_id: str, body: bytes) -> Response:
    """POST: validate, act once, and say what happens next."""
    try:
        opened = _open(action, link_id)
        posted = form.parse_form(body)
    except LinkProblem as problem:
        return _problem(problem)
    except form.FormRejected as exc:
        return page("error.html", status=400, title="There is a problem with the form",
                    message=exc.message)
    if action == "outcome":
        return _problem(LinkProblem(405, "Nothing to send", "This page is only to read."))
    errors, done = validate(action, posted, opened.referral, opened.link.step)
    if errors:
        context = _context(opened)
        context.update(values=posted, errors=errors,
                       error_for={e.field: e.message for e in errors})
        return page(f"actions/{action.replace('-', '_')}.html", status=422, **context)
    try:
        message = _perform(action, posted, opened, done)
    except AlreadyDone:
        return _problem(LinkProblem(
            409, "This has already been decided",
            "Someone else acted on this step first, so your answer was not recorded. "
            "Nothing else has changed."))
    return page("actions/done.html", title="Done", reference=opened.stored.reference,
                message=message)


def _text(posted: dict[str, str], name: str) -> str:
    return posted.get(name, "").strip().replace("\r\n", "\n")


def validate(action: str, posted: dict[str, str], referral: Referral,
             step: str = "") -> tuple[list[FieldError], dict[str, Any]]:
    """The posted form of an action on `step`, checked: (errors, what to do). The staff
    console's decide and release forms are checked here too."""
    errors: list[FieldError] = []
    done: dict[str, Any] = {}

    def need_text(name: str, message: str, limit: int = MAX_TEXT) -> str:
        value = _text(posted, name)
        if not value:
            errors.append(FieldError(name, message))
        elif len(value) > limit:
            errors.append(FieldError(name, f"Must be {limit} characters or fewer"))
        return value

    def optional_text(name: str) -> str:
        value = _text(posted, name)
        if len(value) > MAX_TEXT:  # refused, never cut short
            errors.append(FieldError(name, f"Must be {MAX_TEXT} characters or fewer"))
        return value

    def choice(name: str, options: tuple[str, ...], message: str) -> str:
        value = posted.get(name, "")
        if value not in options:
            errors.append(FieldError(name, message))
        return value

    def scores(prefix: str) -> list[int]:
        result = []
        for i in range(form.REQOL_QUESTIONS):
            value = posted.get(f"{prefix}.items.{i}", "")
            if value not in ("0", "1", "2", "3", "4"):
                errors.append(FieldError(f"{prefix}.items.{i}",
                                         f"Select a score for question {i + 1}"))
            else:
                result.append(int(value))
        physical = choice(f"{prefix}.physical_health", ("0", "1", "2", "3", "4"),
                          "Select a score for the physical health question")
        done[f"{prefix}_physical_health"] = int(physical) if physical.isdigit() else None
        return result

    if action == "sign-off":
        # The referrer signing off their own request has nobody to ask a question of.
        outcomes = ("approved", "rejected") if step == "referrer" else (
            "approved", "rejected", "more_information")
        outcome = choice("decision", outcomes, "Select whether you approve the request")
        if outcome == "rejected":
            done["text"] = need_text("reason", "Enter why you are rejecting the request")
        elif outcome == "more_information":
            done["text"] = need_text("question", "Enter your question for the referrer")
        done["outcome"] = outcome
    elif action == "answer":
        done["answer"] = need_text("answer", "Enter your answer")
    elif action == "agreement":
        if posted.get("choice") == "decline":
            done["decline"] = True
        else:
            done["name"] = need_text("name", "Type your full name to accept the agreement", 200)
            if posted.get("accept") != "yes":
                errors.append(FieldError("accept", "Tick the box to say you accept the "
                                                   "agreement"))
    elif action == "release":
        done["management"] = choice("management", tuple(form.LABELS_BUDGET),
                                    "Select how the budget is managed")
        amount = form.parse_pounds(posted.get("amount", ""))
        if amount is None or amount <= 0:
            errors.append(FieldError("amount", "Enter the amount released in pounds and pence, "
                                               "like 120.00"))
        done["amount_pence"] = amount
        if posted.get("released") != "yes":
            errors.append(FieldError("released", "Tick the box to confirm the money was "
                                                 "released"))
    elif action == "review":
        done["bought"] = choice("bought", ("yes", "partly", "no"),
                                "Select whether the item or service was bought")
        done["goals"] = [
            choice(f"goals.{i}.progress", tuple(form.LABELS_PROGRESS),
                   f"Select the progress on goal {i + 1}")
            for i in range(len(referral.goals))
        ]
        done["reqol10_items"] = scores("reqol10")
        done["receipts"] = choice("receipts", ("yes", "no"),
                                  "Select whether receipts are held")
        done["notes"] = optional_text("notes")
    elif action == "closure":
        done["achieved"] = choice("achieved", ("yes", "partly", "no"),
                                  "Select whether the goal was achieved")
        done["reqol10_items"] = scores("reqol10")
        unspent = form.parse_pounds(posted.get("unspent", "") or "0")
        if unspent is None:
            errors.append(FieldError("unspent", "Enter the unspent amount in pounds and pence, "
                                                "or 0"))
        done["unspent_pence"] = unspent
        done["notes"] = optional_text("notes")
    elif action == "withdraw":
        done["reason"] = optional_text("reason")
    return errors, done


def _perform(action: str, posted: dict[str, str], opened: Opened, done: dict[str, Any]) -> str:
    store, stored, link, settings = opened.store, opened.stored, opened.link, opened.settings
    use = [links.use_item(store, link)]
    actor = link.recipient
    if action == "sign-off":
        decide(store, stored, link.step, actor, done["outcome"], done.get("text", ""), use)
        return {
            "approved": "Your approval has been recorded.",
            "rejected": "The request has been rejected and the referrer has been told why.",
            "more_information": "Your question has been sent to the referrer. The request "
                                "comes back to you when they answer.",
        }[done["outcome"]]
    if action == "answer":
        answer_question(store, stored, actor, done["answer"], use)
        return "Your answer has been sent. The request has gone back to the person who asked."
    if action == "agreement":
        if done.get("decline"):
            withdraw(store, stored, "budget holder", "The person declined the agreement",
                     settings, use)
            return "You have said you do not want this personal health budget. Nothing will " \
                   "be paid. Your care team has been told."
        accept_agreement(store, stored, done["name"], settings, use)
        return "You have accepted the agreement. The PHB team will now release the money."
    if action == "release":
        record_release(store, stored, actor, done["management"], done["amount_pence"], use)
        return "The release has been recorded. The 6-week review is now scheduled."
    if action == "review":
        record_review(store, stored, actor, {k: v for k, v in done.items()}, use)
        return "The review has been recorded. We will ask you to close the PHB at the goal date."
    if action == "closure":
        record_closure(store, stored, actor, dict(done), settings, use)
        return "The PHB is closed. Thank you."
    if action == "withdraw":
        withdraw(store, stored, actor, done["reason"], settings, use)
        return "The referral has been withdrawn. Nothing more will happen with it."
    raise ValueError(action)

