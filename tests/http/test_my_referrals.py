"""A referrer's own referrals at /my-referrals: signing in by an emailed link (allowed domains,
the cap), seeing only their own, acting on what waits on them, and nobody else's referral
through any route. On the in-memory adapters, through chalice.test.Client as a same-origin
browser; the state machine's tasks are run by the tests (tests/usecases/drive.py). The client
keeps no cookies: each request carries its own."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.bootstrap import Services
from tests.factories import another_person, make_referral
from tests.usecases.drive import emails_to, request, submit

PRIYA = "priya.shah@nhs.net"
SAM = "sam.okafor@nhs.net"
STAFF = "daniel.price@example.org"  # a person on the test stage's staff list
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SIGN_IN_ROUTES = {"/my-referrals/sign-in", "/my-referrals/sign-in/{link_id}"}


def referrer(email: str) -> dict[str, str]:
    return {**make_referral()["referrer"], "email": email, "name": "Priya Shah"}


def referral_of(svc: Services, email: str, total_pence: int = 12000, n: int = 0) -> str:
    """A referral by `email` through intake, its sign-off step waiting (with its token)."""
    reference = submit(svc, referrer=referrer(email), total_pence=total_pence,
                       person=another_person(n, first_name="Alex", last_name="Morgan"))
    request(svc, reference, "sign_off_request")
    return reference


def body(response: Any) -> str:
    return str(response.body.decode("utf-8"))


def get(client: Any, path: str, cookie: str = "") -> Any:
    return client.http.get(path, headers={"Cookie": cookie} if cookie else {})


def post(client: Any, path: str, fields: dict[str, str] | None = None, cookie: str = "") -> Any:
    return client.http.post(path, body=urlencode(fields or {}),
                            headers={**FORM, **({"Cookie": cookie} if cookie else {})})


def sign_in_links(svc: Services, to: str) -> list[str]:
    return [match for email in emails_to(svc, to)
            for match in re.findall(r"/my-referrals/sign-in/([A-Za-z0-9_-]+)", email.text)]


def staff_sign_in(client: Any, svc: Services) -> str:
    """An advisor's staff session on the in-memory adapters: the Cookie header to send."""
    post(client, "/staff/sign-in", {"email": STAFF})
    [link_id] = [m for e in emails_to(svc, STAFF)
                 for m in re.findall(r"/staff/sign-in/([A-Za-z0-9_-]+)", e.text)][-1:]
    used = post(client, f"/staff/sign-in/{link_id}")
    assert used.status_code == 303, body(used)
    return str(used.headers["Set-Cookie"].split(";", 1)[0])


class Referrer:
    """A signed-in referrer's browser."""

    def __init__(self, client: Any, svc: Services, email: str, typed: str = "") -> None:
        self.client = client
        answered = post(client, "/my-referrals/sign-in", {"email": typed or email})
        assert answered.status_code == 200, body(answered)
        [link_id] = sign_in_links(svc, email)[-1:]
        used = post(client, f"/my-referrals/sign-in/{link_id}")
        assert used.status_code == 303, body(used)
        assert used.headers["Location"] == "/my-referrals"
        self.set_cookie = str(used.headers["Set-Cookie"])
        self.cookie = self.set_cookie.split(";", 1)[0]
        home = self.get("/my-referrals")
        assert home.status_code == 200, body(home)
        match = re.search(r'name="csrf" value="([^"]+)"', body(home))
        assert match
        self.csrf = match.group(1)

    def get(self, path: str) -> Any:
        return get(self.client, path, self.cookie)

    def post(self, path: str, fields: dict[str, str] | None = None, csrf: bool = True) -> Any:
        return post(self.client, path, {**({"csrf": self.csrf} if csrf else {}),
                                        **(fields or {})}, self.cookie)


# --- signing in -------------------------------------------------------------------------------


def test_a_referrer_signs_in_by_an_emailed_link_and_sees_their_referral(
        memory_client: Any, memory: Services) -> None:
    reference = referral_of(memory, PRIYA)
    answered = post(memory_client, "/my-referrals/sign-in", {"email": "Priya.Shah@NHS.net"})
    assert answered.status_code == 200
    assert "If you have made a referral with that address" in body(answered)
    [email] = [e for e in memory.mailer.sent if e.kind == "referrer_sign_in"]  # type: ignore[attr-defined]
    assert email.to == "Priya.Shah@nhs.net" and "15 minutes" in email.text
    assert reference not in email.text  # an email names no referral
    [link_id] = sign_in_links(memory, "Priya.Shah@nhs.net")
    # Opening the link (or a mail scanner fetching it) does not sign in: it shows a button.
    opened = get(memory_client, f"/my-referrals/sign-in/{link_id}")
    assert opened.status_code == 200 and "Set-Cookie" not in opened.headers
    assert 'method="post"' in body(opened)
    used = post(memory_client, f"/my-referrals/sign-in/{link_id}")
    assert used.status_code == 303
    attributes = [part.strip() for part in used.headers["Set-Cookie"].split(";")]
    assert attributes[0].startswith("phb_referrer=")
    assert {"HttpOnly", "SameSite=Strict", "Path=/my-referrals", "Max-Age=28800"} <= set(
        attributes)
    home = get(memory_client, "/my-referrals", attributes[0])
    page = body(home)
    assert home.status_code == 200
    assert reference in page and "A M" in page and "£120.00" in page
    assert "Waiting for your sign-off since" in page
    assert "Sign off the request" in page
    # The link works once.
    assert post(memory_client, f"/my-referrals/sign-in/{link_id}").status_code == 409


@pytest.mark.parametrize("address", ["priya.shah@gmail.com", "priya.shah@nhs.net.evil.org",
                                     "nobody.here@nhs.net"])
def test_another_domain_or_an_address_with_no_referrals_gets_the_same_page_and_no_email(
        memory_client: Any, memory: Services, address: str) -> None:
    referral_of(memory, PRIYA)
    known = post(memory_client, "/my-referrals/sign-in", {"email": PRIYA})
    before = len(memory.mailer.sent)  # type: ignore[attr-defined]
    other = post(memory_client, "/my-referrals/sign-in", {"email": address})
    assert (other.status_code, body(other)) == (known.status_code, body(known))
    assert len(memory.mailer.sent) == before  # type: ignore[attr-defined]
    assert ("referrer_sign_in_link", {"email": address}) in memory.background.started  # type: ignore[attr-defined]


def test_a_referral_made_at_an_allowed_subdomain_signs_in(memory_client: Any,
                                                            memory: Services) -> None:
    reference = referral_of(memory, "p.shah@elft.nhs.uk")
    assert reference in body(Referrer(memory_client, memory, "p.shah@elft.nhs.uk").get(
        "/my-referrals"))


def test_at_most_five_links_to_one_mailbox_in_15_minutes(memory_client: Any,
                                                         memory: Services) -> None:
    referral_of(memory, PRIYA)
    for typed in [PRIYA] * 4 + ["PRIYA.SHAH@nhs.net", PRIYA]:
        assert post(memory_client, "/my-referrals/sign-in", {"email": typed}).status_code == 200
    sent = [e for e in memory.mailer.sent if e.kind == "referrer_sign_in"]  # type: ignore[attr-defined]
    assert len(sent) == 5
    [held] = memory.store.caps.held_back(0)
    assert (held.kind, held.count) == ("referrer_sign_in", 1)


@pytest.mark.parametrize("typed", ["", "not an email", "a@", "x" * 300 + "@nhs.net"])
def test_a_bad_address_is_422_and_nothing_is_handed_on(memory_client: Any, memory: Services,
                                                       typed: str) -> None:
    response = post(memory_client, "/my-referrals/sign-in", {"email": typed})
    assert response.status_code == 422 and "nhsuk-error-summary" in body(response)
    assert memory.background.started == []  # type: ignore[attr-defined]


def test_a_staff_sign_in_link_does_not_sign_a_referrer_in_nor_theirs_staff(
        memory_client: Any, memory: Services) -> None:
    from chalicelib.actions import links

    referral_of(memory, PRIYA)
    staff_link = links.issue(memory.store.links, links.SIGN_IN, PRIYA, 900)
    assert get(memory_client, f"/my-referrals/sign-in/{staff_link}").status_code == 404
    assert post(memory_client, f"/my-referrals/sign-in/{staff_link}").status_code == 404
    post(memory_client, "/my-referrals/sign-in", {"email": PRIYA})
    [theirs] = sign_in_links(memory, PRIYA)
    assert post(memory_client, f"/staff/sign-in/{theirs}").status_code == 404


# --- only their own ---------------------------------------------------------------------------


def test_the_list_shows_only_the_referrers_own(memory_client: Any, memory: Services) -> None:
    mine = [referral_of(memory, PRIYA, n=0), referral_of(memory, "Priya.Shah@nhs.net", n=1)]
    theirs = referral_of(memory, SAM, n=2)
    page = body(Referrer(memory_client, memory, PRIYA).get("/my-referrals"))
    assert all(reference in page for reference in mine)
    assert theirs not in page and SAM not in page


def new_routes() -> list[tuple[str, str]]:
    """Every (method, path) the app has under /my-referrals, from the app itself."""
    import app as application

    return sorted((method, path) for path, entries in application.app.routes.items()
                  if path == "/my-referrals" or path.startswith("/my-referrals/")
                  for method in entries)


def test_the_area_has_the_routes_these_tests_cover() -> None:
    assert {path for _, path in new_routes()} == {
        "/my-referrals", "/my-referrals/sign-in", "/my-referrals/sign-in/{link_id}",
        "/my-referrals/sign-out", "/my-referrals/{reference}",
        "/my-referrals/{reference}/withdraw", "/my-referrals/{reference}/open",
        "/my-referrals/{reference}/resend"}


def test_every_route_refuses_another_referrers_referral(memory_client: Any,
                                                         memory: Services) -> None:
    theirs = referral_of(memory, SAM)  # waiting for Sam's own sign-off
    referral_of(memory, PRIYA, n=1)
    priya = Referrer(memory_client, memory, PRIYA)
    before = (memory.store.referrals.get(theirs), memory.store.referrals.history(theirs),
              len(memory.mailer.sent))  # type: ignore[attr-defined]
    routes = [(m, p) for m, p in new_routes() if "{reference}" in p]
    assert len(routes) == 5
    for method, path in routes:
        url = path.replace("{reference}", theirs)
        answer = priya.get(url) if method == "GET" else priya.post(url, {"reason": "x"})
        assert answer.status_code == 404, (method, path, answer.status_code)
        assert theirs not in body(answer) and "Alex" not in body(answer), (method, path)
        # Exactly what an unknown reference answers: whether it exists is not told either.
        unknown = url.replace(theirs, "PHB-AAAA-AAAA")
        nothing = priya.get(unknown) if method == "GET" else priya.post(unknown, {"reason": "x"})
        assert (nothing.status_code, body(nothing).replace("PHB-AAAA-AAAA", "")) == (
            404, body(answer).replace(theirs, "")), (method, path)
    assert (memory.store.referrals.get(theirs), memory.store.referrals.history(theirs),
            len(memory.mailer.sent)) == before  # type: ignore[attr-defined]
    assert theirs not in body(priya.get("/my-referrals"))


def test_every_route_but_sign_in_needs_a_referrers_session(memory_client: Any,
                                                           memory: Services) -> None:
    mine = referral_of(memory, PRIYA)
    staff_cookie = staff_sign_in(memory_client, memory)
    assert get(memory_client, "/staff/", staff_cookie).status_code == 200
    for method, path in new_routes():
        if path in SIGN_IN_ROUTES:
            continue
        url = path.replace("{reference}", mine)
        for cookie in ("", staff_cookie, staff_cookie.replace("phb_staff", "phb_referrer")):
            answer = get(memory_client, url, cookie) if method == "GET" else post(
                memory_client, url, {"reason": "x"}, cookie)
            if method == "GET":
                assert answer.status_code == 303, (method, path, cookie)
                assert answer.headers["Location"] == "/my-referrals/sign-in"
            else:
                assert answer.status_code == 403, (method, path, cookie)
    assert memory.store.referrals.get(mine).status == "awaiting_sign_off"


def test_a_referrers_session_never_opens_the_staff_console(memory_client: Any,
                                                           memory: Services) -> None:
    referral_of(memory, PRIYA)
    priya = Referrer(memory_client, memory, PRIYA)
    value = priya.cookie.split("=", 1)[1]
    for cookie in (priya.cookie, f"phb_staff={value}"):
        answer = get(memory_client, "/staff/", cookie)
        assert answer.status_code == 303 and answer.headers["Location"] == "/staff/sign-in"


def test_an_address_on_the_staff_list_signed_in_as_a_referrer_is_not_staff(
        memory_client: Any, memory: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even when the same person is both: the referrer's cookie is not a staff session."""
    from chalicelib.config import get_settings

    monkeypatch.setenv("PHB_STAFF_EMAILS", PRIYA)
    get_settings.cache_clear()
    referral_of(memory, PRIYA)
    priya = Referrer(memory_client, memory, PRIYA)
    value = priya.cookie.split("=", 1)[1]
    assert get(memory_client, "/staff/", f"phb_staff={value}").status_code == 303


@pytest.mark.parametrize("path", [
    "/my-referrals/{reference}/open", "/my-referrals/{reference}/resend",
    "/my-referrals/{reference}/withdraw", "/my-referrals/sign-out"])
def test_a_post_without_the_sessions_csrf_token_is_refused(memory_client: Any, memory: Services,
                                                           path: str) -> None:
    mine = referral_of(memory, PRIYA)
    priya = Referrer(memory_client, memory, PRIYA)
    sent = len(memory.mailer.sent)  # type: ignore[attr-defined]
    url = path.replace("{reference}", mine)
    assert priya.post(url, csrf=False).status_code == 403
    assert priya.post(url, {"csrf": "not-the-token"}, csrf=False).status_code == 403
    assert memory.store.referrals.get(mine).status == "awaiting_sign_off"
    assert len(memory.mailer.sent) == sent  # type: ignore[attr-defined]
    assert priya.get("/my-referrals").status_code == 200  # still signed in


def test_signing_out_ends_the_session_on_the_server(memory_client: Any,
                                                    memory: Services) -> None:
    referral_of(memory, PRIYA)
    priya = Referrer(memory_client, memory, PRIYA)
    out = priya.post("/my-referrals/sign-out")
    assert out.status_code == 303 and "Max-Age=0" in out.headers["Set-Cookie"]
    assert priya.get("/my-referrals").status_code == 303  # the copied cookie no longer works


# --- what waits on them, and acting -------------------------------------------------------------


def test_open_goes_to_the_steps_page_and_signing_off_there_is_recorded(
        memory_client: Any, memory: Services) -> None:
    mine = referral_of(memory, PRIYA)
    priya = Referrer(memory_client, memory, PRIYA)
    opened = priya.post(f"/my-referrals/{mine}/open")
    assert opened.status_code == 303
    location = opened.headers["Location"]
    assert re.fullmatch(r"/act/sign-off/[A-Za-z0-9_-]+", location), location
    assert "Sign off" in body(get(memory_client, location))
    done = post(memory_client, location, {"decision": "approved"})
    assert done.status_code == 200, body(done)
    assert memory.store.referrals.get(mine).status == "approved"
    assert memory.store.referrals.history(mine)[-1].who == PRIYA
    page = body(priya.get(f"/my-referrals/{mine}"))
    assert "Signed off by you" in page and "Sign off the request" not in page


def test_nothing_to_open_or_resend_when_the_step_waits_on_someone_else(
        memory_client: Any, memory: Services) -> None:
    mine = referral_of(memory, PRIYA, total_pence=30000)  # the manager signs off
    priya = Referrer(memory_client, memory, PRIYA)
    page = body(priya.get("/my-referrals"))
    assert "Waiting for the approving manager since" in page
    assert f"/my-referrals/{mine}/open" not in page
    sent = len(memory.mailer.sent)  # type: ignore[attr-defined]
    for action in ("open", "resend"):
        assert priya.post(f"/my-referrals/{mine}/{action}").status_code == 409
    assert len(memory.mailer.sent) == sent  # type: ignore[attr-defined]


def test_resend_emails_the_referrer_a_new_link_and_is_recorded(memory_client: Any,
                                                              memory: Services) -> None:
    mine = referral_of(memory, PRIYA)
    priya = Referrer(memory_client, memory, PRIYA)
    requests = len(emails_to(memory, PRIYA))
    resent = priya.post(f"/my-referrals/{mine}/resend")
    assert resent.status_code == 303
    assert resent.headers["Location"] == f"/my-referrals/{mine}?done=resent"
    assert len(emails_to(memory, PRIYA)) == requests + 1
    [event] = [e for e in memory.store.referrals.history(mine) if e.what == "email_resent"]
    assert (event.who, event.detail["step"], event.detail["to"]) == (PRIYA, "referrer", [PRIYA])
    page = body(priya.get(f"/my-referrals/{mine}?done=resent"))
    assert "sent to you again" in page and "The request to the referrer sent again by you" in page


def test_an_answer_to_a_question_waits_on_the_referrer_with_the_question(
        memory_client: Any, memory: Services) -> None:
    from chalicelib.actions import commands

    mine = referral_of(memory, PRIYA, total_pence=30000)
    stored = memory.store.referrals.get(mine)
    commands.decide(memory, stored, "manager", "jo.patel@nhs.net", "more_information",
                    "Which gym is it?")
    page = body(Referrer(memory_client, memory, PRIYA).get(f"/my-referrals/{mine}"))
    assert "Waiting for your answer to a question since" in page
    assert "Which gym is it?" in page and "Answer the question" in page
    assert "The approving manager asked: Which gym is it?" in page
    assert "jo.patel@nhs.net" not in page  # others are named by their role


def test_withdraw_asks_first_then_ends_the_referral_and_is_recorded(memory_client: Any,
                                                                    memory: Services) -> None:
    mine = referral_of(memory, PRIYA)
    priya = Referrer(memory_client, memory, PRIYA)
    form = priya.get(f"/my-referrals/{mine}/withdraw")
    assert form.status_code == 200 and "Withdraw the referral" in body(form)
    assert memory.store.referrals.get(mine).status == "awaiting_sign_off"
    done = priya.post(f"/my-referrals/{mine}/withdraw", {"reason": "Moved out of the area"})
    assert done.status_code == 303
    assert memory.store.referrals.get(mine).status == "withdrawn"
    [event] = [e for e in memory.store.referrals.history(mine) if e.what == "withdrawn"]
    assert (event.who, event.detail) == (PRIYA, {"reason": "Moved out of the area"})
    assert emails_to(memory, PRIYA, "withdrawn")  # told, as a withdrawal by link tells
    assert memory.workflow.completed  # type: ignore[attr-defined]
    page = body(priya.get(f"/my-referrals/{mine}?done=withdrawn"))
    assert "Withdrawn by you" in page and f"/my-referrals/{mine}/withdraw" not in page
    # Once ended, there is nothing to withdraw.
    assert priya.post(f"/my-referrals/{mine}/withdraw").status_code == 409


def test_a_withdrawal_reason_with_invisible_characters_is_a_field_error(
        memory_client: Any, memory: Services) -> None:
    mine = referral_of(memory, PRIYA)
    priya = Referrer(memory_client, memory, PRIYA)
    refused = priya.post(f"/my-referrals/{mine}/withdraw", {"reason": "Moved\u200b"})
    assert refused.status_code == 422 and "nhsuk-error-summary" in body(refused)
    assert memory.store.referrals.get(mine).status == "awaiting_sign_off"


def test_the_pages_fit_a_phone_no_tables(memory_client: Any, memory: Services) -> None:
    mine = referral_of(memory, PRIYA)
    priya = Referrer(memory_client, memory, PRIYA)
    for path in ("/my-referrals", f"/my-referrals/{mine}", f"/my-referrals/{mine}/withdraw"):
        assert "<table" not in body(priya.get(path)), path
