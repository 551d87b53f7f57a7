"""Every state-changing request needs this service's own origin (chalicelib/web/security.py):
each POST and DELETE route of the app, enumerated from the app itself, refuses `cross-site`,
`same-site`, `none`, `Origin: null` and another site's Origin, with nothing changed; the
service's own pages (`Sec-Fetch-Site: same-origin`, or the public address as Origin) get
through. Before this, the sign-in forms took `Origin: null` and `same-site`, and any site
could post `/referral/start` and reset a clinician's form in progress."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.bootstrap import Services
from chalicelib.config import get_settings
from chalicelib.domain.records import View
from tests.factories import make_referral

REFERENCE = "PHB-AAAA-AAAA"
LINK = "x" * 43
# A concrete path for each state-changing route (a route added without one fails below).
SAMPLE_PATHS = {
    "/act/{action}/{link_id}": f"/act/sign-off/{LINK}",
    "/api/referrals": "/api/referrals",
    "/dev/faults": "/dev/faults",
    "/referral/check": "/referral/check",
    "/referral/start": "/referral/start",
    "/referral/{section}": "/referral/person",
    "/staff/referrals/{reference}/amend": f"/staff/referrals/{REFERENCE}/amend",
    "/staff/referrals/{reference}/{action}": f"/staff/referrals/{REFERENCE}/note",
    "/staff/sign-in": "/staff/sign-in",
    "/staff/sign-in/{link_id}": f"/staff/sign-in/{LINK}",
    "/staff/sign-out": "/staff/sign-out",
    "/my-referrals/sign-in": "/my-referrals/sign-in",
    "/my-referrals/sign-in/{link_id}": f"/my-referrals/sign-in/{LINK}",
    "/my-referrals/sign-out": "/my-referrals/sign-out",
    "/my-referrals/{reference}/open": f"/my-referrals/{REFERENCE}/open",
    "/my-referrals/{reference}/resend": f"/my-referrals/{REFERENCE}/resend",
    "/my-referrals/{reference}/withdraw": f"/my-referrals/{REFERENCE}/withdraw",
}
REFUSED = [
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "same-site", "Origin": "https://other.phb.example"},
    {"Sec-Fetch-Site": "none"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "null"},
    {"Origin": "null"},
    {"Origin": "https://evil.example"},
    {"Origin": "http://testserver.evil.example"},
]


def state_changing_routes() -> list[tuple[str, str]]:
    import app

    return sorted((path, method) for path, methods in app.app.routes.items()
                  for method in methods if method in ("POST", "PUT", "PATCH", "DELETE"))


def body_for(path: str) -> tuple[str, str]:
    """(Content-Type, body) that the route would otherwise act on."""
    if path == "/api/referrals":
        return "application/json", json.dumps(make_referral())
    if path == "/dev/faults":
        return "application/json", json.dumps({"operation": "SendRawEmail",
                                               "error": "MessageRejected"})
    return "application/x-www-form-urlencoded", urlencode({"email": "amara.nwosu@example.org"})


def snapshot(svc: Services) -> tuple[int, int, int]:
    """What a refused request must not change: referrals, emails, forms in progress."""
    from devstack import faults

    return (len(svc.store.referrals.page(View("all"), 1000).rows),
            len(svc.mailer.sent),  # type: ignore[attr-defined]
            len(svc.store.drafts._drafts) + len(faults.armed()))  # type: ignore[attr-defined]


def test_every_state_changing_route_has_a_sample_here() -> None:
    assert {path for path, _ in state_changing_routes()} == set(SAMPLE_PATHS)


@pytest.mark.parametrize("headers", REFUSED, ids=lambda h: ",".join(f"{k}={v}" for k, v in
                                                                      h.items()))
@pytest.mark.parametrize(("route", "method"), state_changing_routes())
def test_a_change_from_anywhere_but_this_service_is_refused_and_changes_nothing(
        memory: Services, memory_client: Any, route: str, method: str,
        headers: dict[str, str]) -> None:
    content_type, body = body_for(route)
    before = snapshot(memory)
    answer = memory_client.http.request(method, SAMPLE_PATHS[route], body=body,
                                        headers={"Content-Type": content_type, **headers})
    assert answer.status_code == 403, answer.body[:300]
    assert "did not come from this service" in answer.body.decode()
    assert "Set-Cookie" not in answer.headers
    assert snapshot(memory) == before


@pytest.mark.parametrize("headers", [
    {"Sec-Fetch-Site": "same-origin"},
    # A browser that sends no Sec-Fetch-Site: the Origin must be the public address.
    {"Origin": "http://testserver"},
    {"Origin": "HTTP://TESTSERVER/"},
    # Where Sec-Fetch-Site is sent it decides, whatever Origin comes beside it.
    {"Sec-Fetch-Site": "same-origin", "Origin": "null"},
])
@pytest.mark.parametrize(("route", "method"), state_changing_routes())
def test_the_services_own_pages_get_through(
        memory: Services, memory_client: Any, route: str, method: str,
        headers: dict[str, str]) -> None:
    assert get_settings().public_base_url == "http://testserver"
    content_type, body = body_for(route)
    answer = memory_client.http.request(method, SAMPLE_PATHS[route], body=body,
                                        headers={"Content-Type": content_type, **headers})
    assert answer.status_code != 403 or "did not come from this service" not in \
        answer.body.decode(), (route, answer.body[:300])


def test_the_api_takes_a_request_from_no_browser_but_the_forms_do_not(
        memory: Services, memory_client: Any) -> None:
    """A referral system posting JSON sends neither header: no page elsewhere can post JSON
    across sites without a CORS preflight this service never grants. A form route needs a
    browser's word that the form was this service's."""
    made = memory_client.http.request("POST", "/api/referrals", body=json.dumps(
        make_referral()), headers={"Content-Type": "application/json", "Sec-Fetch-Site": ""})
    assert made.status_code == 201, made.body[:300]
    reset = memory_client.http.request(
        "POST", "/referral/start", body="",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": ""})
    assert reset.status_code == 403 and "Set-Cookie" not in reset.headers


def test_a_clinicians_form_in_progress_cannot_be_reset_from_another_site(
        memory: Services, memory_client: Any) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    started = memory_client.http.post("/referral/start", body="", headers=form)
    cookie = started.headers["Set-Cookie"].split(";", 1)[0]
    saved = memory_client.http.post("/referral/referrer", body=urlencode(
        {"referrer.name": "Sam Okafor"}), headers={**form, "Cookie": cookie})
    assert saved.status_code in (303, 422)
    attack = memory_client.http.post("/referral/start", body="", headers={
        **form, "Cookie": cookie, "Sec-Fetch-Site": "cross-site",
        "Origin": "https://evil.example"})
    assert attack.status_code == 403 and "Set-Cookie" not in attack.headers
    page = memory_client.http.get("/referral/referrer", headers={"Cookie": cookie})
    assert 'value="Sam Okafor"' in page.body.decode()
