"""The clinician's referral form: page handlers over `form` (what the pages mean) and the draft
kept in the table between pages.

A draft is found by an HttpOnly, SameSite cookie holding a random id. Submitting uses the draft
id as the idempotency key, so the back button or a double click returns the same referral.
"""

from __future__ import annotations

import secrets
from datetime import date
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

from chalice import Response

from chalicelib import aws, form
from chalicelib.config import Settings, get_settings
from chalicelib.errors import FieldError
from chalicelib.form import SECTION_BY_SLUG, SECTIONS, FormRejected
from chalicelib.store import ReferralStore, find_referral
from chalicelib.web import page, redirect

if TYPE_CHECKING:
    from chalicelib.referral import Referral

# The referral models (pydantic) and intake load when a page first checks or sends answers,
# not for the start page: it is the first thing a cold Lambda serves.

COOKIE = "phb_draft"
SUBMITTED = "_submitted_reference"


def _store(settings: Settings) -> ReferralStore:
    return ReferralStore(aws.client("dynamodb"), settings.table_name)


def draft_id_from(cookie_header: str | None) -> str | None:
    if not cookie_header:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(cookie_header)
    except Exception:
        return None
    morsel = cookie.get(COOKIE)
    if morsel is None or not morsel.value.isalnum() or len(morsel.value) > 64:
        return None
    return morsel.value


def _set_cookie(draft_id: str, settings: Settings) -> str:
    secure = "" if settings.is_local else "; Secure"
    return (f"{COOKIE}={draft_id}; Path={settings.base_path}/referral; HttpOnly; "
            f"SameSite=Lax; Max-Age=172800{secure}")


def error_page(status: int, title: str, message: str) -> Response:
    return page("error.html", status=status, title=title, message=message)


def _expired() -> Response:
    return redirect("/referral?expired=1")


# --- start ------------------------------------------------------------------------------------


def start_page(expired: bool) -> Response:
    return page("referral/start.html", expired=expired, sections=SECTIONS)


def start_draft() -> Response:
    settings = get_settings()
    draft_id = secrets.token_urlsafe(24).replace("-", "a").replace("_", "b")
    _store(settings).save_draft(draft_id, {})
    return redirect(f"/referral/{SECTIONS[0].slug}",
                    headers={"Set-Cookie": _set_cookie(draft_id, settings)})


# --- one section ------------------------------------------------------------------------------


def _open_draft(draft_id: str | None) -> tuple[dict[str, str], None] | tuple[None, Response]:
    """The draft's answers, or where to send someone whose draft is gone or already sent."""
    values = _store(get_settings()).load_draft(draft_id) if draft_id else None
    if values is None:
        return None, _expired()
    if values.get(SUBMITTED):
        return None, redirect(f"/referral/confirmation/{values[SUBMITTED]}")
    return values, None


def _check(values: dict[str, str], settings: Settings) -> tuple[Referral | None, list[FieldError]]:
    from chalicelib.referral import validate_referral

    data, form_errors = form.to_contract(values)
    result = validate_referral(data, settings)
    if isinstance(result, list):
        return None, form.merge_errors(form_errors, result)
    if form_errors:
        return None, form.merge_errors(form_errors, [])
    return result, []


def _section_context(slug: str, values: dict[str, str], errors: list[FieldError],
                     change: bool) -> dict[str, Any]:
    section = SECTION_BY_SLUG[slug]
    previous = form.previous_section(slug)
    return {
        "section": section,
        "sections": SECTIONS,
        "values": values,
        "errors": errors,
        "error_for": {e.field: e.message for e in errors},
        "anchor": form.anchor,
        "form": form,
        "change": change,
        "back_href": "/referral/check" if change else (
            f"/referral/{previous}" if previous else "/referral"),
        "goal_rows": max(form.MAX_GOALS, form.row_count(values, "goals")),
        "item_rows": max(1, form.row_count(values, "items")),
    }


def section_page(slug: str, draft_id: str | None, change: bool) -> Response:
    if slug not in SECTION_BY_SLUG:
        return error_page(404, "Page not found", "There is no page at this address.")
    values, elsewhere = _open_draft(draft_id)
    if values is None or draft_id is None:
        return elsewhere or _expired()
    return page(f"referral/{slug}.html", **_section_context(slug, values, [], change))


def _is_field_of(name: str, slug: str) -> bool:
    return form.section_for(form.field_path(name)).slug == slug


def save_section(slug: str, draft_id: str | None, body: bytes, change: bool) -> Response:
    if slug not in SECTION_BY_SLUG:
        return error_page(404, "Page not found", "There is no page at this address.")
    settings = get_settings()
    values, elsewhere = _open_draft(draft_id)
    if values is None or draft_id is None:
        return elsewhere or _expired()
    try:
        posted = form.parse_form(body)
    except FormRejected as exc:
        return error_page(400, "There is a problem with the form", exc.message)
    action = posted.pop("action", "continue")
    remove = posted.pop("remove", None)
    # Replace this page's answers (so a removed row or an unticked box is really gone).
    values = {k: v for k, v in values.items() if not _is_field_of(k, slug)}
    values.update({k: v for k, v in posted.items() if _is_field_of(k, slug)})

    rows_prefix = {"items": "items", "goals": "goals"}.get(slug)
    if rows_prefix and remove is not None and remove.isdigit():
        values = {k: v for k, v in values.items() if not k.startswith(f"{rows_prefix}.{remove}.")}
        values = form.compact_rows(values, rows_prefix)
        _store(settings).save_draft(draft_id, values)
        return _render_section(slug, values, [], change, 200)
    if rows_prefix == "items" and action == "add":
        values = form.compact_rows(values, "items")
        count = form.row_count(values, "items")
        if count < form.MAX_ITEMS:
            values[f"items.{count}.description"] = ""
        _store(settings).save_draft(draft_id, values)
        return _render_section(slug, values, [], change, 200, focus=f"items.{count}.description")
    if rows_prefix:
        values = form.compact_rows(values, rows_prefix)
    _store(settings).save_draft(draft_id, values)

    _, errors = _check(values, settings)
    mine = [e for e in errors if form.section_for(e.field).slug == slug]
    if mine:
        return _render_section(slug, values, mine, change, 422)
    following = form.next_section(slug)
    if change or following is None:
        return redirect("/referral/check")
    return redirect(f"/referral/{following}")


def _render_section(slug: str, values: dict[str, str], errors: list[FieldError], change: bool,
                    status: int, focus: str | None = None) -> Response:
    context = _section_context(slug, values, errors, change)
    return page(f"referral/{slug}.html", status=status, focus=focus, **context)


# --- check your answers and submit ------------------------------------------------------------


def check_page(draft_id: str | None) -> Response:
    values, elsewhere = _open_draft(draft_id)
    if values is None or draft_id is None:
        return elsewhere or _expired()
    return _render_check(values, 200)


def _render_check(values: dict[str, str], status: int) -> Response:
    settings = get_settings()
    referral, errors = _check(values, settings)
    context: dict[str, Any] = {
        "values": values,
        "errors": errors,
        "referral": referral,
        "sections": SECTIONS,
        "section_for": form.section_for,
        "anchor": form.anchor,
        "form": form,
        "warnings": [],
        "decision": None,
    }
    if referral is not None:
        from chalicelib.referral import sign_off, warnings

        context["summary"] = form.summary(referral, settings.base_path)
        context["warnings"] = warnings(referral)
        context["decision"] = sign_off(referral, settings)
    return page("referral/check.html", status=422 if errors else status, **context)


def submit(draft_id: str | None) -> Response:
    settings = get_settings()
    values, elsewhere = _open_draft(draft_id)
    if values is None or draft_id is None:
        return elsewhere or _expired()
    referral, _ = _check(values, settings)
    if referral is None:
        return _render_check(values, 422)
    from chalicelib import intake
    from chalicelib.store import IdempotencyConflict

    try:
        created = intake.submit(referral, settings, idempotency_key=f"form:{draft_id}")
    except IdempotencyConflict as sent:
        # Sent already (from another tab, say) before these answers were changed.
        return error_page(
            409, "This referral has already been sent",
            f"It was sent as {sent.reference} before these answers were changed, so the "
            "changes were not sent. Contact the PHB team with the reference to change it, or "
            "start a new referral.")
    _store(settings).save_draft(draft_id, {**values, SUBMITTED: created.reference})
    return redirect(f"/referral/confirmation/{created.reference}")


def _not_found() -> Response:
    return error_page(404, "Referral not found", "There is no referral with that reference. "
                      "Check it against the acknowledgement email.")


def confirmation(reference: str) -> Response:
    stored = find_referral(_store(get_settings()), reference)
    if stored is None:
        return _not_found()
    return page("referral/confirmation.html", reference=stored.reference)


def status_page(reference: str) -> Response:
    from chalicelib.pathway import STATUS_LABELS

    stored = find_referral(_store(get_settings()), reference)
    if stored is None:
        return _not_found()
    return page("referral/status.html", reference=stored.reference,
                status_label=STATUS_LABELS.get(stored.status, stored.status),
                submitted=date.fromisoformat(stored.created_at[:10]))
