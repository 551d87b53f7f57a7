"""What a request costs is bounded by its size: generated bodies under the size cap, posted to
every form route, never do more than a fixed amount of work (counted: tests/hostile/budget.py),
and a row index past what the form allows is refused before anything loops over rows.

On the in-memory adapters, so each example costs milliseconds: the work counted is the app's
own (parsing, validation, rendering), which is the same whichever store is behind it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.bootstrap import Services
from chalicelib.domain.policy import MAX_BODY_BYTES
from chalicelib.intake.form import SECTIONS
from chalicelib.workflow import tasks
from tests.factories import make_referral
from tests.hostile.budget import OverBudget, counted
from tests.hostile.test_free_text import csrf_of, post_api, sign_in
from tests.http.test_form import VALID
from tests.usecases.drive import emails_to, link_of, request

# Steps (lines, loop turns, calls) one request may take once the app is warm: well above the
# heaviest request the form can send (a whole items page of the longest answers, about a
# tenth of this), far below what a loop the sender can lengthen costs.
WORK_BUDGET = 4_000_000
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CASE_ACTIONS = ("note", "approve", "reject", "ask", "release", "correct", "resend", "resume",
                "withdraw", "export", "assign", "nonsense")
LINK_ACTIONS = ("sign-off", "answer", "agreement", "release", "review", "closure", "withdraw",
                "outcome", "amend", "agreement-copy")


class Site:
    """A referral waiting for its manager, a staff session and a form in progress: every form
    route has something real to act on."""

    def __init__(self, svc: Services, client: Any) -> None:
        self.svc, self.client = svc, client
        referral = make_referral(total_pence=30000)
        self.reference = post_api(client, referral).json_body["reference"]
        for event in ({"task": "record_intake"}, {"task": "notify", "kind": "acknowledgement"}):
            tasks.run(svc, {**event, "referral_id": self.reference, "notice": "t0"})
        request(svc, self.reference, "sign_off_request")
        asked = [e for e in emails_to(svc, "jo.patel@nhs.net", "sign off")
                 if self.reference in e.subject][-1]
        self.sign_off_link = link_of(asked, "sign-off")
        self.staff_cookie = sign_in(svc, client)
        self.csrf = csrf_of(client, self.staff_cookie)
        started = client.http.post("/referral/start", body="", headers=FORM)
        self.draft_cookie = started.headers["Set-Cookie"].split(";", 1)[0]
        self.referrer_cookie, self.referrer_csrf = referrer_session(svc, client,
                                                                    "sam.okafor@nhs.net")

    def routes(self) -> list[tuple[str, str]]:
        """(path, cookie) of every form POST route, each path parameter filled."""
        staff = [(f"/staff/referrals/{self.reference}/{action}", self.staff_cookie)
                 for action in CASE_ACTIONS]
        links = [(f"/act/{action}/{self.sign_off_link if action == 'sign-off' else 'x' * 43}",
                  "") for action in LINK_ACTIONS]
        return [
            ("/referral/start", self.draft_cookie),
            *[(f"/referral/{section.slug}", self.draft_cookie) for section in SECTIONS],
            ("/referral/check", self.draft_cookie),
            *links, *staff,
            (f"/staff/referrals/{self.reference}/amend", self.staff_cookie),
            ("/staff/sign-in", ""), ("/staff/sign-in/" + "y" * 43, ""),
            ("/staff/sign-out", self.staff_cookie),
            ("/my-referrals/sign-in", ""), ("/my-referrals/sign-in/" + "y" * 43, ""),
            *[(f"/my-referrals/{self.reference}/{action}", self.referrer_cookie)
              for action in ("open", "resend", "withdraw")],
            ("/my-referrals/sign-out", self.referrer_cookie),
        ]

    def post(self, path: str, cookie: str, body: str) -> Any:
        headers = {**FORM, **({"Cookie": cookie} if cookie else {})}
        return self.client.http.post(path, body=body, headers=headers)


KNOWN_NAMES = sorted({name for fields in VALID.values() for name in fields}
                     | {"csrf", "action", "remove", "decision", "reason", "question", "answer",
                        "amount", "note", "email", "role", "typed_name", "accept"})
names = st.one_of(
    st.sampled_from(KNOWN_NAMES),
    # Rows: in range, just past it, and far past it (10^12 was a Lambda's whole timeout).
    st.builds(lambda prefix, index, leaf: f"{prefix}.{index}.{leaf}",
              st.sampled_from(["items", "goals", "reqol10_baseline.items"]),
              st.one_of(st.integers(0, 12), st.integers(0, 10**15), st.just("01"),
                        st.text("0123456789", max_size=30)),
              st.sampled_from(["description", "goal", "cost_pence", "remove", "months", "x"])),
    st.text(max_size=40),
)
values = st.one_of(st.text(max_size=50), st.text(alphabet="x", min_size=1000, max_size=6000),
                   st.sampled_from(["yes", "no", "continue", "add", "0", "9", "1e9", "-1"]))
bodies = st.one_of(
    st.lists(st.tuples(names, values), max_size=40).map(urlencode),
    # Many fields at once, up to the size cap (the parser's own limit on fields included).
    st.integers(1, 700).map(lambda count: "&".join(
        f"items.{i % 12}.f{i}=v" for i in range(count))),
    st.text(max_size=300).map(lambda text: quote(text, safe="=&")),
).filter(lambda body: len(body.encode()) <= MAX_BODY_BYTES)


@pytest.fixture
def site(memory: Services, memory_client: Any) -> Site:
    made = Site(memory, memory_client)
    # The first request of each route compiles its templates and imports what it uses: the
    # budget is for a warm Lambda's request.
    for path, cookie in made.routes():
        made.post(path, cookie, urlencode(VALID["items"]))
    return made


def referrer_session(svc: Services, client: Any, email: str) -> tuple[str, str]:
    """A referrer signed in to their own referrals: (Cookie header, CSRF token)."""
    import re

    client.http.post("/my-referrals/sign-in", body=urlencode({"email": email}), headers=FORM)
    [link_id] = [m for e in emails_to(svc, email)
                 for m in re.findall(r"/my-referrals/sign-in/([A-Za-z0-9_-]+)", e.text)][-1:]
    used = client.http.post(f"/my-referrals/sign-in/{link_id}", body="", headers=FORM)
    cookie = used.headers["Set-Cookie"].split(";", 1)[0]
    home = client.http.get("/my-referrals", headers={"Cookie": cookie}).body.decode()
    found = re.search(r'name="csrf" value="([^"]+)"', home)
    assert found, home[:300]
    return cookie, found.group(1)


def test_a_row_index_past_the_form_is_refused_before_any_loop(site: Site) -> None:
    for body in ("items.1000000000000.description=a", "items.3000000.description=a",
                 "items.10.description=a", "goals.3.goal=Swim", "goals.03.goal=Swim",
                 "items.-1.description=a"):
        for slug in ("items", "goals", "person"):
            with counted(200_000):
                answer = site.post(f"/referral/{slug}", site.draft_cookie, body)
            assert answer.status_code == 400, (slug, body, answer.status_code)
            assert "The form sent a row that does not exist" in answer.body.decode()
    # The staff amend form and the rows it may have.
    with counted(200_000):
        answer = site.post(f"/staff/referrals/{site.reference}/amend", site.staff_cookie,
                           f"csrf={site.csrf}&items.999999999.remove=yes")
    assert answer.status_code == 400
    # Rows the form does have are still taken.
    ten = {f"items.{i}.{k}": v for i in range(10) for k, v in (
        ("description", f"Item {i}"), ("category", "membership"), ("supplier", "Better"),
        ("cost_pence", "10.00"), ("recurrence", "one_off"))}
    answer = site.post("/referral/items", site.draft_cookie, urlencode(ten))
    assert answer.status_code == 303


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(route=st.integers(0, 10_000), body=bodies, with_csrf=st.booleans())
def test_no_form_request_under_the_size_cap_does_more_than_a_fixed_amount_of_work(
        site: Site, route: int, body: str, with_csrf: bool) -> None:
    routes = site.routes()
    path, cookie = routes[route % len(routes)]
    if with_csrf and path.startswith("/staff/referrals/"):
        body = f"csrf={site.csrf}&{body}" if body else f"csrf={site.csrf}"
    if with_csrf and path.startswith(f"/my-referrals/{site.reference}/"):
        body = f"csrf={site.referrer_csrf}&{body}" if body else f"csrf={site.referrer_csrf}"
    try:
        with counted(WORK_BUDGET) as work:
            answer = site.post(path, cookie, body)
    except OverBudget:
        pytest.fail(f"POST {path} did more than {WORK_BUDGET} steps for a {len(body)}-byte "
                    f"body: {body[:200]!r}")
    assert answer.status_code < 500, (path, body[:200], answer.body[:300])
    assert work.steps <= WORK_BUDGET


def test_the_heaviest_request_the_form_can_send_is_well_inside_the_budget(site: Site) -> None:
    """The budget is a real bound, not a loose one: the longest answers in every row of the
    items page take a fraction of it."""
    longest = {f"items.{i}.{k}": v for i in range(10) for k, v in (
        ("description", "x" * 3000), ("category", "membership"), ("supplier", "y" * 1500),
        ("cost_pence", "10.00"), ("recurrence", "one_off"))}
    body = urlencode(longest)
    assert len(body) <= MAX_BODY_BYTES
    with counted(WORK_BUDGET) as work:
        answer = site.post("/referral/items", site.draft_cookie, body)
    assert answer.status_code in (303, 422)
    assert work.steps < WORK_BUDGET // 2, work.steps
