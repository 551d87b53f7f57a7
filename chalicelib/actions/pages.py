"""What a one-time link shows and does: GET only shows what to decide (mail scanners fetch
links); only the form's POST acts, once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib.actions import commands, links
from chalicelib.actions.links import LinkProblem
from chalicelib.domain import amendment, codes, ledger, pathway
from chalicelib.domain.errors import FieldError
from chalicelib.domain.identity import find_address
from chalicelib.domain.outcomes import goal_answers
from chalicelib.domain.records import Link, StoredReferral
from chalicelib.web.forms import FormRejected, parse_form
from chalicelib.web.responses import form_context, page, problem_page

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.domain.referral import Referral


@dataclass
class Opened:
    """A link opened: the link, its referral as stored and as answered."""

    link: Link
    stored: StoredReferral
    referral: Referral


TITLES = {
    "sign-off": "Sign off a PHB request",
    "answer": "Answer a question about a PHB request",
    "agreement": "Direct payment agreement",
    "release": "Record that the money was released",
    "review": "6-week review",
    "closure": "Close the PHB",
    "withdraw": "Withdraw a PHB referral",
    "outcome": "Why the PHB request was not approved",
    "amend": "Change the items",
    "agreement-copy": "Your direct payment agreement",
}



def _problem(problem: LinkProblem) -> Response:
    return problem_page(problem.title, problem.message, problem.status)


def _open(svc: Services, action: str, link_id: str) -> Opened:
    from chalicelib.domain.referral import load_stored

    link = links.look_up(svc.store.links, action, link_id)
    found = svc.store.referrals.find(link.reference)
    if found is None:  # a link outliving its referral: as good as unknown
        raise LinkProblem(404, *links.ACTION_WORDING.unknown)
    stored = found
    if not stored.answers:
        raise LinkProblem(410, "This referral's details are no longer held",
                          "They were removed under the retention policy. Contact the PHB team "
                          "if you need to know more.")
    referral = load_stored(stored.answers)
    ended = codes.STATUSES[stored.status].lower()
    if action == "withdraw" and stored.status in pathway.FINAL:
        raise LinkProblem(409, "This referral has already ended",
                          f"It is {ended}, so there is nothing to withdraw.")
    if action == "amend" and not amendment.can_amend(stored.status, stored.ledger):
        raise LinkProblem(409, "This PHB can no longer be changed",
                          f"It is {ended}"
                          + (", and its money has all been released" if stored.approved_at
                             and stored.status not in pathway.FINAL else "")
                          + ". Contact the PHB team if something needs to change.")
    if action in pathway.STANDING_LINKS:
        # Kept by the referrer (and the person, for the agreement's copy): not by an address
        # an advisor has since corrected away.
        if find_address(link.recipient, [referral.referrer.email, referral.person.email or ""]
                        ) is None:
            raise LinkProblem(403, "This link is not for you",
                              "It was sent to an address that has since been corrected. "
                              "Contact the PHB team.")
        return Opened(link, stored, referral)
    _check_step_link(svc, link, stored, referral)
    return Opened(link, stored, referral)


def _check_step_link(svc: Services, link: Link, stored: StoredReferral,
                     referral: Referral) -> None:
    """LinkProblem if a step's link cannot be used now: paused, replaced, not for its holder,
    done already, or for a step not open."""
    from chalicelib.workflow.notices import recipients

    if stored.status == "needs_attention":
        raise LinkProblem(409, "This referral is paused",
                          "The PHB team is sorting out a problem with it. You will get a new "
                          "email when it is your turn again: there is nothing to do now.")
    replaced = (stored.recorded.get("links_from") or {}).get(link.step, "")
    if link.created_at < replaced:
        raise LinkProblem(410, "This link has been replaced",
                          "The request was sent again, to a corrected address, with a new "
                          "link. Use the link in the newest email.")
    if find_address(link.recipient, recipients(link.step, referral, svc.settings,
                                               stored.recorded.get("corrected"))) is None:
        raise LinkProblem(403, "This link is not for you",
                          "It was sent to someone who is no longer asked to act on this step. "
                          "Contact the PHB team.")
    if pathway.outcome_if_done(stored, link.step) or (
        link.step in pathway.SIGN_OFF_STEPS and stored.step != link.step
    ):
        raise LinkProblem(409, "This has already been done",
                          "Someone has already acted on this step, so there is nothing for you "
                          f"to do. The referral is now: {codes.STATUSES[stored.status]}.")
    if not pathway.open_for(stored, link.step):
        raise LinkProblem(409, "This step is not open now",
                          "The request has changed since this email was sent (it is now: "
                          f"{codes.STATUSES[stored.status]}). You will get a new email when "
                          "it is your turn.")


def decided_flags(svc: Services, stored: StoredReferral,
                  referral: Referral) -> list[dict[str, Any]]:
    """The flags intake recorded (what the approvers were asked to decide on), so a later
    change to the funding rules does not change what a referral's pages say; worked out
    afresh only for a referral not yet through intake."""
    from chalicelib.domain.validation import sign_off

    if stored.tier is not None:
        return list(stored.flags)
    return [flag.as_dict() for flag in sign_off(referral, svc.settings).flags]


def _context(svc: Services, opened: Opened) -> dict[str, Any]:
    from chalicelib.intake.decision import related
    from chalicelib.intake.form import anchor

    referral, stored, link = opened.referral, opened.stored, opened.link
    # Questions asked on this step and the referrer's answers, oldest first.
    answered = [e.detail for e in svc.store.referrals.history(stored.reference)
                if e.what == "information_given" and e.detail.get("step") == link.step
                ] if link.action == "sign-off" else []
    return {
        **form_context(),
        "action": link.action,
        "title": TITLES[link.action],
        "reference": stored.reference,
        "referral": referral,
        "stored": stored,
        "flags": decided_flags(svc, stored, referral),
        "step": link.step,
        # The referrer signing off their own request reads "your sign-off".
        "step_label": "your sign-off" if link.step == "referrer" else
        codes.STEPS.get(link.step, ""),
        "question": stored.recorded.get("question", {}),
        "answered": answered,
        "rejected": stored.recorded.get("rejected", {}),
        "money": money_view(stored),
        "anchor": anchor,
        # Who signs off and why, and the person's other PHBs, for the people deciding.
        "basis": stored.basis or {},
        "related": related(svc, stored, referral) if link.action == "sign-off" else [],
        # What the review said of each goal, beside closure's question about it.
        "reviewed_goals": goal_answers(stored.recorded.get("review"), "progress",
                                       len(referral.goals)),
    }


def money_view(stored: StoredReferral) -> dict[str, Any]:
    """The ledger as the pages show it: approved, released, left, unspent."""
    money = commands.ledger_of(stored) if stored.approved_at else None
    return {"ledger": money or {}, "approved": ledger.approved_total(money),
            "released": ledger.released_total(money), "left": ledger.remaining(money),
            "unspent": ledger.unspent_total(money),
            "to_recover": ledger.unspent_total(money, "to_recover"),
            "next_due": stored.next_release_due}


def _template(action: str) -> str:
    return f"actions/{action.replace('-', '_')}.html"


def show(svc: Services, action: str, link_id: str) -> Response:
    """GET: what the person needs to decide. Never acts. An agreement link used to accept
    opens a copy of what was accepted."""
    from chalicelib.actions import amend_form

    try:
        opened = _open(svc, action, link_id)
    except LinkProblem as problem:
        accepted = _accepted_with(svc, link_id) if action == "agreement" else None
        return copy_page(*accepted) if accepted else _problem(problem)
    if action == "amend":
        return page(_template(action), **{**_context(svc, opened), **amend_form.context(
            opened.stored, opened.referral)})
    if action == "agreement-copy":
        return _copy_of(opened)
    return page(_template(action), **_context(svc, opened))


def _accepted_with(svc: Services, link_id: str
                   ) -> tuple[StoredReferral, Referral, dict[str, Any]] | None:
    """The referral and the acceptance an agreement link was used for, if it was."""
    from chalicelib.domain.identifiers import sha256
    from chalicelib.domain.referral import load_stored

    link = svc.store.links.get(sha256(link_id)) if 20 <= len(link_id) <= 100 else None
    if link is None or link.action != "agreement" or not link.used_at:
        return None
    stored = svc.store.referrals.get(link.reference)
    accepted = [a for a in stored.recorded.get("agreements", []) if a.get("link") == link.id_hash]
    if not accepted or not stored.answers:
        return None
    return stored, load_stored(stored.answers), accepted[-1]


def _copy_of(opened: Opened) -> Response:
    number = opened.link.step
    accepted = [a for a in opened.stored.recorded.get("agreements", [])
                if str(a.get("n")) == number]
    if not accepted:
        return _problem(LinkProblem(404, *links.ACTION_WORDING.unknown))
    return copy_page(opened.stored, opened.referral, accepted[0])


def copy_page(stored: StoredReferral, referral: Referral, accepted: dict[str, Any]) -> Response:
    """A read-only, printable copy of an agreement as it was accepted."""
    later = [a for a in stored.recorded.get("agreements", []) if a["n"] > accepted["n"]]
    return page("actions/agreement_copy.html", title=TITLES["agreement-copy"],
                reference=stored.reference, referral=referral, accepted=accepted,
                superseded=bool(later) or (stored.status in ("approved", "awaiting_sign_off",
                                                             "awaiting_information")))


def act(svc: Services, action: str, link_id: str, body: bytes) -> Response:
    """POST: validate, act once, and say what happens next."""
    from chalicelib.actions.forms import validate

    try:
        opened = _open(svc, action, link_id)
        posted = parse_form(body)
    except LinkProblem as problem:
        return _problem(problem)
    except FormRejected as exc:
        return problem_page("There is a problem with the form", exc.message, 400)
    if action in ("outcome", "agreement-copy"):
        return _problem(LinkProblem(405, "Nothing to send", "This page is only to read."))
    if action == "amend":
        return _amend(svc, opened, posted)
    errors, done = validate(action, posted, opened.referral, opened.link.step)
    if errors:
        context = {**_context(svc, opened), **form_context(errors, posted)}
        return page(_template(action), status=422, **context)
    try:
        outcome = _perform(svc, action, opened, done)
    except ledger.Refused as refused:  # an amount past what the ledger allows
        errors = [FieldError(refused.field, refused.message)]
        context = {**_context(svc, opened), **form_context(errors, posted)}
        return page(_template(action), status=422, **context)
    except commands.AlreadyDone:
        return _problem(LinkProblem(
            409, "This has already been decided",
            "Someone else acted on this step first, so your answer was not recorded. "
            "Nothing else has changed."))
    return done_page(svc, action, outcome, opened)


def done_page(svc: Services, action: str, outcome: str, opened: Opened) -> Response:
    """What was done, what happens next for the person who did it, and where they go now."""
    from chalicelib.actions.done import after

    stored = opened.stored
    now = svc.store.referrals.find(stored.reference) or stored
    said = after(outcome, action, opened.link.step, stored, now, opened.referral, svc.settings)
    return page("actions/done.html", title="Done", **said.context(stored.reference))


def _amend(svc: Services, opened: Opened, posted: dict[str, str]) -> Response:
    """The referrer's change to the items, through the link in their acknowledgement (which
    stays theirs to use again)."""
    from chalicelib.actions import amend_form

    stored, referral = opened.stored, opened.referral
    try:
        result, values, errors = amend_form.submit(svc, stored, referral, opened.link.recipient,
                                                   posted)
    except commands.AlreadyDone:
        return _problem(LinkProblem(
            409, "The request changed meanwhile",
            "Someone acted on it while you were changing it, so your change was not recorded. "
            "Open the link again to see it as it is now."))
    if result is None:
        return page(_template("amend"), status=422, **{
            **_context(svc, opened), **amend_form.context(stored, referral, values, errors)})
    from chalicelib.actions.done import amended

    return page("actions/done.html", title="Done",
                **amended(amend_form.message(result)).context(stored.reference))


def _perform(svc: Services, action: str, opened: Opened, done: dict[str, Any]) -> str:
    """Do the action; what was done (the decision's outcome, "declined", or the action)."""
    stored, link = opened.stored, opened.link
    actor = link.recipient
    if action == "sign-off":
        commands.decide(svc, stored, link.step, actor, done["outcome"], done.get("text", ""),
                        using=link)
        return str(done["outcome"])
    if action == "agreement" and done.get("decline"):
        commands.withdraw(svc, stored, "budget holder", "The person declined the agreement",
                          using=link)
        return "declined"
    perform: dict[str, Any] = {
        "answer": lambda: commands.answer_question(svc, stored, actor, done["answer"], link),
        "agreement": lambda: commands.accept_agreement(svc, stored, done["name"], link),
        "release": lambda: commands.record_release(
            svc, stored, actor, done["amount_pence"], done["on"], done["how"],
            done["reference"], done.get("management"), link),
        "review": lambda: commands.record_review(svc, stored, actor, dict(done), link),
        "closure": lambda: commands.record_closure(svc, stored, actor, dict(done), link),
        "withdraw": lambda: commands.withdraw(svc, stored, actor, done["reason"], link),
    }
    perform[action]()
    return action
