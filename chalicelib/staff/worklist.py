"""The worklist: the referrals of one view, newest first, a page at a time, and finding one by
its reference. Each view is one index query (never a scan)."""

from __future__ import annotations

import time
from datetime import date
from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib.domain import codes
from chalicelib.domain.dates import now_iso, short_date
from chalicelib.domain.errors import BadPageToken, FieldError
from chalicelib.domain.policy import HELD_BACK_SHOWN_SECONDS, MAX_REFERENCE_TYPED, PAGE_SIZE
from chalicelib.domain.records import View, WorklistPage, WorklistRow
from chalicelib.staff.sessions import StaffSession, require_staff
from chalicelib.web.requests import query_of
from chalicelib.web.responses import form_context, page, redirect

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services


# The statuses in which a referral may wait on a PHB advisor (a request waits on one only at
# the advisor's step).
ADVISOR_STATUSES = ("needs_attention", "agreement_accepted", "awaiting_sign_off")
# The longest last name searched for (the form takes no longer).
MAX_NAME_TYPED = 100
# A search's results at most (one person's or one referrer's referrals, newest first).
SEARCH_SIZE = 50
HELD_BACK_KINDS = {"sign_in": "Staff sign-in links", "acknowledgement": "Referral acknowledgements",
                   "referrer_sign_in": "Referrer sign-in links",
                   "referrer_resend": "Requests a referrer sent again"}


def view_choices(svc: Services) -> list[dict[str, str]]:
    """Every worklist view, as the select box lists them: value `view:value`."""
    choices = [{"value": "action:", "text": "Needs my action"},
               {"value": "mine:", "text": "Assigned to me"},
               {"value": "all:", "text": "All referrals"},
               {"value": "overdue:", "text": "Overdue: waiting past the reminder time"},
               {"value": "flagged:", "text": "Flagged for a PHB advisor"}]
    choices += [{"value": f"status:{code}", "text": f"Status: {label}"}
                for code, label in codes.STATUSES.items()]
    choices += [{"value": f"borough:{code}", "text": f"Borough: {label}"}
                for code, label in codes.BOROUGHS.items()]
    choices += [{"value": f"tier:{code}", "text": f"Who signs off: {label}"}
                for code, label in svc.settings.tier_labels.items()]
    return choices


def needs_action(svc: Services) -> WorklistPage:
    """What waits on a PHB advisor now, newest first: a flagged request's decision, the money
    to release (the first release, or a monthly one due by today) and referrals that need
    attention. A few index queries of small partitions (those statuses, today's releases due),
    never a scan; one page, as these are the day's work, not the archive."""
    referrals = svc.store.referrals
    rows = referrals.named([row for row in referrals.in_statuses(ADVISOR_STATUSES)
                            if row.status != "awaiting_sign_off" or row.step == "advisor"])
    listed = {row.reference for row in rows}
    for reference in referrals.releases_due(date.today().isoformat()):
        if reference not in listed:
            rows.append(WorklistRow.of(referrals.get(reference)))
    return WorklistPage(sorted(rows, key=lambda row: row.created_at, reverse=True), None)


# The step a referral in each status waits for (in sign-off: the row's own sign-off step).
WAITING_IN = {"awaiting_information": "information", "approved": "agreement",
              "agreement_accepted": "release", "funds_released": "review",
              "reviewed": "closure"}


def where_it_is(row: WorklistRow) -> str:
    """A row's place in the pathway in words: "Waiting for the approving manager's sign-off
    since 28 Nov", or its status where nothing waits."""
    step = row.step if row.status == "awaiting_sign_off" else WAITING_IN.get(row.status)
    if step in codes.STEPS:
        return f"Waiting for {codes.STEPS[step]} since {short_date(row.updated_at)}"
    return codes.STATUSES.get(row.status, row.status)


def _valid_view(view: str, value: str) -> bool:
    return {
        "action": value == "", "mine": value == "", "all": value == "", "overdue": value == "",
        "flagged": value == "",
        "status": value in codes.STATUSES,
        "borough": value in codes.BOROUGHS,
        "tier": value in codes.TIERS,
    }.get(view, False)


def worklist(svc: Services, request: Any) -> Response:
    session = require_staff(svc, request)
    if isinstance(session, Response):
        return session
    query = query_of(request)
    if "reference" in query:
        return _find(svc, session, query["reference"].strip())
    # An advisor's first page is what waits on them.
    kind, _, value = query.get("view", "action:").partition(":")
    if "value" in query:
        value = query["value"]
    if not _valid_view(kind, value):
        return _worklist_page(svc, session, View("all"), None, status=400,
                              errors=[FieldError("view", "Select a list to show")])
    return _worklist_page(svc, session, View(kind, value), query.get("after") or None)


def _find(svc: Services, session: StaffSession, typed: str) -> Response:
    """Find by what an advisor has to hand: a reference (straight to its case), an NHS number
    (that person's referrals), the person's last name (everyone's with it) or a referrer's
    email (theirs). Each is one index query (a reference: one read by key)."""
    referrals = svc.store.referrals
    found_rows = _by_address_or_nhs_number(svc, typed) if typed and len(typed) <= 254 else None
    if found_rows is None and typed and len(typed) <= MAX_REFERENCE_TYPED:
        found = referrals.find(typed)
        if found is not None:
            return redirect(f"/staff/referrals/{found.reference}")
    if found_rows is None and _could_be_a_name(typed):
        found_rows = [WorklistRow.of(stored) for stored in
                      referrals.for_last_name(typed, SEARCH_SIZE)]
    if found_rows:
        return _worklist_page(svc, session, View("found"), None, typed=typed,
                              found=sorted(found_rows, key=lambda row: row.created_at,
                                           reverse=True))
    message = ("Enter a reference, an NHS number, the person's last name or a referrer's email "
               "address" if not typed else "No referral was found for that. Check it and try "
                                              "again")
    return _worklist_page(svc, session, View("all"), None, status=404 if typed else 422,
                          errors=[FieldError("reference", message)], typed=typed)


def _by_address_or_nhs_number(svc: Services, typed: str) -> list[WorklistRow] | None:
    """The referrals a referrer's address or an NHS number finds; None when what was typed
    is neither."""
    from chalicelib.domain.identifiers import nhs_number_is_valid, normalise_nhs_number

    referrals = svc.store.referrals
    if "@" in typed:
        return [WorklistRow.of(stored) for stored in
                referrals.for_referrer(typed, SEARCH_SIZE).referrals]
    digits = normalise_nhs_number(typed)
    if nhs_number_is_valid(digits):
        return [WorklistRow.of(referrals.get(reference))
                for reference in referrals.references_for_person(digits)]
    return None


def _could_be_a_name(typed: str) -> bool:
    """Letters and no digits, no longer than the form takes a name."""
    return 0 < len(typed) <= MAX_NAME_TYPED and any(c.isalpha() for c in typed) and not any(
        c.isdigit() for c in typed)


def _worklist_page(svc: Services, session: StaffSession, view: View, after: str | None,
                   status: int = 200, errors: list[FieldError] | None = None,
                   typed: str = "", found: list[WorklistRow] | None = None) -> Response:
    try:
        if found is not None:
            listed = WorklistPage(found, None)
        elif view.kind == "action":
            listed = needs_action(svc)
        elif view.kind == "mine":
            listed = WorklistPage([WorklistRow.of(stored) for stored in
                                   svc.store.referrals.assigned_to(session.email, SEARCH_SIZE)],
                                  None)
        else:
            listed = svc.store.referrals.page(view, PAGE_SIZE, after)
    except BadPageToken:
        listed = svc.store.referrals.page(view, PAGE_SIZE)
        status, after = 400, None
        errors = [FieldError("view", "That page link is not valid: start again from the first "
                                     "page")]
    # Emails the caps per address held back this week: a flood of sign-in requests or of
    # referrals naming one clinician, or a real person locked out, for an advisor to see.
    held_back = svc.store.caps.held_back(int(time.time()) - HELD_BACK_SHOWN_SECONDS) \
        if after is None else []
    return page(
        "staff/worklist.html", status=status, session=session, title="Referrals",
        held_back=held_back, held_back_kinds=HELD_BACK_KINDS,
        rows=listed.rows, next_token=listed.next_page, view=view.kind, value=view.value,
        selected=f"{view.kind}:{view.value}", choices=view_choices(svc),
        first_page=after is None, typed=typed, anchor=lambda name: name,
        status_labels=codes.STATUSES, where_it_is=where_it_is,
        tier_labels=svc.settings.tier_labels, now=now_iso(), **form_context(errors))
