"""Markup, script, unicode edge cases and very long strings in every free-text field: the
referral is stored with the text intact or refused with a field error, and wherever the text
is shown it is escaped. Emails never carry it at all."""

from __future__ import annotations

import json
import secrets
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from chalicelib import aws, links
from chalicelib.config import get_settings
from chalicelib.store import ReferralStore
from devstack.outbox import sent_emails
from tests.conftest import wait_for_acknowledgement
from tests.factories import make_referral, with_change

# (dotted path, shown on the sign-off page, shown on the agreement page)
FREE_TEXT = [
    ("referrer.name", True, False),
    ("referrer.role", True, False),
    ("referrer.team", True, False),
    ("referrer.organisation", False, False),
    ("approving_manager.name", False, False),
    ("person.first_name", False, True),
    ("person.last_name", False, True),
    ("goals.0.goal", True, True),
    ("how_phb_helps", True, False),
    ("alternatives_considered", True, False),
    ("items.0.description", True, True),
    ("items.0.supplier", True, True),
]
MULTI_LINE = {"goals.0.goal", "how_phb_helps", "alternatives_considered"}

PAYLOADS = [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</textarea><b>x</b>",
    "{{ 7*7 }}", "{% raw %}", "&amp; &lt;", "javascript:alert(1)", "' OR 1=1 --",
    "\u202eevil", "zero\u200bwidth", "e\u0301", "😀👩‍⚕️", "日本語", "\u00a0nbsp", "a\nb",
    "<!--", "]]>", "\\u0000",
]
texts = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(min_size=0, max_size=60),
    st.text(alphabet="<>&'\"/=; abc\n", min_size=1, max_size=40),
    st.integers(min_value=100, max_value=3000).map(lambda n: "<b>" * (n // 3)),
)


def store() -> ReferralStore:
    return ReferralStore(aws.client("dynamodb"), get_settings().table_name)


def folded(text: str) -> str:
    return " ".join(text.split())


def referral_count() -> int:
    items = store().client.scan(TableName=get_settings().table_name)["Items"]
    return sum(1 for item in items if item["sk"]["S"] == "REFERRAL")


def assert_shown_escaped(html: str, kept: str, context: Any) -> None:
    # Templates may indent a multi-line value; HTML collapses white space, so compare with
    # runs of white space folded.
    assert folded(str(escape(kept))) in folded(html), context
    if any(c in kept for c in "<>"):
        assert kept not in html, context


def assert_never_emailed(text: str) -> None:
    marker = text.split(" ", 1)[0]
    for email in sent_emails():
        assert marker not in email.subject + email.text + email.html


def value_at(data: dict[str, Any], path: str) -> Any:
    target: Any = data
    for part in path.split("."):
        target = target[int(part)] if part.isdigit() else target[part]
    return target


def expected_stored(text: str, path: str) -> str:
    stripped = text.strip()
    return stripped.replace("\r\n", "\n") if path in MULTI_LINE else stripped


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(field=st.sampled_from(FREE_TEXT), payload=texts)
def test_free_text_is_kept_or_refused_and_always_escaped(
    api: Any, client: Any, field: tuple[str, bool, bool], payload: str
) -> None:
    path, on_sign_off, on_agreement = field
    # A marker makes the text findable, and lets us prove no email ever carries it.
    text = f"Zq{secrets.token_hex(3)} {payload}"
    referral = with_change(make_referral(total_pence=30000), path, text)
    before = referral_count()
    response = api(referral)

    if response.status_code == 422:
        fields = {e["field"] for e in response.json_body["errors"]}
        assert path in fields, (path, response.json_body)
        assert referral_count() == before  # nothing stored
        return
    assert response.status_code == 201, response.json_body
    reference = response.json_body["reference"]
    stored = json.loads(store().get(reference).answers)
    kept = value_at(stored, path)
    assert kept == expected_stored(text, path)
    wait_for_acknowledgement(reference)  # intake done: the sign-off step is waiting

    pages = []
    if on_sign_off:
        link_id = links.issue(store(), reference, "manager", "sign-off", "jo.patel@nhs.net", 1)
        pages.append(client.http.get(f"/act/sign-off/{link_id}"))
    if on_agreement:
        link_id = links.issue(store(), reference, "agreement", "agreement",
                              referral["referrer"]["email"], 1)
        store().transition(reference, "approved", ("awaiting_sign_off",), "test", "approved",
                           when_fields={"step": "manager"})
        pages.append(client.http.get(f"/act/agreement/{link_id}"))
    for page in pages:
        assert page.status_code == 200, page.body[:500]
        assert_shown_escaped(page.body.decode(), kept, (path, kept))
    assert_never_emailed(text)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=st.sampled_from([*PAYLOADS, "x" * 5000]))
def test_form_pages_escape_what_was_typed(client: Any, payload: str) -> None:
    from urllib.parse import urlencode

    started = client.http.post("/referral/start", body="",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    cookie = started.headers["Set-Cookie"].split(";", 1)[0]
    fields = {"person.first_name": payload, "person.last_name": payload}
    response = client.http.post(
        "/referral/person", body=urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    # Refused as a whole (too long) or shown back with its errors: never raw markup.
    assert response.status_code in (400, 422)
    html = response.body.decode()
    if response.status_code == 422:
        assert f'value="{escape(payload)}"' in html
    if any(c in payload for c in "<>"):
        assert payload not in html


# (what is typed, how it is typed, where a person reads it back besides the staff case page)
ACTION_TEXT = ["staff note", "rejection reason", "question", "answer", "withdrawal reason"]


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(where=st.sampled_from(ACTION_TEXT), payload=texts)
def test_text_typed_on_the_way_is_kept_or_refused_and_always_escaped(
    api: Any, client: Any, where: str, payload: str
) -> None:
    """What approvers, referrers and advisors type after the referral (reasons, questions,
    answers, notes) is stored as typed or refused with a field error; the staff case page and
    the page the other person reads show it escaped; no email carries it."""
    from tests.http.test_staff_sign_in import csrf_of, sign_in
    from tests.pathway_helpers import link_path, post_form, wait_for_email

    text = f"Zq{secrets.token_hex(3)} {payload}"
    referral = make_referral(total_pence=30000)
    reference = api(referral).json_body["reference"]
    referrer, manager = referral["referrer"]["email"], "jo.patel@nhs.net"
    sign_off = link_path(wait_for_email(manager, f"{reference}: please sign off"), "sign-off")
    cookie = sign_in(client)
    staff = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    read_back: list[str] = []  # pages where someone else reads the text

    if where == "staff note":
        from urllib.parse import urlencode

        response = client.http.post(f"/staff/referrals/{reference}/note", headers=staff,
                                    body=urlencode({"csrf": csrf_of(client, cookie),
                                                    "note": text}))
        field, accepted = "note", response.status_code == 303
    elif where == "rejection reason":
        response = post_form(client, sign_off, {"decision": "rejected", "reason": text})
        field, accepted = "reason", response.status_code == 200
        if accepted:
            outcome = wait_for_email(referrer, f"{reference} was not approved")
            read_back.append(link_path(outcome, "outcome"))
    elif where in ("question", "answer"):
        question = text if where == "question" else "Which gym?"
        response = post_form(client, sign_off, {"decision": "more_information",
                                                "question": question})
        field, accepted = "question", response.status_code == 200
        if accepted:
            answer = link_path(wait_for_email(referrer, f"{reference}: a question for you"),
                               "answer")
            if where == "question":
                read_back.append(answer)
            else:
                response = post_form(client, answer, {"answer": text})
                field, accepted = "answer", response.status_code == 200
                if accepted:
                    back = wait_for_email(manager, f"{reference}: the referrer has answered")
                    read_back.append(link_path(back, "sign-off"))
    else:
        withdraw = link_path(wait_for_email(referrer, f"{reference} received"), "withdraw")
        response = post_form(client, withdraw, {"reason": text})
        field, accepted = "reason", response.status_code == 200

    history = store().history(reference)
    if not accepted:
        assert response.status_code == 422, response.body[:300]
        assert f'id="{field}-error"' in response.body.decode()
        assert all(text.split(" ", 1)[0] not in json.dumps(e.detail) for e in history)
        return
    kept = text.strip().replace("\r\n", "\n")
    assert any(kept in e.detail.values() for e in history), (where, kept)
    for path in [f"/staff/referrals/{reference}", *read_back]:
        page = client.http.get(path, headers={"Cookie": cookie})
        assert page.status_code == 200, (path, page.body[:300])
        assert_shown_escaped(page.body.decode(), kept, (where, path))
    assert_never_emailed(text)
