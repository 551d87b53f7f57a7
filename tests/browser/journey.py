"""The clinician's journey through PHB Pathway in a real browser, shared by the browser test
(tests/browser/test_journey.py) and the screenshots (bench/screens.py).

A clinician refers someone: they start the form, fill every page by its visible labels, make a
mistake and fix it, check their answers and send the referral. Then, from the local outbox,
they follow the acknowledgement and sign the request off (first rejecting it without a
reason, which the page refuses); the person accepts their agreement;
a PHB advisor records the release of the money; the clinician completes the 6-week review and
closes the PHB, each from the link in its email.

The browser is Debian's Chromium (never a downloaded one). Every page is passed on arrival,
before anything is typed, with a stable name ("start", "person-error", "outbox", ...), to the
`seen` callback: the test runs axe-core there, the screenshots save a PNG. The outbox is seen
several times.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Locator, Page, Playwright, ViewportSize, expect

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = (
    "The browser tests drive Debian's Chromium, which is not installed. Install it with "
    "`sudo apt-get install chromium` (or run `make browser` as root). "
    "Never `playwright install`: these tests use the system browser."
)
VIEWPORT: ViewportSize = {"width": 1000, "height": 800}
EMAIL_TIMEOUT_S = 30.0
EXPECT_TIMEOUT_MS = 10_000


class ChromiumMissing(RuntimeError):
    pass


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless; ChromiumMissing (saying how to install it) if absent.
    Assertions on pages wait up to EXPECT_TIMEOUT_MS (a busy machine can be slow)."""
    path = chromium_path()
    if path is None:
        raise ChromiumMissing(INSTALL_HINT)
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)


@dataclass(frozen=True)
class Answers:
    """What the clinician types, and what the check-your-answers page should show back."""

    referrer_name: str = "Sam Okafor"
    referrer_role: str = "Care coordinator"
    referrer_team: str = "Hackney Community Mental Health Team"
    referrer_organisation: str = "East London NHS Foundation Trust"
    referrer_email: str = "sam.okafor@nhs.net"
    referrer_phone: str = "020 7946 0000"
    first_name: str = "Alex"
    last_name: str = "Morgan"
    date_of_birth: tuple[str, str, str] = ("1", "5", "1985")
    wrong_nhs_number: str = "943 476 5918"  # the check digit is wrong
    nhs_number: str = "943 476 5919"
    postcode: str = "e8 1dy"
    person_email: str = "alex.morgan@example.com"
    goal: str = "Swim once a week at the local pool"
    goal_target: date = field(default_factory=lambda: date.today() + timedelta(days=45))
    how_phb_helps: str = "Swimming lifts Alex's mood and gets them out of the house."
    alternatives: str = "Free sessions at the leisure centre are full until next year."
    item: str = "Swimming pass, 3 months"
    supplier: str = "Better Leisure"
    cost: str = "120.50"
    reqol_scores: tuple[int, ...] = (2, 3, 2, 1, 2, 3, 2, 2, 1, 2)
    physical_health_score: int = 3


Seen = Callable[[Page, str], None]


@dataclass
class Journey:
    """One clinician's referral, walked page by page. `seen(page, name)` is called on arrival
    at every page; `reference` is known once the referral is sent."""

    page: Page
    base_url: str
    seen: Seen = lambda page, name: None
    answers: Answers = field(default_factory=Answers)
    reference: str = ""
    pages: list[str] = field(default_factory=list)
    # Whether the browser runs the site's scripts (the pages work either way).
    javascript: bool = True

    # --- helpers ------------------------------------------------------------------------------

    def arrive(self, name: str, title: str | re.Pattern[str] | None = None) -> None:
        """We are on a new page: check its main heading, then hand it to `seen`."""
        if title is not None:
            expect(self.page.get_by_role("heading", level=1)).to_have_text(title)
        self.pages.append(name)
        self.seen(self.page, name)

    def label(self, text: str, within: Page | Locator | None = None) -> Locator:
        return (within or self.page).get_by_label(text, exact=True)

    def group(self, legend: str, within: Page | Locator | None = None) -> Locator:
        return (within or self.page).get_by_role("group", name=legend, exact=True)

    def fill_date(self, legend: str, day_month_year: tuple[str, str, str],
                  within: Page | Locator | None = None) -> None:
        box = self.group(legend, within)
        for part, value in zip(("Day", "Month", "Year"), day_month_year, strict=True):
            self.label(part, box).fill(value)

    def press(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    def save_and_continue(self) -> None:
        self.press("Save and continue")

    def outbox(self) -> list[dict[str, Any]]:
        response = self.page.request.get(f"{self.base_url}/dev/outbox.json")
        assert response.ok, response.status
        emails: list[dict[str, Any]] = json.loads(response.text())
        return emails

    def wait_for_email(self, subject_words: str, to: str | None = None,
                       timeout: float = EMAIL_TIMEOUT_S) -> dict[str, Any]:
        """Poll the outbox until an email about this referral, with `subject_words` in its
        subject, has been sent (to `to`, if given)."""
        deadline = time.monotonic() + timeout
        while True:
            for email in self.outbox():
                if (self.reference in email["subject"] and subject_words in email["subject"]
                        and (to is None or email["to"] == to)):
                    return email
            if time.monotonic() > deadline:
                subjects = [e["subject"] for e in self.outbox()]
                raise AssertionError(
                    f"no email {subject_words!r} for {self.reference} after {timeout}s; "
                    f"the outbox has {subjects}")
            time.sleep(0.1)

    def open_outbox(self) -> None:
        self.page.goto(f"{self.base_url}/dev/outbox")
        self.arrive("outbox", "Outbox")

    def email_card(self, subject: str) -> Locator:
        card = self.page.locator(".nhsuk-card").filter(
            has=self.page.get_by_role("heading", name=subject, exact=True))
        expect(card).to_have_count(1)
        return card

    # --- the journey --------------------------------------------------------------------------

    def walk(self) -> str:
        """The whole journey; returns the referral's reference."""
        self.start()
        self.your_details()
        self.about_the_person()
        self.recovery_goals()
        self.how_the_phb_helps()
        self.items_requested()
        self.reqol_scores()
        self.managing_the_budget()
        self.consent()
        self.check_answers_and_send()
        self.acknowledgement()
        self.sign_off()
        self.agreement()
        self.release()
        self.review()
        self.closure()
        return self.reference

    def start(self) -> None:
        self.page.goto(f"{self.base_url}/referral")
        self.arrive("start", "Refer someone for a personal health budget")
        self.press("Start now")

    def your_details(self) -> None:
        a = self.answers
        self.arrive("referrer", "Your details")
        self.label("Full name").fill(a.referrer_name)
        self.label("Role").fill(a.referrer_role)
        self.label("Team").fill(a.referrer_team)
        self.label("Organisation").fill(a.referrer_organisation)
        self.label("Work email address").fill(a.referrer_email)
        self.label("Work phone number").fill(a.referrer_phone)
        self.save_and_continue()

    def about_the_person(self) -> None:
        a = self.answers
        self.arrive("person", "About the person")
        self.label("First name").fill(a.first_name)
        self.label("Last name").fill(a.last_name)
        self.fill_date("Date of birth", a.date_of_birth)
        self.label("NHS number").fill(a.wrong_nhs_number)
        self.label("Postcode").fill(a.postcode)
        self.label("City & Hackney").check()
        self.label("Person's email address (optional)").fill(a.person_email)
        self.label("Ethnic group").select_option(label="Black or Black British: African")
        self.label("No", self.group("Does the person receive section 117 aftercare?")).check()
        self.save_and_continue()

        # The mistake: a wrong check digit. The page says so at the top and on the field.
        self.arrive("person-error", "About the person")
        expect(self.page).to_have_title(re.compile(r"^Error: "))
        summary = self.page.get_by_role("alert").filter(has_text="There is a problem")
        expect(summary).to_be_visible()
        link = summary.get_by_role("link")
        expect(link).to_have_count(1)
        expect(link).to_have_text(re.compile("not a valid NHS number"))
        link.click()
        expect(self.page).to_have_url(re.compile(r"#person\.nhs_number$"))
        nhs_number = self.label("NHS number")
        # The link targets the field, and the browser moves focus to it: type straight away.
        assert self.page.evaluate("document.querySelector(':target')?.id") == "person.nhs_number"
        expect(nhs_number).to_be_focused()
        expect(nhs_number).to_have_accessible_description(
            re.compile("not a valid NHS number"))
        expect(self.page.locator("[id='person.nhs_number-error']")).to_contain_text(
            "not a valid NHS number")
        # What was typed is kept, the mistake included.
        expect(nhs_number).to_have_value(a.wrong_nhs_number)
        expect(self.label("First name")).to_have_value(a.first_name)
        expect(self.label("Year", self.group("Date of birth"))).to_have_value(a.date_of_birth[2])
        expect(self.label("City & Hackney")).to_be_checked()
        expect(self.label("Ethnic group")).to_have_value("N")
        nhs_number.fill(a.nhs_number)
        self.save_and_continue()

    def recovery_goals(self) -> None:
        a = self.answers
        self.arrive("goals", "Recovery goals")
        goal = self.group("Goal 1")
        self.label("Physical health", goal).check()
        self.label("What is the goal?", goal).fill(a.goal)
        target = a.goal_target
        self.fill_date("Target date", (str(target.day), str(target.month), str(target.year)),
                       goal)
        self.save_and_continue()

    def how_the_phb_helps(self) -> None:
        a = self.answers
        self.arrive("support", "How the PHB helps")
        self.label("How will the PHB help the person achieve their goals?").fill(a.how_phb_helps)
        self.label("What other support options were considered, and why were they not "
                   "suitable?").fill(a.alternatives)
        self.save_and_continue()

    def items_requested(self) -> None:
        a = self.answers
        self.arrive("items", "Items requested")
        item = self.group("Item 1")
        self.label("What is it?", item).fill(a.item)
        self.label("Category", item).select_option(label="Membership")
        self.label("Supplier", item).fill(a.supplier)
        self.label("One-off payment", item).check()
        self.label("Cost", item).fill(a.cost)
        self.save_and_continue()

    def reqol_scores(self) -> None:
        a = self.answers
        self.arrive("outcomes", "ReQoL-10 scores")
        for number, score in enumerate(a.reqol_scores, start=1):
            self.label(str(score), self.group(f"Question {number} score")).check()
        self.label(str(a.physical_health_score),
                   self.group("Physical health question score")).check()
        self.save_and_continue()

    def managing_the_budget(self) -> None:
        self.arrive("budget", "Managing the budget")
        self.label("Direct payment", self.group("How will the budget be managed?")).check()
        self.save_and_continue()

    def consent(self) -> None:
        self.arrive("consent", "Consent")
        self.label("The person has agreed to this referral and to their information being "
                   "used").check()
        self.save_and_continue()

    def answers_under(self, heading: str) -> dict[str, str]:
        """The check-your-answers rows under a heading, as {question: answer}."""
        rows = (self.page.get_by_role("heading", name=heading, level=2, exact=True)
                .locator("xpath=following-sibling::dl[1]")
                .locator(".nhsuk-summary-list__row"))
        shown = {}
        for row in rows.all():
            key = row.locator(".nhsuk-summary-list__key").inner_text().strip()
            shown[key] = row.locator(".nhsuk-summary-list__value").inner_text().strip()
        return shown

    def check_answers_and_send(self) -> None:
        a = self.answers
        self.arrive("check-answers", "Check your answers before sending the referral")
        referrer = self.answers_under("Your details")
        assert referrer["Name"] == a.referrer_name, referrer
        assert referrer["Work email"] == a.referrer_email, referrer
        # Under £250 no approving manager is asked for (their page comes after the items).
        assert "Approving manager" not in referrer, referrer
        expect(self.page.get_by_role("heading", name="Approving manager")).to_have_count(0)
        person = self.answers_under("About the person")
        assert person["Name"] == f"{a.first_name} {a.last_name}", person
        assert person["Date of birth"] == "1 May 1985", person
        assert person["NHS number"] == a.nhs_number, person
        assert person["Postcode"] == a.postcode.upper(), person
        assert person["Borough"] == "City & Hackney", person
        assert person["Email"] == a.person_email, person
        assert person["Ethnic group"] == "Black or Black British: African", person
        assert person["Section 117 aftercare"] == "No", person
        goals = self.answers_under("Recovery goals")
        by = f"{a.goal_target.day} {a.goal_target:%B %Y}"
        assert goals == {f"Goal 1: Physical health, by {by}": a.goal}, goals
        support = self.answers_under("How the PHB helps")
        assert support == {"How the PHB helps": a.how_phb_helps,
                           "Other options considered": a.alternatives}, support
        items = self.answers_under("Items requested")
        assert items == {f"{a.item} (Membership, from {a.supplier})": f"£{a.cost}",
                         "Total": f"£{a.cost}"}, items
        rest = self.answers_under("ReQoL-10 and budget")
        total = sum(a.reqol_scores)
        assert rest["ReQoL-10 scores"] == (
            f"{', '.join(map(str, a.reqol_scores))} (total {total} out of 40); "
            f"physical health {a.physical_health_score}"), rest
        assert rest["How the budget is managed"] == "Direct payment", rest
        expect(self.page.get_by_text("You sign this request off yourself")).to_be_visible()
        # Each answer can be changed: the link says which one, for screen readers too.
        expect(self.page.get_by_role("link", name="Change NHS number")).to_have_attribute(
            "href", re.compile(r"/referral/person\?change=1#person\.nhs_number$"))
        self.press("Send referral")

        self.arrive("confirmation", "Referral sent")
        expect(self.page.get_by_role("heading", name="What happens next")).to_be_visible()
        expect(self.page.get_by_role("link", name="your referrals")).to_have_attribute(
            "href", re.compile(r"/my-referrals$"))
        panel = self.page.locator(".nhsuk-panel")
        found = re.search(r"PHB-[0-9A-Z]{4}-[0-9A-Z]{4}", panel.inner_text())
        assert found, panel.inner_text()
        self.reference = found.group(0)

    def acknowledgement(self) -> None:
        """The referrer's acknowledgement arrives; its link shows the referral's status."""
        self.wait_for_email("received", to=self.answers.referrer_email)
        self.open_outbox()
        card = self.email_card(f"PHB referral {self.reference} received")
        card.get_by_role("link", name=re.compile(rf"\/referrals\/{self.reference}$")).click()
        self.arrive("referral-status", f"Referral {self.reference}")
        expect(self.page.get_by_role("definition")).to_contain_text([self.reference])

    def sign_off(self) -> None:
        """Under £250 the referrer signs off: from the link in their email, approve."""
        subject = f"PHB referral {self.reference}: please sign off"
        self.wait_for_email("please sign off", to=self.answers.referrer_email)
        self.open_outbox()
        self.email_card(subject).get_by_role("link", name=re.compile(r"\/act\/sign-off\/")).click()
        self.arrive("sign-off", "Sign off a PHB request")
        expect(self.page.get_by_role("table")).to_contain_text(self.answers.item)
        decision = self.group("Your decision")
        reject, reason = self.label("Reject the request", decision), self.label(
            "If you reject it: why?")
        # The reason's box is under "Reject": with JavaScript it shows once that is chosen;
        # without, it shows all along, labelled for that choice.
        if self.javascript:
            expect(reason).to_be_hidden()
            expect(reject).to_have_attribute("aria-controls", "conditional-decision-2")
        else:
            expect(reason).to_be_visible()
        reject.check()
        expect(reason).to_be_visible()
        # The mistake: rejecting without saying why. The box is served open, with the error.
        self.press("Send decision")
        self.arrive("sign-off-error", "Sign off a PHB request")
        expect(reason).to_be_visible()
        expect(reason).to_have_accessible_description(
            re.compile("Enter why you are rejecting the request"))
        # Approving after all: the reason's box closes again (and is not read if it shows).
        self.label("Approve the request", decision).check()
        if self.javascript:
            expect(reason).to_be_hidden()
        self.press("Send decision")
        self.arrive("sign-off-done", "Done")
        self.what_happens_next(referrer=True)

    def agreement(self) -> None:
        """As the person: open the agreement from their email, and accept it."""
        a = self.answers
        subject = f"PHB {self.reference}: your direct payment agreement"
        self.wait_for_email("your direct payment agreement", to=a.person_email)
        self.open_outbox()
        self.email_card(subject).get_by_role("link", name=re.compile(r"\/act\/agreement\/")).click()
        self.arrive("agreement", "Direct payment agreement")
        expect(self.page.get_by_text(f"The amount is £{a.cost}")).to_be_visible()
        self.label("Type your full name to accept").fill(f"{a.first_name} {a.last_name}")
        self.label("I have read this agreement and I accept it").check()
        self.press("Accept the agreement")
        self.arrive("agreement-done", "Done")
        self.what_happens_next(referrer=False)

    def what_happens_next(self, referrer: bool) -> None:
        """A done page says what happens next; the referrer's links to their referrals."""
        expect(self.page.get_by_role("heading", name="What happens next")).to_be_visible()
        expect(self.page.get_by_text("You can close this page")).to_have_count(0)
        mine = self.page.get_by_role("link", name="See your referrals and what is waiting for you")
        if referrer:
            expect(mine).to_have_attribute("href", re.compile(r"/my-referrals$"))
        else:
            expect(mine).to_have_count(0)

    def open_link(self, subject: str, action: str) -> None:
        """From the outbox, follow the action link in the email with this subject."""
        self.open_outbox()
        self.email_card(subject).get_by_role(
            "link", name=re.compile(rf"\/act\/{action}\/")).click()

    def release(self) -> None:
        """As a PHB advisor: the next email asks them to release the money; they record it."""
        a = self.answers
        self.wait_for_email("release the money")
        self.open_link(f"PHB {self.reference}: agreement accepted, release the money", "release")
        self.arrive("release", "Record that the money was released")
        expect(self.label("Direct payment", self.group("How is the budget managed?"))
               ).to_be_checked()
        expect(self.label("Amount released")).to_have_value(a.cost)
        self.label("Prepaid card", self.group("How was it released?")).check()
        self.label("Payment reference").fill("CARD-0042")
        self.label("The money has been released").check()
        self.press("Record the release")
        self.arrive("release-done", "Done")
        self.what_happens_next(referrer=False)
        expect(self.page.get_by_role("link", name=f"Open {self.reference} in the staff console")
               ).to_be_visible()

    def fill_reqol(self, score: str) -> None:
        for number in range(1, 11):
            self.label(score, self.group(f"Question {number} score")).check()
        self.label(score, self.group("Physical health question score")).check()

    def review(self) -> None:
        """As the referrer: the 6-week review (2 seconds later in the local run)."""
        a = self.answers
        self.wait_for_email("6-week review", to=a.referrer_email)
        self.open_link(f"PHB {self.reference}: 6-week review", "review")
        self.arrive("review", "6-week review")
        self.label("Yes", self.group("Was the item or service bought?")).check()
        self.label("Making progress", self.group(f"Goal 1: {a.goal}")).check()
        self.fill_reqol("3")
        self.label("Yes", self.group("Are receipts held?")).check()
        self.label("Notes (optional)").fill("Swimming twice a week since the pass arrived.")
        self.press("Send the review")
        self.arrive("review-done", "Done")
        self.what_happens_next(referrer=True)

    def closure(self) -> None:
        """As the referrer: close the PHB at the goal date (2 seconds later locally); the
        referrer is told it is closed."""
        a = self.answers
        self.wait_for_email("time to close", to=a.referrer_email)
        self.open_link(f"PHB {self.reference}: time to close", "closure")
        self.arrive("closure", "Close the PHB")
        goal = self.group(f"Goal 1: {a.goal}")
        expect(goal).to_contain_text("At the 6-week review: making progress")
        self.label("Yes", goal).check()
        self.fill_reqol("4")
        self.label("Money left unspent").fill("0")
        self.press("Close the PHB")
        self.arrive("closure-done", "Done")
        self.what_happens_next(referrer=True)
        self.wait_for_email("is closed", to=a.referrer_email)
        self.open_outbox()
        expect(self.email_card(f"PHB {self.reference} is closed")).to_be_visible()


@dataclass
class AdvisorJourney:
    """A PHB advisor runs the service from the staff console: signs in through the emailed
    link (from the local outbox), finds the referral by its reference, reads its case page,
    adds a note, then reads the reports. `seen(page, name)` on arrival at every page."""

    page: Page
    base_url: str
    reference: str
    seen: Seen = lambda page, name: None
    email: str = "amara.nwosu@example.org"  # a person on the local staff list
    pages: list[str] = field(default_factory=list)

    def arrive(self, name: str, title: str | re.Pattern[str]) -> None:
        expect(self.page.get_by_role("heading", level=1)).to_have_text(title)
        self.pages.append(name)
        self.seen(self.page, name)

    def press(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    def walk(self) -> None:
        self.page.goto(f"{self.base_url}/staff/")
        self.arrive("staff-sign-in", "Sign in to the staff console")
        self.page.get_by_label("Email address", exact=True).fill(self.email)
        self.press("Email me a sign-in link")
        self.arrive("staff-check-email", "Check your email")

        deadline = time.monotonic() + EMAIL_TIMEOUT_S
        while not any("Sign in" in e["subject"] and e["to"] == self.email
                      for e in self._outbox()):
            assert time.monotonic() < deadline, "no sign-in email in the outbox"
            time.sleep(0.1)
        self.page.goto(f"{self.base_url}/dev/outbox")
        card = self.page.locator(".nhsuk-card").filter(
            has=self.page.get_by_role("heading", name=re.compile("Sign in"))).last
        card.get_by_role("link", name=re.compile(r"\/staff\/sign-in\/")).click()
        self.arrive("staff-confirm", "Sign in to the staff console")
        self.press("Sign in")
        self.arrive("staff-worklist", "Referrals")
        # Every referral, each row naming the person and where the referral is.
        self.page.get_by_label("Show", exact=True).select_option("all:")
        self.press("Show")
        self.arrive("staff-worklist-all", "Referrals")
        row = self.page.get_by_role("row").filter(has_text=self.reference)
        expect(row.get_by_role("link", name="Alex Morgan", exact=True)).to_be_visible()

        self.page.get_by_label("Find a referral", exact=True).fill(self.reference.lower())
        self.press("Find")
        self.arrive("staff-case", self.reference)
        note = "Phoned Sam: the pool opens in May."
        self.page.get_by_label("Add a note to the history", exact=True).fill(note)
        self.press("Add the note")
        self.arrive("staff-case-note-added", self.reference)
        expect(self.page.get_by_text("Your note has been added to the history.")).to_be_visible()
        expect(self.page.get_by_text(note)).to_be_visible()

        self.page.get_by_role("link", name="Reports", exact=True).click()
        self.arrive("staff-reports", "Reports")
        expect(self.page.locator("svg.phb-chart").first).to_be_visible()

    def _outbox(self) -> list[dict[str, Any]]:
        response = self.page.request.get(f"{self.base_url}/dev/outbox.json")
        assert response.ok, response.status
        emails: list[dict[str, Any]] = json.loads(response.text())
        return emails
