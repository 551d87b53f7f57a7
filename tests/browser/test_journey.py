"""The clinician's journey in a real browser (Debian's Chromium), with and without JavaScript,
and an advisor's in the staff console, with axe-core's WCAG 2.2 AA checks on every page on the
way.

The journey itself (tests/browser/journey.py) is shared with `make screens`. Here every page it
visits is also checked with axe-core: a serious or critical violation fails the test.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser import journey as journey_module
from tests.browser.journey import VIEWPORT, AdvisorJourney, ChromiumMissing, Journey, launch

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING_IMPACTS = {"serious", "critical"}
# What sticks out of the window, to say what to fix.
WIDEST = """(width) => [...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().right > width + 1)
  .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")} ${Math.round(
    e.getBoundingClientRect().right)}px`).slice(-5)"""
# A phone's width and a desktop's: every page must fit both.
WIDTHS = (375, 1280)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        try:
            launched = launch(playwright)
        except ChromiumMissing as missing:
            pytest.fail(str(missing), pytrace=False)
        try:
            yield launched
        finally:
            launched.close()


class AxeChecker:
    """axe-core on each page. axe runs asynchronously, which a page with JavaScript turned
    off cannot do; such a page is checked as served, by loading its HTML (and the site's own
    styles) at the same address in a second, JavaScript-enabled tab."""

    def __init__(self, browser: Browser, javascript: bool) -> None:
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.javascript = javascript
        self.context: BrowserContext | None = None
        if not javascript:
            self.context = browser.new_context(viewport=VIEWPORT)
            self.mirror = self.context.new_page()
        self.minor: dict[str, set[str]] = {}
        self.widths: dict[str, dict[int, int]] = {}
        self.checked: list[str] = []

    def close(self) -> None:
        if self.context is not None:
            self.context.close()

    def fits(self, page: Page, name: str) -> None:
        """The page is no wider than the window at a desktop's and a phone's width (wide
        tables scroll inside their own box, never the whole page)."""
        before = page.viewport_size or VIEWPORT
        try:
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": before["height"]})
                wide = page.evaluate("document.documentElement.scrollWidth")
                self.widths.setdefault(name, {})[width] = wide
                assert wide <= width, (f"{name} ({page.url}) is {wide} px wide at {width} px: "
                                       + ", ".join(page.evaluate(WIDEST, width)))
        finally:
            page.set_viewport_size(before)

    def run(self, page: Page) -> dict[str, Any]:
        options = {"runOnly": {"type": "tag", "values": WCAG_22_AA},
                   "resultTypes": ["violations"]}
        if self.javascript:
            return dict(self.axe.run(page, options=options).response)
        address = page.url.split("#", 1)[0]
        html = page.content()
        self.mirror.route(lambda url: url.split("#", 1)[0] == address,
                          lambda route: route.fulfill(status=200, body=html,
                                                      content_type="text/html; charset=utf-8"))
        try:
            self.mirror.goto(address)
            assert self.mirror.title() == page.title(), (self.mirror.title(), page.title())
            return dict(self.axe.run(self.mirror, options=options).response)
        finally:
            self.mirror.unroute_all()

    def __call__(self, page: Page, name: str) -> None:
        self.fits(page, name)
        results = self.run(page)
        assert results["passes"], f"axe-core checked nothing on {name}"
        violations = results["violations"]
        failing = [v for v in violations if v["impact"] in FAILING_IMPACTS]
        for v in violations:
            if v["impact"] not in FAILING_IMPACTS:
                self.minor.setdefault(f"{v['id']} ({v['impact']})", set()).add(name)
        self.checked.append(name)
        assert not failing, f"axe-core on {name} ({page.url}):\n" + "\n".join(
            f"  {v['id']} ({v['impact']}): {v['help']} at "
            + "; ".join(", ".join(n["target"]) for n in v["nodes"])
            for v in failing)


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_a_clinician_refers_someone_and_the_pathway_is_clicked_through_to_closure(
    local_stack: Any, browser: Browser, javascript: bool
) -> None:
    started = time.monotonic()
    axe = AxeChecker(browser, javascript)
    context = browser.new_context(java_script_enabled=javascript, viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    try:
        journey = Journey(context.new_page(), local_stack.url, seen=axe, javascript=javascript)
        reference = journey.walk()
    finally:
        context.close()
        axe.close()

    assert reference.startswith("PHB-")
    assert axe.checked == journey.pages and len(journey.pages) == 31
    seconds = time.monotonic() - started
    report = "; ".join(f"{rule} on {len(pages)} pages" for rule, pages in sorted(axe.minor.items()))
    print(f"\n{reference}: {len(axe.checked)} pages checked by axe-core in {seconds:.1f}s; "
          f"minor or moderate: {report or 'none'}")


def test_without_chromium_the_browser_tests_fail_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(journey_module, "chromium_path", lambda: None)
    with pytest.raises(ChromiumMissing, match=r"sudo apt-get install chromium.*make browser"):
        launch(None)  # type: ignore[arg-type]  # never reaches Playwright


def signed_off_by_the_referrer(page: Page, base_url: str, reference: str) -> None:
    """The referrer signs off through the link in their email (as their browser would post it:
    from the service's own origin), so the request goes on to a PHB advisor."""
    deadline = time.monotonic() + 20
    while True:
        emails = json.loads(page.request.get(f"{base_url}/dev/outbox.json").text())
        asked = [e for e in emails if reference in e["subject"] and "sign off" in e["subject"]]
        if asked:
            break
        assert time.monotonic() < deadline, "no sign-off request in the outbox"
        time.sleep(0.2)
    [link] = re.findall(r"/act/sign-off/[A-Za-z0-9_-]+", asked[-1]["text"])
    done = page.request.post(f"{base_url}{link}", form={"decision": "approved"},
                             headers={"Origin": base_url})
    assert done.ok, done.text()


def test_an_advisor_signs_in_finds_the_referral_adds_a_note_and_reads_the_reports(
    local_stack: Any, browser: Browser
) -> None:
    """An advisor's day: the worklist opens on what needs their action (a flagged request the
    referrer signed off), they decide it on its case page; then they find another referral by
    its reference, add a note, and read the reports."""
    from tests.factories import make_referral, unique_person

    axe = AxeChecker(browser, javascript=True)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sent = page.request.post(f"{local_stack.url}/api/referrals",
                                 # A person of their own: the journeys' person has PHBs
                                 # on this stack already, which would need a manager.
                                 data=json.dumps(make_referral(person=unique_person())),
                                 headers={"Content-Type": "application/json"})
        assert sent.status == 201, sent.text()
        reference = json.loads(sent.text())["reference"]
        fryer = {"description": "Air fryer for healthier cooking", "category": "equipment",
                 "supplier": "Argos", "cost_pence": 6000, "recurrence": "one_off"}
        flagged = page.request.post(f"{local_stack.url}/api/referrals", data=json.dumps(
            make_referral(person=unique_person(first_name="Chidi", last_name="Okafor-Reid"),
                          items=[fryer])),
            headers={"Content-Type": "application/json"})
        assert flagged.status == 201, flagged.text()
        decide = json.loads(flagged.text())["reference"]
        signed_off_by_the_referrer(page, local_stack.url, decide)
        journey = AdvisorJourney(page, local_stack.url, reference, seen=axe)
        journey.walk()
        # Back to the worklist: it opens on what needs their action, the flagged request.
        page.get_by_role("link", name="Referrals", exact=True).click()
        deadline = time.monotonic() + 20
        # Each row names the person (the link to their case) over the reference.
        row = page.get_by_role("row").filter(has_text=decide)
        while not row.get_by_role("link", name="Chidi Okafor-Reid", exact=True).count():
            assert time.monotonic() < deadline, "the flagged request is not in Needs my action"
            time.sleep(0.5)
            page.reload()
        journey.arrive("staff-needs-my-action", "Referrals")
        expect(page.get_by_text(re.compile("Waiting for a PHB advisor.s decision since"))) \
            .to_be_visible()
        row.get_by_role("link", name="Chidi Okafor-Reid", exact=True).click()
        journey.arrive("staff-case-to-decide", decide)
        expect(page.get_by_text("Household items are not normally funded by a PHB").first) \
            .to_be_visible()
        page.get_by_label("Approve", exact=True).check()
        journey.press("Record the decision")
        journey.arrive("staff-case-decided", decide)
        expect(page.get_by_text("Your decision has been recorded.")).to_be_visible()
    finally:
        context.close()
        axe.close()
    assert axe.checked == journey.pages and len(journey.pages) == 11


def test_a_form_on_another_site_cannot_post_to_the_service(
    local_stack: Any, browser: Browser
) -> None:
    """Chromium posting this service's forms from a page elsewhere (it says so in
    Sec-Fetch-Site: cross-site): refused, and nothing is sent or started."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(10_000)
    evil = "http://another-site.test/"
    forms = (
        f'<form method="post" action="{local_stack.url}/staff/sign-in">'
        '<input name="email" value="amara.nwosu@example.org">'
        '<button id="sign-in">Sign in</button></form>'
        f'<form method="post" action="{local_stack.url}/referral/start">'
        '<button id="start">Start</button></form>')
    try:
        page = context.new_page()
        page.route(evil, lambda route: route.fulfill(
            status=200, content_type="text/html",
            body=f"<!doctype html><title>Another site</title>{forms}"))
        before = len(json.loads(page.request.get(f"{local_stack.url}/dev/outbox.json").text()))
        for button in ("#sign-in", "#start"):
            page.goto(evil)
            with page.expect_navigation():
                page.click(button)
            assert "did not come from this service" in page.content()
            assert page.title().startswith("You cannot do that")
        time.sleep(1)  # a sign-in link would have been handed off by now
        after = json.loads(page.request.get(f"{local_stack.url}/dev/outbox.json").text())
        assert len(after) == before
        assert not [c for c in context.cookies(local_stack.url) if c["name"].startswith("phb")]
    finally:
        context.close()


PHONE: Any = {"width": 375, "height": 740}


def test_a_clinician_signs_in_on_a_phone_sees_what_waits_on_them_and_signs_it_off(
    local_stack: Any, browser: Browser
) -> None:
    """/my-referrals at 375 px: sign in by the emailed link, find the request waiting for the
    clinician's own sign-off, sign it off from there, and read it in the history."""
    import re

    from playwright.sync_api import expect

    from tests.factories import make_referral, unique_person

    clinician = "rhea.mensah@nhs.net"
    axe = AxeChecker(browser, javascript=True)
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(10_000)
    pages: list[str] = []
    try:
        page = context.new_page()
        referrer = {**make_referral()["referrer"], "name": "Rhea Mensah", "email": clinician}
        sent = page.request.post(f"{local_stack.url}/api/referrals", data=json.dumps(
            make_referral(referrer=referrer, person=unique_person(first_name="Kofi",
                                                                  last_name="Boateng"))),
            headers={"Content-Type": "application/json"})
        assert sent.status == 201, sent.text()
        reference = json.loads(sent.text())["reference"]

        def arrive(name: str, title: str) -> None:
            expect(page.get_by_role("heading", level=1)).to_have_text(title)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), \
                f"{name} is wider than a phone"
            pages.append(name)
            axe(page, name)

        page.goto(f"{local_stack.url}/my-referrals")
        arrive("my-sign-in", "Sign in to see your referrals")
        page.get_by_label("Work email address").fill(clinician)
        page.get_by_role("button", name="Email me a sign-in link").click()
        arrive("my-check-email", "Check your email")
        deadline = time.monotonic() + 20
        links: list[str] = []
        while not links:
            assert time.monotonic() < deadline, "no sign-in email in the outbox"
            time.sleep(0.2)
            outbox = json.loads(page.request.get(f"{local_stack.url}/dev/outbox.json").text())
            links = [m for e in outbox if e["to"] == clinician
                     for m in re.findall(r"https?://\S+/my-referrals/sign-in/[\w-]+", e["text"])]
        page.goto(links[-1])
        arrive("my-confirm", "Sign in to see your referrals")
        page.get_by_role("button", name="Sign in", exact=True).click()
        arrive("my-referrals", "Your referrals")
        card = page.locator(f"#referral-{reference}")
        expect(card).to_contain_text("K B")
        # The state machine asks for the clinician's sign-off a moment after intake.
        deadline = time.monotonic() + 20
        while not card.get_by_role("button", name="Sign off the request").count():
            assert time.monotonic() < deadline, card.inner_text()
            time.sleep(0.5)
            page.reload()
        expect(card).to_contain_text("Waiting for your sign-off since")
        card.get_by_role("button", name="Sign off the request").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign off a PHB request")
        page.get_by_role("group", name="Your decision").get_by_label(
            "Approve the request").check()
        page.get_by_role("button", name="Send decision").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Done")

        page.goto(f"{local_stack.url}/my-referrals/{reference}")
        arrive("my-referral", reference)
        expect(page.locator("#timeline")).to_contain_text("Signed off by you")
    finally:
        context.close()
        axe.close()
    assert axe.checked == pages and len(pages) == 5
