"""Staff sign-in: emailed one-time links, the signed session cookie and CSRF, through
chalice.test.Client on moto. The client keeps no cookies: each request carries its own."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.adapters import aws
from chalicelib.config import get_settings, settings_from_environ
from chalicelib.domain.identifiers import sha256
from chalicelib.domain.identity import address_key
from chalicelib.staff import sessions as staff
from devstack import lambdas
from devstack.outbox import sent_emails
from tests.conftest import services

# A person on the test stage's staff list (LOCAL_STAFF); the advisors' shared inbox is not.
STAFF = "amara.nwosu@example.org"
STAFF_NAME = "Amara Nwosu"
ADVISORS_INBOX = "phb-advisors@example.org"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SIGN_IN_ROUTES = {"/staff/sign-in", "/staff/sign-in/{link_id}"}


def post(client: Any, path: str, fields: dict[str, str] | None = None, cookie: str = "") -> Any:
    headers = {**FORM, **({"Cookie": cookie} if cookie else {})}
    return client.http.post(path, body=urlencode(fields or {}), headers=headers)


def get(client: Any, path: str, cookie: str = "") -> Any:
    return client.http.get(path, headers={"Cookie": cookie} if cookie else {})


def body(response: Any) -> str:
    return response.body.decode("utf-8")


def link_ids(to: str) -> list[str]:
    return [match for email in sent_emails() if address_key(email.to) == address_key(to)
            for match in re.findall(r"/staff/sign-in/([A-Za-z0-9_-]+)", email.text)]


def request_link(client: Any, email: str = STAFF) -> str:
    response = post(client, "/staff/sign-in", {"email": email})
    assert response.status_code == 200, body(response)
    lambdas.wait_for_events()  # the pathway function sends the link after the page answers
    ids = link_ids(email)
    assert ids, "no sign-in email"
    return ids[-1]


def sign_in(client: Any, email: str = STAFF) -> str:
    """Sign in through the emailed link; returns the Cookie header to send."""
    link_id = request_link(client, email)
    response = post(client, f"/staff/sign-in/{link_id}")
    assert response.status_code == 303, body(response)
    assert response.headers["Location"] == "/staff/"
    return str(response.headers["Set-Cookie"].split(";", 1)[0])


def csrf_of(client: Any, cookie: str) -> str:
    page = get(client, "/staff/", cookie)
    assert page.status_code == 200, body(page)
    match = re.search(r'name="csrf" value="([^"]+)"', body(page))
    assert match
    return match.group(1)


def set_link_expiry(link_id: str, valid_until: int) -> None:
    aws.client("dynamodb").update_item(
        TableName=get_settings().table_name,
        Key={"pk": {"S": f"LINK#{sha256(link_id)}"}, "sk": {"S": "LINK"}},
        UpdateExpression="SET valid_until = :v", ExpressionAttributeValues={
            ":v": {"N": str(valid_until)}})


# --- signing in -------------------------------------------------------------------------------


def test_sign_in_page_asks_for_an_email(client: Any) -> None:
    response = get(client, "/staff/sign-in")
    assert response.status_code == 200
    assert 'name="email"' in body(response)


def test_happy_path_signs_in_and_shows_who(client: Any) -> None:
    link_id = request_link(client, "Amara.Nwosu@Example.ORG")  # any case
    [email] = [e for e in sent_emails() if e.kind == "sign_in"]
    assert email.to == STAFF
    assert "15 minutes" in email.text
    # Opening the link (or a mail scanner fetching it) does not sign in: it shows a button.
    opened = get(client, f"/staff/sign-in/{link_id}")
    assert opened.status_code == 200
    assert "Set-Cookie" not in opened.headers
    assert "Sign in" in body(opened) and 'method="post"' in body(opened)
    used = post(client, f"/staff/sign-in/{link_id}")
    assert used.status_code == 303
    assert used.headers["Location"] == "/staff/"
    cookie = used.headers["Set-Cookie"].split(";", 1)[0]
    home = get(client, "/staff/", cookie)
    assert home.status_code == 200
    assert f"Signed in as {STAFF}" in body(home)
    # The link id is stored only hashed.
    assert sha256(link_id) != link_id
    table = aws.client("dynamodb").scan(TableName=get_settings().table_name)["Items"]
    assert link_id not in json.dumps(table)


def test_a_link_works_once(client: Any) -> None:
    link_id = request_link(client)
    assert post(client, f"/staff/sign-in/{link_id}").status_code == 303
    again = post(client, f"/staff/sign-in/{link_id}")
    assert again.status_code == 409
    assert "already been used" in body(again)
    assert "Set-Cookie" not in again.headers
    assert get(client, f"/staff/sign-in/{link_id}").status_code == 409


def test_an_expired_link_does_not_sign_in(client: Any) -> None:
    link_id = request_link(client)
    set_link_expiry(link_id, int(time.time()) - 1)
    assert get(client, f"/staff/sign-in/{link_id}").status_code == 410
    response = post(client, f"/staff/sign-in/{link_id}")
    assert response.status_code == 410
    assert "expired" in body(response)
    assert "Set-Cookie" not in response.headers


def test_a_link_expires_after_15_minutes(client: Any) -> None:
    link_id = request_link(client)
    link = services().store.links.get(sha256(link_id))
    assert link is not None and link.action == "sign-in"
    assert abs(link.valid_until - (int(time.time()) + 15 * 60)) <= 5


@pytest.mark.parametrize("link_id", ["nonsense-but-long-enough-to-check-123456", "x", "a" * 200])
def test_an_unknown_link_is_404(client: Any, link_id: str) -> None:
    assert get(client, f"/staff/sign-in/{link_id}").status_code == 404
    response = post(client, f"/staff/sign-in/{link_id}")
    assert response.status_code == 404
    assert "Set-Cookie" not in response.headers


def signs_in_nobody(client: Any, email: str) -> None:
    """Asking for a link for `email` answers as for anyone, and no email is sent."""
    known = post(client, "/staff/sign-in", {"email": STAFF})
    lambdas.wait_for_events()
    before = len(sent_emails())
    asked = post(client, "/staff/sign-in", {"email": email})
    lambdas.wait_for_events()
    assert (asked.status_code, body(asked)) == (known.status_code, body(known))
    assert len(sent_emails()) == before
    assert address_key(email) not in [address_key(e.to) for e in sent_emails()]


def test_the_advisors_shared_inbox_is_not_signed_in(client: Any) -> None:
    # It gets the advisors' notices, but a shared mailbox is not a person: whoever reads it
    # could use its link, and the history must say who released money.
    assert ADVISORS_INBOX in get_settings().advisor_emails
    signs_in_nobody(client, ADVISORS_INBOX)
    signs_in_nobody(client, ADVISORS_INBOX.upper())
    # Nor does a session made for it count (signed with the key and held in the store, as a
    # sign-in from before this list held only people would be): it is not on the staff list.
    session = staff.new_session(ADVISORS_INBOX)
    services().store.sessions.start(sha256(session.csrf), session.email, session.expires)
    value = staff.encode_session(session, staff.secret_for(get_settings()) or b"")
    assert get(client, "/staff/", f"phb_staff={value}").status_code == 303
    listed = staff.new_session(STAFF)  # the same, for a person on the list, is signed in
    services().store.sessions.start(sha256(listed.csrf), listed.email, listed.expires)
    value = staff.encode_session(listed, staff.secret_for(get_settings()) or b"")
    assert get(client, "/staff/", f"phb_staff={value}").status_code == 200


def test_an_empty_staff_list_signs_nobody_in(client: Any, monkeypatch: Any) -> None:
    cookie = sign_in(client)
    monkeypatch.setenv("PHB_STAFF_EMAILS", " ")  # set, and empty: no fallback to the advisors
    get_settings.cache_clear()
    assert get_settings().staff == ()
    assert get(client, "/staff/", cookie).status_code == 303
    before = len(sent_emails())
    for email in (STAFF, ADVISORS_INBOX):
        response = post(client, "/staff/sign-in", {"email": email})
        lambdas.wait_for_events()
        assert response.status_code == 200
        assert "If that address is on the staff list, we have sent a sign-in link" in \
            body(response)
    assert len(sent_emails()) == before


def test_a_named_entry_signs_in_at_its_address_however_either_is_typed(
        client: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("PHB_STAFF_EMAILS", 'Jo Adeyemi <Jo.Adeyemi@Example.org>, '
                                           '"Clarke, Sam" <sam.clarke@example.org>')
    get_settings.cache_clear()
    cookie = sign_in(client, "jo.adeyemi@EXAMPLE.ORG")
    [email] = [e for e in sent_emails() if e.kind == "sign_in"]
    assert email.to == "Jo.Adeyemi@example.org"  # the list's address, as it is kept
    home = body(get(client, "/staff/", cookie))
    assert "Signed in as Jo.Adeyemi@example.org" in home
    sign_in(client, "Sam.Clarke@example.org")  # a name with a comma, quoted, is one entry
    signs_in_nobody(client, STAFF)  # no longer on the list


def test_an_unknown_address_looks_the_same_and_gets_no_email(client: Any) -> None:
    known = post(client, "/staff/sign-in", {"email": STAFF})
    lambdas.wait_for_events()
    before = len(sent_emails())
    unknown = post(client, "/staff/sign-in", {"email": "someone.else@nhs.net"})
    lambdas.wait_for_events()
    assert (unknown.status_code, body(unknown)) == (known.status_code, body(known))
    assert "If that address is on the staff list, we have sent a sign-in link" in body(known)
    assert len(sent_emails()) == before
    assert "someone.else@nhs.net" not in [e.to for e in sent_emails()]


@pytest.mark.parametrize("typed", ["", "not an email", "a@", "@example.org", "x" * 300 + "@a.org"])
def test_a_bad_address_is_422_with_an_error_summary(client: Any, typed: str) -> None:
    response = post(client, "/staff/sign-in", {"email": typed})
    assert response.status_code == 422
    assert "nhsuk-error-summary" in body(response)
    assert "<title>Error: " in body(response)
    assert sent_emails() == []


# --- the session cookie ---------------------------------------------------------------------


def test_cookie_flags(client: Any) -> None:
    link_id = request_link(client)
    header = post(client, f"/staff/sign-in/{link_id}").headers["Set-Cookie"]
    attributes = [part.strip() for part in header.split(";")]
    assert attributes[0].startswith("phb_staff=")
    assert "HttpOnly" in attributes
    assert "SameSite=Strict" in attributes
    assert "Max-Age=28800" in attributes
    assert "Path=/staff" in attributes


def test_cookie_is_secure_outside_the_local_stages() -> None:
    settings = settings_from_environ({"PHB_STAGE": "prod", "PHB_SESSION_SECRET": "s" * 40,
                                      "PHB_PUBLIC_BASE_URL": "https://phb.example.org"})
    assert "; Secure" in staff.set_cookie("v", settings)
    assert "; Secure" in staff.clear_cookie(settings)


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1:]


@pytest.mark.parametrize("where", ["signature", "payload"])
def test_a_tampered_cookie_is_anonymous(client: Any, where: str) -> None:
    cookie = sign_in(client)
    name, value = cookie.split("=", 1)
    payload, signature = value.split(".")
    if where == "signature":
        value = f"{payload}.{flip(signature, len(signature) // 2)}"
    else:
        value = f"{flip(payload, len(payload) // 2)}.{signature}"
    response = get(client, "/staff/", f"{name}={value}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/sign-in"


def test_a_forged_payload_for_someone_else_is_anonymous(client: Any) -> None:
    cookie = sign_in(client)
    _, signature = cookie.split("=", 1)[1].split(".")
    now = int(time.time())
    forged = base64.urlsafe_b64encode(json.dumps(
        {"email": STAFF, "issued": now, "expires": now + 28800, "csrf": "x"}).encode()).decode()
    response = get(client, "/staff/", f"phb_staff={forged.rstrip('=')}.{signature}")
    assert response.status_code == 303


def test_an_expired_session_is_anonymous(client: Any) -> None:
    secret = staff.secret_for(get_settings())
    assert secret
    then = int(time.time()) - 9 * 3600
    value = staff.encode_session(staff.new_session(STAFF, now=then), secret)
    assert staff.decode_session(value, secret, now=then + 60) is not None
    response = get(client, "/staff/", f"phb_staff={value}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/sign-in"


def test_a_session_signed_with_another_key_is_anonymous(client: Any) -> None:
    value = staff.encode_session(staff.new_session(STAFF), b"another key")
    assert get(client, "/staff/", f"phb_staff={value}").status_code == 303


def test_someone_removed_from_the_staff_list_is_signed_out(client: Any,
                                                         monkeypatch: Any) -> None:
    cookie = sign_in(client)
    monkeypatch.setenv("PHB_STAFF_EMAILS", "someone.else@nhs.net")
    get_settings.cache_clear()
    assert get(client, "/staff/", cookie).status_code == 303


def test_no_secret_outside_local_means_no_sign_in(client: Any) -> None:
    from dataclasses import replace

    from chalicelib import bootstrap, config

    settings = settings_from_environ({"PHB_STAGE": "prod"})
    assert staff.secret_for(settings) is None
    with pytest.raises(ValueError):
        staff.encode_session(staff.new_session(STAFF), b"")
    deployed = replace(get_settings(), stage="prod", session_secret="")
    real = services()
    with bootstrap.override(lambda _: replace(real, settings=deployed)):
        assert config.get_settings().stage == "test"
        for response in (get(client, "/staff/sign-in"),
                         post(client, "/staff/sign-in", {"email": STAFF}),
                         get(client, "/staff/sign-in/nonsense-but-long-enough-to-check-123456"),
                         post(client, "/staff/sign-in/nonsense-but-long-enough-to-check-123456"),
                         get(client, "/staff/"),
                         post(client, "/staff/sign-out", {"csrf": "x"})):
            assert response.status_code == 503
            assert "Sign-in is not configured" in body(response)
    assert sent_emails() == []


# --- CSRF and signing out ---------------------------------------------------------------------


def test_sign_out_clears_the_cookie(client: Any) -> None:
    cookie = sign_in(client)
    response = post(client, "/staff/sign-out", {"csrf": csrf_of(client, cookie)}, cookie)
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/sign-in"
    cleared = response.headers["Set-Cookie"]
    assert cleared.startswith("phb_staff=;") and "Max-Age=0" in cleared


def test_a_cookie_kept_from_before_signing_out_no_longer_works(client: Any) -> None:
    cookie = sign_in(client)
    assert get(client, "/staff/", cookie).status_code == 200
    post(client, "/staff/sign-out", {"csrf": csrf_of(client, cookie)}, cookie)
    response = get(client, "/staff/", cookie)  # e.g. copied before, or a browser that kept it
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/sign-in"
    assert get(client, "/staff/", sign_in(client)).status_code == 200  # signing in again works


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
])
def test_sign_in_forms_posted_from_another_site_are_refused(
    client: Any, headers: dict[str, str]
) -> None:
    asked = client.http.post("/staff/sign-in", body=urlencode({"email": STAFF}),
                             headers={**FORM, **headers})
    assert asked.status_code == 403
    assert sent_emails() == []
    link_id = request_link(client)
    used = client.http.post(f"/staff/sign-in/{link_id}", body=b"", headers={**FORM, **headers})
    assert used.status_code == 403 and "Set-Cookie" not in used.headers
    # The same link still works from the service's own page: where a browser says
    # Sec-Fetch-Site, that decides (whatever Origin it sends beside it).
    same_site = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    signed_in = client.http.post(f"/staff/sign-in/{link_id}", body=b"",
                                 headers={**FORM, **same_site})
    assert signed_in.status_code == 303 and "phb_staff=" in signed_in.headers["Set-Cookie"]


@pytest.mark.parametrize("fields", [{}, {"csrf": ""}, {"csrf": "wrong"}])
def test_sign_out_without_the_right_csrf_token_is_403(client: Any,
                                                     fields: dict[str, str]) -> None:
    cookie = sign_in(client)
    response = post(client, "/staff/sign-out", fields, cookie)
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers
    assert get(client, "/staff/", cookie).status_code == 200


def test_another_sessions_csrf_token_is_403(client: Any) -> None:
    first = sign_in(client)
    second = sign_in(client)
    response = post(client, "/staff/sign-out", {"csrf": csrf_of(client, first)}, second)
    assert response.status_code == 403


# --- every staff route is guarded -------------------------------------------------------------


def staff_routes() -> list[tuple[str, str]]:
    import app as application

    return sorted(
        (path, method)
        for path, methods in application.app.routes.items()
        if (path == "/staff" or path.startswith("/staff/")) and path not in SIGN_IN_ROUTES
        for method in methods
    )


def test_there_are_staff_routes_to_check() -> None:
    routes = staff_routes()
    assert ("/staff", "GET") in routes
    assert ("/staff/sign-out", "POST") in routes


def test_every_staff_route_refuses_anonymous_requests(client: Any) -> None:
    checked = []
    for path, method in staff_routes():
        concrete = re.sub(r"\{[^}]+\}", "dummy-value-1234567890abcdefghij", path)
        if method == "GET":
            response = get(client, concrete)
            assert response.status_code == 303, (path, method, response.status_code)
            assert response.headers["Location"] == "/staff/sign-in", path
        else:
            response = client.http.request(method, concrete, body=b"csrf=x", headers=FORM)
            assert response.status_code == 403, (path, method, response.status_code)
        checked.append((path, method))
    assert checked == staff_routes()
    assert sent_emails() == []
