"""The clinician's journey in a real browser (Debian's Chromium), with and without JavaScript,
and an advisor's in the staff console, with axe-core's WCAG 2.2 AA checks on every page on the
way.

The journey itself (tests/browser/journey.py) is shared with `make screens`. Here every page it
visits is also checked with axe-core: a serious or critical violation fails the test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.browser import journey as journey_module
from tests.browser.journey import VIEWPORT, AdvisorJourney, ChromiumMissing, Journey, launch

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
FAILING_IMPACTS = {"serious", "critical"}


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
        self.checked: list[str] = []

    def close(self) -> None:
        if self.context is not None:
            self.context.close()

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


def test_an_advisor_signs_in_finds_the_referral_adds_a_note_and_reads_the_reports(
    local_stack: Any, browser: Browser
) -> None:
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
        journey = AdvisorJourney(page, local_stack.url, reference, seen=axe)
        journey.walk()
    finally:
        context.close()
        axe.close()
    assert axe.checked == journey.pages and len(journey.pages) == 7


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
        '<input name="email" value="phb-advisors@example.org">'
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
