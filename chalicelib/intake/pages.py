"""The clinician's referral form: page handlers over `form` (what the pages mean) and the draft
kept in the store between pages.

A draft is found by an HttpOnly, SameSite cookie holding a random id. Submitting uses the draft
id as the idempotency key, so the back button or a double click returns the same referral.
The referral models (pydantic) load when a page first checks or sends answers, not for the
start page: it is the first thing a cold Lambda serves.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib.domain.errors import FieldError
from chalicelib.domain.policy import DRAFT_SECONDS, MAX_GOALS, MAX_ITEMS
from chalicelib.intake import form
from chalicelib.intake.form import SECTION_BY_SLUG, SECTIONS
from chalicelib.web.forms import FormRejected, parse_form
from chalicelib.web.requests import cookie_from
from chalicelib.web.responses import form_context, page, problem_page, redirect

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.config import Settings
    from chalicelib.domain.referral import Referral

COOKIE = "phb_draft"
SUBMITTED = "_submitted_reference"


def draft_id_from(cookie_header: str | None) -> str | None:
    """The draft's id from the Cookie header, if it is one this service could have set."""
    value = cookie_from(cookie_header, COOKIE)
    if value is None or not value.isalnum() or len(value) > 64:
        return None
    return value


def _set_cookie(draft_id: str, settings: Settings) -> str:
    secure = "" if settings.is_local else "; Secure"
    return (f"{COOKIE}={draft_id}; Path={settings.base_path}/referral; HttpOnly; "
            f"SameSite=Lax; Max-Age={DRAFT_SECONDS}{secure}")


def _expired() -> Response:
    return redirect("/referral?expired=1")


def _no_such_page() -> Response:
    return problem_page("Page not found", "There is no page at this address.", 404)


# --- start ------------------------------------------------------------------------------------


def start_page(expired: bool) -> Response:
    return page("referral/start.html", expired=expired, sections=SECTIONS)


def start_draft(svc: Services) -> Response:
    draft_id = secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")
    svc.store.drafts.save(draft_id, {})
    return redirect(f"/referral/{SECTIONS[0].slug}",
                    headers={"Set-Cookie": _set_cookie(draft_id, svc.settings)})


# --- one section ------------------------------------------------------------------------------


def _open_draft(svc: Services, draft_id: str | None) -> dict[str, str] | Response:
    """The draft's answers, or where to send someone whose draft is gone or already sent."""
    values = svc.store.drafts.load(draft_id) if draft_id else None
    if values is None:
        return _expired()
    if values.get(SUBMITTED):
        return redirect(f"/referral/confirmation/{values[SUBMITTED]}")
    return values


def _check(values: dict[str, str], settings: Settings) -> tuple[Referral | None, list[FieldError]]:
    from chalicelib.domain.validation import validate_referral

    data, form_errors = form.to_contract(values)
    result = validate_referral(data, settings)
    if isinstance(result, list):
        return None, form.merge_errors(form_errors, result)
    if form_errors:
        return None, form.merge_errors(form_errors, [])
    return result, []


def _example_date() -> str:
    """A target date as the date boxes take it, two months from today."""
    from chalicelib.domain.dates import add_months

    day = add_months(date.today(), 2)
    return f"{day.day} {day.month} {day.year}"


def _section_context(slug: str, values: dict[str, str], errors: list[FieldError],
                     change: bool, settings: Settings) -> dict[str, Any]:
    shown = form.sections_for(values, settings.referrer_signoff_below_pence, showing=slug)
    previous = form.previous_section(slug, shown)
    context: dict[str, Any] = {
        **form_context(errors, values),
        "section": SECTION_BY_SLUG[slug],
        "sections": shown,
        "anchor": form.anchor,
        "change": change,
        "back_href": "/referral/check" if change else (
            f"/referral/{previous}" if previous else "/referral"),
        "goal_rows": max(MAX_GOALS, form.row_count(values, "goals")),
        "item_rows": max(1, form.row_count(values, "items")),
        "typed_total": form.typed_total(values) if slug == "manager" else None,
        "goal_typed": lambda index: form.row_typed(values, "goals", index),
        "example_date": _example_date(),
    }
    if slug == "items" and not errors:
        from chalicelib.intake import cautions

        context.update(cautions.context(values, settings))
    return context


def section_page(svc: Services, slug: str, draft_id: str | None, change: bool) -> Response:
    if slug not in SECTION_BY_SLUG:
        return _no_such_page()
    values = _open_draft(svc, draft_id)
    if isinstance(values, Response):
        return values
    return page(f"referral/{slug}.html",
                **_section_context(slug, values, [], change, svc.settings))


def _is_field_of(name: str, slug: str) -> bool:
    return form.section_for(form.field_path(name)).slug == slug


def save_section(svc: Services, slug: str, draft_id: str | None, body: bytes,
                 change: bool) -> Response:
    if slug not in SECTION_BY_SLUG:
        return _no_such_page()
    values = _open_draft(svc, draft_id)
    if isinstance(values, Response) or draft_id is None:
        return values if isinstance(values, Response) else _expired()
    try:
        posted = parse_form(body)
    except FormRejected as exc:
        return problem_page("There is a problem with the form", exc.message, 400)
    action = posted.pop("action", "continue")
    remove = posted.pop("remove", None)
    seen = posted.pop("cautions_seen", "")
    # Replace this page's answers (so a removed row or an unticked box is really gone).
    values = {k: v for k, v in values.items() if not _is_field_of(k, slug)}
    values.update({k: v for k, v in posted.items() if _is_field_of(k, slug)})
    rows = {"items": "items", "goals": "goals"}.get(slug)
    removing = remove is not None and remove.isdigit()
    if rows and (removing or (rows == "items" and action == "add")):
        return _change_rows(svc, slug, draft_id, values, change, remove)
    if rows:
        values = form.compact_rows(values, rows)
    svc.store.drafts.save(draft_id, values)
    _, errors = _check(values, svc.settings)
    mine = [e for e in errors if form.section_for(e.field).slug == slug]
    if mine:
        return _render_section(svc, slug, values, mine, change, 422)
    if slug == "items" and _unread_cautions(values, svc.settings, seen):
        return _render_section(svc, slug, values, [], change, 200)
    return redirect(_after(slug, values, change, svc.settings))


def _unread_cautions(values: dict[str, str], settings: Settings, seen: str) -> bool:
    """Whether the items page has cautions the clinician has not been shown yet: the page
    shows them once, and Save and continue then goes on."""
    from chalicelib.intake import cautions

    said = cautions.item_cautions(values, settings)
    return bool(said) and seen != cautions.seen_mark(said)


def _after(slug: str, values: dict[str, str], change: bool, settings: Settings) -> str:
    """Where saving a page leads: the next page shown, or check your answers; from the items
    page, to the approving manager's whenever the total now needs one and none was given
    (changing an item can push the total over the threshold)."""
    below = settings.referrer_signoff_below_pence
    if slug == "items" and form.needs_manager(values, below) and not form.manager_typed(values):
        return "/referral/manager" + ("?change=1" if change else "")
    following = form.next_section(slug, form.sections_for(values, below, showing=slug))
    if change or following is None:
        return "/referral/check"
    return f"/referral/{following}"


def _change_rows(svc: Services, slug: str, draft_id: str, values: dict[str, str], change: bool,
                 remove: str | None) -> Response:
    """Remove a goal or item row, or add an item row, and show the page again."""
    focus = None
    if remove is not None and remove.isdigit():
        values = {k: v for k, v in values.items() if not k.startswith(f"{slug}.{remove}.")}
        values = form.compact_rows(values, slug)
    else:
        values = form.compact_rows(values, "items")
        count = form.row_count(values, "items")
        if count < MAX_ITEMS:
            values[f"items.{count}.description"] = ""
        focus = f"items.{count}.description"
    svc.store.drafts.save(draft_id, values)
    return _render_section(svc, slug, values, [], change, 200, focus=focus)


def _render_section(svc: Services, slug: str, values: dict[str, str], errors: list[FieldError],
                    change: bool, status: int, focus: str | None = None) -> Response:
    context = _section_context(slug, values, errors, change, svc.settings)
    return page(f"referral/{slug}.html", status=status, focus=focus, **context)


# --- check your answers and submit ------------------------------------------------------------


def check_page(svc: Services, draft_id: str | None) -> Response:
    values = _open_draft(svc, draft_id)
    if isinstance(values, Response):
        return values
    return _render_check(svc, values, 200)


def _render_check(svc: Services, values: dict[str, str], status: int) -> Response:
    """Check your answers: every answer, each error beside the one to fix; the sign-off and
    the Send button once nothing needs changing."""
    from chalicelib.intake.summary import answers_of, summary

    settings = svc.settings
    referral, errors = _check(values, settings)
    decision = None
    if referral is not None:
        from chalicelib.intake.decision import decide, manager_needed

        decision = decide(svc, referral)
        errors = manager_needed(decision, referral)
    with_manager = (form.manager_typed(values)
                    or form.needs_manager(values, settings.referrer_signoff_below_pence)
                    or any(e.field.startswith("approving_manager") for e in errors))
    context: dict[str, Any] = {
        **form_context(errors, values),
        "ready": referral is not None and not errors,
        "summary": summary(answers_of(values, settings), errors, settings.base_path,
                           total=form.typed_total(values), with_manager=with_manager),
        "sections": SECTIONS,
        "section_for": form.section_for,
        "anchor": form.anchor,
        "warnings": [],
        "decision": None,
    }
    if referral is not None and decision is not None and not errors:
        from chalicelib.domain.validation import warnings

        context["warnings"] = warnings(referral)
        context.update(decision=decision.sign_off, why=decision.why,
                       why_counted=bool(decision.basis.counted))
    return page("referral/check.html", status=422 if errors else status, **context)


def submit(svc: Services, draft_id: str | None) -> Response:
    values = _open_draft(svc, draft_id)
    if isinstance(values, Response) or draft_id is None:
        return values if isinstance(values, Response) else _expired()
    referral, _ = _check(values, svc.settings)
    from chalicelib.domain.errors import IdempotencyConflict
    from chalicelib.intake import submission
    from chalicelib.intake.decision import decide, manager_needed

    if referral is None or manager_needed(decide(svc, referral), referral):
        return _render_check(svc, values, 422)

    try:
        created = submission.submit(svc, referral, idempotency_key=f"form:{draft_id}")
    except IdempotencyConflict as sent:
        # Sent already (from another tab, say) before these answers were changed.
        return problem_page(
            "This referral has already been sent",
            f"It was sent as {sent.reference} before these answers were changed, so the "
            "changes were not sent. Contact the PHB team with the reference to change it, or "
            "start a new referral.", 409)
    svc.store.drafts.save(draft_id, {**values, SUBMITTED: created.reference})
    return redirect(f"/referral/confirmation/{created.reference}")


def _not_found() -> Response:
    return problem_page("Referral not found", "There is no referral with that reference. "
                        "Check it against the acknowledgement email.", 404)


def confirmation(svc: Services, reference: str) -> Response:
    stored = svc.store.referrals.find(reference)
    if stored is None:
        return _not_found()
    return page("referral/confirmation.html", reference=stored.reference)


def status_page(svc: Services, reference: str) -> Response:
    from chalicelib.domain.codes import STATUSES

    stored = svc.store.referrals.find(reference)
    if stored is None:
        return _not_found()
    return page("referral/status.html", reference=stored.reference,
                status_label=STATUSES.get(stored.status, stored.status),
                submitted=date.fromisoformat(stored.created_at[:10]))
