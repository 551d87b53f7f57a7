"""Markup, script, unicode edge cases and very long strings in every free-text field: the
referral is stored with the text intact (in NFC, line breaks as "\n") or refused with a field
error, and wherever the text is shown it is escaped. Text holding a character nobody can see (a
control or format character) is always refused. Emails never carry it at all.

The app runs on the in-memory adapters here, so each generated example costs milliseconds, not
a moto round trip (tests/contract/ proves the DynamoDB store keeps the same promises); the tests
run the state machine's tasks themselves where the pathway moves on."""

from __future__ import annotations

import json
import secrets
import unicodedata
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from chalicelib.actions import links
from chalicelib.bootstrap import Services
from chalicelib.domain.records import View
from chalicelib.workflow import tasks
from tests.factories import make_referral, with_change
from tests.usecases.drive import emails_to, link_of, request

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
    # Text with nothing refused in it, so that what is kept is tried as often as what is not.
    st.text(alphabet=st.characters(exclude_categories=("Cc", "Cf", "Cs")), min_size=0,
            max_size=60),
    st.text(alphabet="<>&'\"/=; abc\n", min_size=1, max_size=40),
    st.integers(min_value=100, max_value=3000).map(lambda n: "<b>" * (n // 3)),
)


def folded(text: str) -> str:
    return " ".join(text.split())


def referral_count(svc: Services) -> int:
    return len(svc.store.referrals.page(View("all"), 10_000).rows)


def post_api(client: Any, referral: dict[str, Any]) -> Any:
    return client.http.post("/api/referrals", headers={"Content-Type": "application/json"},
                            body=json.dumps(referral))


def form(client: Any, path: str, fields: dict[str, str], cookie: str = "") -> Any:
    from urllib.parse import urlencode

    return client.http.post(path, body=urlencode(fields), headers={
        "Content-Type": "application/x-www-form-urlencoded",
        **({"Cookie": cookie} if cookie else {})})


def sign_in(svc: Services, client: Any, email: str = "amara.nwosu@example.org") -> str:
    """Sign in to the staff console through the emailed link; the Cookie header to send."""
    # Every generated example signs in on the same store: its sign-in cap (proven in
    # tests/hostile/test_email_caps.py) is not what this test is about.
    svc.store.caps.forget()  # type: ignore[attr-defined]
    form(client, "/staff/sign-in", {"email": email})
    sent = [e for e in svc.mailer.sent if e.kind == "sign_in"]  # type: ignore[attr-defined]
    link_id = sent[-1].text.split("/staff/sign-in/", 1)[1].split()[0]
    response = form(client, f"/staff/sign-in/{link_id}", {})
    assert response.status_code == 303, response.body
    return str(response.headers["Set-Cookie"].split(";", 1)[0])


def csrf_of(client: Any, cookie: str) -> str:
    import re

    page = client.http.get("/staff/", headers={"Cookie": cookie}).body.decode()
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


def assert_shown_escaped(html: str, kept: str, context: Any) -> None:
    # Templates may indent a multi-line value; HTML collapses white space, so compare with
    # runs of white space folded.
    assert folded(str(escape(kept))) in folded(html), context
    if any(c in kept for c in "<>"):
        assert kept not in html, context


def assert_never_emailed(svc: Services, text: str) -> None:
    marker = text.split(" ", 1)[0]
    for email in svc.mailer.sent:  # type: ignore[attr-defined]
        assert marker not in email.subject + email.text + email.html


def value_at(data: dict[str, Any], path: str) -> Any:
    target: Any = data
    for part in path.split("."):
        target = target[int(part)] if part.isdigit() else target[part]
    return target


LINE_BREAKS = ("\r\n", "\r", "\u2028", "\u2029")
HANGUL_FILLERS = "\u115f\u1160\u3164\uffa0"  # letters to Unicode that show as nothing


def expected_stored(text: str, multi_line: bool) -> str:
    """What is kept of `text`: trimmed, in NFC, every line break as "\n" in text of several
    lines."""
    kept = unicodedata.normalize("NFC", text.strip())
    for line_break in LINE_BREAKS if multi_line else ():
        kept = kept.replace(line_break, "\n")
    return kept


def must_be_refused(text: str, multi_line: bool) -> bool:
    """`text` holds a control (Cc) or format (Cf) character, other than a tab or a line break
    in text of several lines, or a line break in a line of text. (Trimmed as Python trims,
    which takes off more than pydantic does: what is left is refused either way.)"""
    allowed = "\t\n\r\u2028\u2029" if multi_line else ""
    return any((unicodedata.category(c) in ("Cc", "Cf") or c in HANGUL_FILLERS
                or c in "\u2028\u2029") and c not in allowed for c in text.strip())


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(field=st.sampled_from(FREE_TEXT), payload=texts)
def test_free_text_is_kept_or_refused_and_always_escaped(
    memory: Services, memory_client: Any, field: tuple[str, bool, bool], payload: str
) -> None:
    path, on_sign_off, on_agreement = field
    # A marker makes the text findable, and lets us prove no email ever carries it.
    text = f"Zq{secrets.token_hex(3)} {payload}"
    referral = with_change(make_referral(total_pence=30000), path, text)
    before = referral_count(memory)
    response = post_api(memory_client, referral)

    if must_be_refused(text, path in MULTI_LINE):
        assert response.status_code == 422, (path, text)
    if response.status_code == 422:
        fields = {e["field"] for e in response.json_body["errors"]}
        assert path in fields, (path, response.json_body)
        assert referral_count(memory) == before  # nothing stored
        return
    assert response.status_code == 201, response.json_body
    reference = response.json_body["reference"]
    referrals = memory.store.referrals
    kept = value_at(json.loads(referrals.get(reference).answers), path)
    assert kept == expected_stored(text, path in MULTI_LINE)
    for event in ({"task": "record_intake"}, {"task": "notify", "kind": "acknowledgement"}):
        tasks.run(memory, {**event, "referral_id": reference, "notice": "t0"})

    pages = []
    day = 24 * 3600
    if on_sign_off:
        link_id = links.issue(memory.store.links, "sign-off", "jo.patel@nhs.net", day,
                              reference=reference, step="manager")
        pages.append(memory_client.http.get(f"/act/sign-off/{link_id}"))
    if on_agreement:
        link_id = links.issue(memory.store.links, "agreement", referral["referrer"]["email"],
                              day, reference=reference, step="agreement")
        referrals.change(reference, "approved", ("awaiting_sign_off",), "test", "approved",
                         when={"step": "manager"})
        pages.append(memory_client.http.get(f"/act/agreement/{link_id}"))
    for page in pages:
        assert page.status_code == 200, page.body[:500]
        assert_shown_escaped(page.body.decode(), kept, (path, kept))
    assert_never_emailed(memory, text)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=st.sampled_from([*PAYLOADS, "x" * 5000]))
def test_form_pages_escape_what_was_typed(memory_client: Any, payload: str) -> None:
    started = form(memory_client, "/referral/start", {})
    cookie = started.headers["Set-Cookie"].split(";", 1)[0]
    response = form(memory_client, "/referral/person",
                    {"person.first_name": payload, "person.last_name": payload}, cookie)
    # Refused as a whole (too long) or shown back with its errors: never raw markup.
    assert response.status_code in (400, 422)
    html = response.body.decode()
    if response.status_code == 422:
        assert f'value="{escape(payload)}"' in html
    if any(c in payload for c in "<>"):
        assert payload not in html


# (what is typed, how it is typed, where a person reads it back besides the staff case page)
ACTION_TEXT = ["staff note", "rejection reason", "question", "answer", "withdrawal reason"]


class Typed:
    """One referral on its way, and what typing `text` somewhere along it came to."""

    def __init__(self, svc: Services, client: Any, text: str) -> None:
        self.svc, self.client, self.text = svc, client, text
        referral = make_referral(total_pence=30000)
        self.reference = post_api(client, referral).json_body["reference"]
        self.referrer, self.manager = referral["referrer"]["email"], "jo.patel@nhs.net"
        for event in ({"task": "record_intake"}, {"task": "notify", "kind": "acknowledgement"}):
            tasks.run(svc, {**event, "referral_id": self.reference, "notice": "t0"})
        request(svc, self.reference, "sign_off_request")
        self.sign_off = self.link(self.manager, "please sign off", "sign-off")
        self.cookie = sign_in(svc, client)
        self.read_back: list[str] = []  # pages where someone else reads the text
        self.response: Any = None
        self.field, self.accepted = "", False

    def link(self, to: str, words: str, action: str) -> str:
        """The path of the `action` link in the newest email to `to` about this referral
        whose subject has `words`."""
        email = [e for e in emails_to(self.svc, to, words) if self.reference in e.subject][-1]
        return f"/act/{action}/{link_of(email, action)}"

    def post(self, path: str, fields: dict[str, str], field: str, done: int = 200) -> bool:
        self.response = form(self.client, path, fields, self.cookie)
        self.field, self.accepted = field, self.response.status_code == done
        return self.accepted

    def note(self) -> None:
        self.post(f"/staff/referrals/{self.reference}/note",
                  {"csrf": csrf_of(self.client, self.cookie), "note": self.text}, "note", 303)

    def rejection_reason(self) -> None:
        if self.post(self.sign_off, {"decision": "rejected", "reason": self.text}, "reason"):
            tasks.run(self.svc, {"task": "notify", "referral_id": self.reference,
                                 "kind": "rejected"})
            self.read_back.append(self.link(self.referrer, "was not approved", "outcome"))

    def question(self, question: str) -> str | None:
        """Ask the referrer; the answer link when the question was accepted."""
        if not self.post(self.sign_off, {"decision": "more_information", "question": question},
                         "question"):
            return None
        request(self.svc, self.reference, "information_request", step="information")
        return self.link(self.referrer, "a question for you", "answer")

    def asked(self) -> None:
        answer = self.question(self.text)
        if answer:
            self.read_back.append(answer)

    def answered(self) -> None:
        answer = self.question("Which gym?")
        if answer and self.post(answer, {"answer": self.text}, "answer"):
            request(self.svc, self.reference, "sign_off_request", notice="t2")
            self.read_back.append(self.link(self.manager, "the referrer has answered",
                                            "sign-off"))

    def withdrawal_reason(self) -> None:
        withdraw = self.link(self.referrer, "received", "withdraw")
        self.post(withdraw, {"reason": self.text}, "reason")


TYPED_AT = {"staff note": Typed.note, "rejection reason": Typed.rejection_reason,
            "question": Typed.asked, "answer": Typed.answered,
            "withdrawal reason": Typed.withdrawal_reason}


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(where=st.sampled_from(ACTION_TEXT), payload=texts)
def test_text_typed_on_the_way_is_kept_or_refused_and_always_escaped(
    memory: Services, memory_client: Any, where: str, payload: str
) -> None:
    """What approvers, referrers and advisors type after the referral (reasons, questions,
    answers, notes) is stored as typed (in NFC) or refused with a field error, always refused
    when it holds a control or format character; the staff case page and the page the other
    person reads show it escaped; no email carries it."""
    text = f"Zq{secrets.token_hex(3)} {payload}"
    typed = Typed(memory, memory_client, text)
    TYPED_AT[where](typed)
    history = memory.store.referrals.history(typed.reference)
    if must_be_refused(text, multi_line=True):  # each is a box of several lines
        assert not typed.accepted, (where, text)
    if not typed.accepted:
        assert typed.response.status_code == 422, typed.response.body[:300]
        assert f'id="{typed.field}-error"' in typed.response.body.decode()
        assert all(text.split(" ", 1)[0] not in json.dumps(e.detail) for e in history)
        return
    kept = expected_stored(text, multi_line=True)
    assert any(kept in e.detail.values() for e in history), (where, kept)
    for path in [f"/staff/referrals/{typed.reference}", *typed.read_back]:
        page = memory_client.http.get(path, headers={"Cookie": typed.cookie})
        assert page.status_code == 200, (path, page.body[:300])
        assert_shown_escaped(page.body.decode(), kept, (where, path))
    assert_never_emailed(memory, text)
