"""How each action's form is checked: what must be chosen or typed, and the message when it is
not. The staff console's decide and release forms are checked here too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from chalicelib.domain import codes
from chalicelib.domain.errors import FieldError
from chalicelib.domain.money import parse_pounds
from chalicelib.domain.outcomes import overall_achieved
from chalicelib.domain.policy import MAX_TEXT, MAX_TYPED_NAME, REQOL_QUESTIONS, REQOL_SCORES
from chalicelib.domain.referral import Referral
from chalicelib.web.forms import checked_text

# What each typed answer is called at the start of a message about what it holds.
WHAT = {"reason": "the reason", "question": "your question", "answer": "your answer",
        "name": "your name", "reference": "the payment reference", "notes": "the notes"}


class Checked:
    """A posted form being checked: the errors found and what to do, field by field."""

    def __init__(self, posted: dict[str, str]) -> None:
        self.posted = posted
        self.errors: list[FieldError] = []
        self.done: dict[str, Any] = {}

    def need_text(self, name: str, message: str, limit: int = MAX_TEXT, *,
                  one_line: bool = False, a_name: bool = False) -> str:
        """Typed text that must be there (`message` when it is not), `limit` characters at
        most; several lines unless `one_line`, and with a letter when it is `a_name`."""
        value, error = checked_text(self.posted, name, WHAT[name], one_line=one_line,
                                    a_name=a_name)
        if not value:
            self.errors.append(FieldError(name, message))
        elif error:
            self.errors.append(error)
        elif len(value) > limit:
            self.errors.append(FieldError(name, f"Must be {limit} characters or fewer"))
        return value

    def optional_text(self, name: str) -> str:
        """Typed text of several lines that may be left blank."""
        value, error = checked_text(self.posted, name, WHAT[name])
        if error:
            self.errors.append(error)
        elif len(value) > MAX_TEXT:  # refused, never cut short
            self.errors.append(FieldError(name, f"Must be {MAX_TEXT} characters or fewer"))
        return value

    def choice(self, name: str, options: tuple[str, ...], message: str) -> str:
        value = self.posted.get(name, "")
        if value not in options:
            self.errors.append(FieldError(name, message))
        return value

    def ticked(self, name: str, message: str) -> None:
        if self.posted.get(name) != "yes":
            self.errors.append(FieldError(name, message))

    def pounds(self, name: str, message: str, blank: str | None = None) -> int | None:
        amount = parse_pounds(self.posted.get(name, "") or (blank or ""))
        if amount is None:
            self.errors.append(FieldError(name, message))
        return amount

    def past_date(self, name: str, what: str) -> date | None:
        """A date typed in three boxes, today or before (blank: today)."""
        from chalicelib.web.forms import parse_date

        text, error = parse_date(self.posted, name)
        if error:
            self.errors.append(FieldError(name, f"{what.capitalize()} {error}"))
            return None
        day = date.fromisoformat(text) if text else date.today()
        if day > date.today():
            self.errors.append(FieldError(name, f"{what.capitalize()} must be today or in "
                                                "the past"))
            return None
        return day

    def scores(self, prefix: str) -> list[int]:
        """The ten ReQoL-10 scores; the physical health score goes in `done` beside them."""
        result = []
        for i in range(REQOL_QUESTIONS):
            value = self.posted.get(f"{prefix}.items.{i}", "")
            if value not in REQOL_SCORES:
                self.errors.append(FieldError(f"{prefix}.items.{i}",
                                              f"Select a score for question {i + 1}"))
            else:
                result.append(int(value))
        physical = self.choice(f"{prefix}.physical_health", REQOL_SCORES,
                               "Select a score for the physical health question")
        self.done[f"{prefix}_physical_health"] = int(physical) if physical.isdigit() else None
        return result


def _sign_off(form: Checked, referral: Referral, step: str) -> None:
    # The referrer signing off their own request has nobody to ask a question of.
    outcomes = ("approved", "rejected") if step == "referrer" else (
        "approved", "rejected", "more_information")
    outcome = form.choice("decision", outcomes, "Select whether you approve the request")
    if outcome == "rejected":
        form.done["text"] = form.need_text("reason", "Enter why you are rejecting the request")
    elif outcome == "more_information":
        form.done["text"] = form.need_text("question", "Enter your question for the referrer")
    form.done["outcome"] = outcome


def _answer(form: Checked, referral: Referral, step: str) -> None:
    form.done["answer"] = form.need_text("answer", "Enter your answer")


def _agreement(form: Checked, referral: Referral, step: str) -> None:
    if form.posted.get("choice") == "decline":
        form.done["decline"] = True
        return
    form.done["name"] = form.need_text("name", "Type your full name to accept the agreement",
                                       MAX_TYPED_NAME, a_name=True)
    form.ticked("accept", "Tick the box to say you accept the agreement")


def _release(form: Checked, referral: Referral, step: str) -> None:
    """A release: the first (`step` "release") also says how the budget is managed."""
    if step == "release":
        form.done["management"] = form.choice("management", tuple(codes.BUDGET_MANAGEMENT),
                                              "Select how the budget is managed")
    message = "Enter the amount released in pounds and pence, like 120.00"
    amount = form.pounds("amount", message)
    if amount is not None and amount <= 0:
        form.errors.append(FieldError("amount", message))
    form.done["amount_pence"] = amount
    form.done["on"] = form.past_date("on", "the date the money was released")
    form.done["how"] = form.choice("how", tuple(codes.RELEASE_METHODS),
                                   "Select how the money was released")
    form.done["reference"] = form.need_text("reference", "Enter the payment reference", 100,
                                            one_line=True)
    form.ticked("released", "Tick the box to confirm the money was released")


def _review(form: Checked, referral: Referral, step: str) -> None:
    form.done["bought"] = form.choice("bought", ("yes", "partly", "no"),
                                      "Select whether the item or service was bought")
    form.done["goals"] = _per_goal(form, referral, "progress", tuple(codes.PROGRESS),
                                   "Select the progress on goal {n}")
    form.done["reqol10_items"] = form.scores("reqol10")
    form.done["receipts"] = form.choice("receipts", ("yes", "no"),
                                        "Select whether receipts are held")
    form.done["unspent_pence"] = form.pounds(
        "unspent", "Enter the unspent amount in pounds and pence, or 0", blank="0")
    form.done["notes"] = form.optional_text("notes")


def _closure(form: Checked, referral: Referral, step: str) -> None:
    goals = _per_goal(form, referral, "achieved", tuple(codes.ACHIEVED),
                      "Select whether goal {n} was achieved")
    form.done["goals"] = goals
    # The goals together, as a closure recorded it before it asked per goal.
    form.done["achieved"] = overall_achieved([str(g["achieved"]) for g in goals])
    form.done["reqol10_items"] = form.scores("reqol10")
    form.done["unspent_pence"] = form.pounds(
        "unspent", "Enter the unspent amount in pounds and pence, or 0", blank="0")
    form.done["notes"] = form.optional_text("notes")


def _per_goal(form: Checked, referral: Referral, key: str, options: tuple[str, ...],
              message: str) -> list[dict[str, str | int]]:
    """One answer for each goal (`goals.<i>.<key>`), with the number of the goal it answers.
    Not the goal's text: the referral's answers hold it, and every byte the referral's item
    grows costs each later write of it (DynamoDB bills a write by the KB)."""
    return [{"goal": i + 1, key: form.choice(f"goals.{i}.{key}", options,
                                             message.format(n=i + 1))}
            for i, _ in enumerate(referral.goals)]


def _withdraw(form: Checked, referral: Referral, step: str) -> None:
    form.done["reason"] = form.optional_text("reason")


FORMS: dict[str, Callable[[Checked, Referral, str], None]] = {
    "sign-off": _sign_off, "answer": _answer, "agreement": _agreement, "release": _release,
    "review": _review, "closure": _closure, "withdraw": _withdraw,
}


def validate(action: str, posted: dict[str, str], referral: Referral,
             step: str = "") -> tuple[list[FieldError], dict[str, Any]]:
    """The posted form of an action on `step`, checked: (errors, what to do)."""
    form = Checked(posted)
    if action in FORMS:
        FORMS[action](form, referral, step)
    return form.errors, form.done
