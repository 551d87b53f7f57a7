"""Text that is not what it looks like, at every way in: invisible and control characters are
refused with a field error, names need a letter, text is kept in Unicode NFC, and every email
address is one SES can send to. Through the JSON API and the form, on the action pages and in
the staff console, on the in-memory adapters (chalicelib/domain/text.py says why each rule)."""

from __future__ import annotations

import json
import unicodedata
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.actions import links, pages
from chalicelib.actions.forms import validate
from chalicelib.bootstrap import Services
from chalicelib.domain.referral import load_stored
from chalicelib.staff import correct
from tests.factories import make_referral, with_change
from tests.hostile.test_free_text import TYPED_AT, Typed, csrf_of, form, post_api, sign_in
from tests.http.test_form import VALID, Browser, html_errors
from tests.usecases.drive import emails_to, link_of, submit

INVISIBLE = "must not contain invisible or control characters"
DECOMPOSED = "Rene\u0301e"  # "e" and a combining acute accent: "Renée" as some keyboards type it
COMPOSED = "Ren\u00e9e"
ADVISORS = "phb-advisors@example.org"


def errors_of(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.json_body
    return {e["field"]: e["message"] for e in response.json_body["errors"]}


def stored_answers(svc: Services, response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.json_body
    answers: dict[str, Any] = json.loads(
        svc.store.referrals.get(response.json_body["reference"]).answers)
    return answers


def nothing_stored(svc: Services) -> bool:
    from chalicelib.domain.records import View

    return svc.store.referrals.page(View("all"), 10).rows == []


# --- the JSON API -----------------------------------------------------------------------------


@pytest.mark.parametrize("first_name", ["\u200b", "Al\u200bex", "\ufeffAlex", "Alex\u2060"])
def test_a_zero_width_character_is_no_first_name_through_the_api(
        memory: Services, memory_client: Any, first_name: str) -> None:
    response = post_api(memory_client, with_change(make_referral(), "person.first_name",
                                                   first_name))
    errors = errors_of(response)
    assert list(errors) == ["person.first_name"]
    assert errors["person.first_name"].startswith(f"The person's first name {INVISIBLE}")
    assert nothing_stored(memory)


@pytest.mark.parametrize("override", ["\u202e", "\u202d", "\u202a", "\u2066", "\u2069",
                                      "\u200f"])
def test_a_bidirectional_control_in_an_item_description_is_refused(
        memory: Services, memory_client: Any, override: str) -> None:
    """A right-to-left override would make the sign-off page show other text than was typed
    (`Gym \u202eDCBA` shows as "Gym ABCD")."""
    response = post_api(memory_client, with_change(make_referral(), "items.0.description",
                                                   f"Gym {override}pihsrebmem"))
    errors = errors_of(response)
    assert list(errors) == ["items.0.description"]
    assert INVISIBLE in errors["items.0.description"]
    assert nothing_stored(memory)


@pytest.mark.parametrize("path", ["person.email", "referrer.email", "approving_manager.email"])
def test_an_address_with_letters_ses_cannot_send_to_is_refused(
        memory: Services, memory_client: Any, path: str) -> None:
    address = "ñoño@exämple.com" if path == "person.email" else "ñoño@nhs.net"
    referral = with_change(make_referral(), "approving_manager",
                           {"name": "Jo Patel", "email": "jo.patel@nhs.net"})
    errors = errors_of(post_api(memory_client, with_change(referral, path, address)))
    assert path in errors, errors
    assert "accented or non-English letters before the @" in errors[path]
    assert nothing_stored(memory)


def test_an_internationalised_domain_is_kept_in_the_ascii_form_mail_is_sent_to(
        memory: Services, memory_client: Any) -> None:
    response = post_api(memory_client, with_change(make_referral(), "person.email",
                                                   "Jo@Exämple.com"))
    assert stored_answers(memory, response)["person"]["email"] == "Jo@xn--exmple-cua.com"


@pytest.mark.parametrize("path", ["person.first_name", "person.last_name", "referrer.name",
                                  "approving_manager.name"])
@pytest.mark.parametrize(("name", "words"), [
    ("---", "must contain at least one letter"), ("123", "must contain at least one letter"),
    ("\u0301", "must contain at least one letter"),  # an accent on nothing
    ("\u3164", INVISIBLE),  # a Hangul filler: a letter to Unicode, but it shows as nothing
])
def test_a_name_without_a_letter_is_refused(memory: Services, memory_client: Any, path: str,
                                            name: str, words: str) -> None:
    referral = with_change(make_referral(), "approving_manager",
                           {"name": "Jo Patel", "email": "jo.patel@nhs.net"})
    errors = errors_of(post_api(memory_client, with_change(referral, path, name)))
    assert list(errors) == [path]
    assert words in errors[path], errors
    assert nothing_stored(memory)


def test_names_of_any_script_are_kept(memory: Services, memory_client: Any) -> None:
    referral = with_change(make_referral(), "person.first_name", "Zoë-Ánh")
    referral = with_change(referral, "person.last_name", "O'Brien أحمد 李")
    person = stored_answers(memory, post_api(memory_client, referral))["person"]
    assert (person["first_name"], person["last_name"]) == ("Zoë-Ánh", "O'Brien أحمد 李")


def test_text_is_kept_in_nfc(memory: Services, memory_client: Any) -> None:
    referral = with_change(make_referral(), "person.first_name", DECOMPOSED)
    referral = with_change(referral, "how_phb_helps", f"{DECOMPOSED} swims.")
    answers = stored_answers(memory, post_api(memory_client, referral))
    assert answers["person"]["first_name"] == COMPOSED
    assert answers["how_phb_helps"] == f"{COMPOSED} swims."
    assert unicodedata.is_normalized("NFC", answers["person"]["first_name"])


def test_tabs_and_line_breaks_are_kept_in_long_text_only(memory: Services,
                                                         memory_client: Any) -> None:
    kept = stored_answers(memory, post_api(memory_client, with_change(
        make_referral(), "how_phb_helps", "Swims:\tweekly\r\nWalks:\tdaily\rRests\u2028")))
    # Every kind of line break is kept as one: "\n" (the last one trimmed as white space).
    assert kept["how_phb_helps"] == "Swims:\tweekly\nWalks:\tdaily\nRests"
    for path, text, words in [("person.first_name", "Al\tex", INVISIBLE),
                              ("person.first_name", "Al\nex", "single line"),
                              ("items.0.supplier", "Better\u2028Leisure", "single line"),
                              ("how_phb_helps", "Swims\x0bweekly", INVISIBLE),
                              ("goals.0.goal", "Swim\x07", INVISIBLE)]:
        errors = errors_of(post_api(memory_client, with_change(make_referral(), path, text)))
        assert list(errors) == [path] and words in errors[path], (path, errors)


# --- the form ---------------------------------------------------------------------------------


def test_a_zero_width_first_name_is_refused_on_the_form(memory_client: Any) -> None:
    browser = Browser(memory_client)
    browser.start()
    response = browser.post("/referral/person", {**VALID["person"],
                                                 "person.first_name": "\u200b"})
    assert response.status_code == 422
    assert html_errors(response) == ["person.first_name"]
    assert INVISIBLE in response.body.decode()


def test_an_address_ses_cannot_send_to_is_refused_on_the_form(memory_client: Any) -> None:
    browser = Browser(memory_client)
    browser.start()
    response = browser.post("/referral/person", {**VALID["person"],
                                                 "person.email": "ñoño@exämple.com"})
    assert response.status_code == 422
    assert html_errors(response) == ["person.email"]


def test_the_form_keeps_what_was_typed_in_nfc(memory: Services, memory_client: Any) -> None:
    browser = Browser(memory_client)
    browser.fill_all(person={"person.first_name": DECOMPOSED})
    sent = browser.post("/referral/check", {})
    assert sent.status_code == 303
    reference = sent.headers["Location"].rsplit("/", 1)[1]
    answers = json.loads(memory.store.referrals.get(reference).answers)
    assert answers["person"]["first_name"] == COMPOSED


# --- along the way ----------------------------------------------------------------------------


@pytest.mark.parametrize("where", sorted(TYPED_AT))
@pytest.mark.parametrize("payload", ["No \u202eevil", "No\u200b", "No \x07bell"])
def test_invisible_characters_typed_along_the_way_are_refused(
        memory: Services, memory_client: Any, where: str, payload: str) -> None:
    """Reasons, questions, answers and notes: refused with an error on the field, nothing in
    the history."""
    typed = Typed(memory, memory_client, payload)
    TYPED_AT[where](typed)
    assert not typed.accepted
    assert typed.response.status_code == 422, typed.response.body[:300]
    page = typed.response.body.decode()
    assert f'id="{typed.field}-error"' in page and INVISIBLE in page
    assert all(payload not in json.dumps(e.detail, ensure_ascii=False)
               for e in memory.store.referrals.history(typed.reference))


def test_a_decision_reason_is_kept_in_nfc_with_its_lines(memory: Services,
                                                         memory_client: Any) -> None:
    typed = Typed(memory, memory_client, f"{DECOMPOSED}'s\tplan:\r\nnot yet")
    typed.rejection_reason()
    assert typed.accepted, typed.response.body[:300]
    [rejected] = [e for e in memory.store.referrals.history(typed.reference)
                  if e.what == "rejected"]
    assert rejected.detail["reason"] == f"{COMPOSED}'s\tplan:\nnot yet"


@pytest.mark.parametrize(("action", "posted", "field", "words"), [
    ("review", {"notes": "Bought\u200b"}, "notes", INVISIBLE),
    ("closure", {"notes": "Done \u202e"}, "notes", INVISIBLE),
    ("withdraw", {"reason": "Moved\x00"}, "reason", INVISIBLE),
    ("release", {"reference": "CARD\u20601"}, "reference", INVISIBLE),
    ("release", {"reference": "CARD\n1"}, "reference", "single line"),
    ("agreement", {"name": "Alex\u200dMorgan", "accept": "yes"}, "name", INVISIBLE),
    ("agreement", {"name": "---", "accept": "yes"}, "name", "at least one letter"),
])
def test_each_action_forms_text_is_checked(action: str, posted: dict[str, str], field: str,
                                           words: str) -> None:
    referral = load_stored(json.dumps(make_referral()))
    step = "release" if action == "release" else ""
    errors, _ = validate(action, posted, referral, step)
    by_field = {e.field: e.message for e in errors}
    assert words in by_field[field], by_field
    assert by_field[field][:1].isupper()


def test_the_agreement_is_not_accepted_with_a_name_of_no_letters(memory: Services) -> None:
    reference = submit(memory)
    memory.store.referrals.change(reference, "approved", ("awaiting_sign_off",), "test",
                                  "approved", when={"step": "referrer"})
    link = links.issue(memory.store.links, "agreement", "sam.okafor@nhs.net", 3600,
                       reference=reference, step="agreement")
    refused = pages.act(memory, "agreement", link, urlencode({"name": "...", "accept": "yes"})
                        .encode())
    assert refused.status_code == 422
    assert 'id="name-error"' in refused.body
    assert memory.store.referrals.get(reference).status == "approved"


def test_an_amended_item_is_checked_as_intake_checks_it(memory: Services) -> None:
    reference = submit(memory)
    link = link_of(emails_to(memory, "sam.okafor@nhs.net", "received")[0], "amend")
    item = {"description": "Gym \u202epihsrebmem", "category": "membership",
            "supplier": "Better", "recurrence": "one_off", "cost_pence": "150.00"}
    body = urlencode({"reason": "New price", **{f"items.0.{k}": v for k, v in item.items()}})
    refused = pages.act(memory, "amend", link, body.encode())
    assert refused.status_code == 422
    assert 'href="#items.0.description"' in refused.body
    item["description"] = f"Gym {DECOMPOSED}"
    body = urlencode({"reason": "New price", **{f"items.0.{k}": v for k, v in item.items()}})
    assert pages.act(memory, "amend", link, body.encode()).status_code == 200
    answers = json.loads(memory.store.referrals.get(reference).answers)
    assert answers["items"][0]["description"] == f"Gym {COMPOSED}"


# --- the staff console --------------------------------------------------------------------------


def test_staff_notes_are_checked(memory: Services, memory_client: Any) -> None:
    reference = submit(memory)
    cookie = sign_in(memory, memory_client)
    response = form(memory_client, f"/staff/referrals/{reference}/note",
                    {"csrf": csrf_of(memory_client, cookie), "note": "Called\u200b"}, cookie)
    assert response.status_code == 422
    assert 'id="note-error"' in response.body.decode()
    assert [e.what for e in memory.store.referrals.history(reference)
            if e.what == "note_added"] == []


@pytest.mark.parametrize(("whose", "address", "words"), [
    ("person", "ñoño@exämple.com", "accented or non-English letters"),
    ("referrer", "sam\u200b@nhs.net", INVISIBLE),
    ("manager", "ñoño@nhs.net", "accented or non-English letters"),
])
def test_a_corrected_address_is_one_ses_can_send_to(memory: Services, whose: str,
                                                    address: str, words: str) -> None:
    person = {**make_referral()["person"], "email": "alex.morgan@example.com"}
    reference = submit(memory, person=person,
                       approving_manager={"name": "Jo Patel", "email": "jo.patel@nhs.net"})
    stored = memory.store.referrals.get(reference)
    errors, _, _ = correct.correct(memory, stored, load_stored(stored.answers), ADVISORS,
                                   {"whose": whose, "new_address": address})
    assert [e.field for e in errors] == ["new_address"]
    # The correction form's messages begin "Must ...".
    assert words.lower() in errors[0].message.lower() and errors[0].message[:1].isupper()


def test_a_corrected_person_address_keeps_its_domain_in_ascii(memory: Services) -> None:
    person = {**make_referral()["person"], "email": "alex.morgan@example.com"}
    reference = submit(memory, person=person)
    stored = memory.store.referrals.get(reference)
    errors, _, _ = correct.correct(memory, stored, load_stored(stored.answers), ADVISORS,
                                   {"whose": "person", "new_address": "alex@exämple.com"})
    assert errors == []
    answers = json.loads(memory.store.referrals.get(reference).answers)
    assert answers["person"]["email"] == "alex@xn--exmple-cua.com"


@pytest.mark.parametrize(("address", "words"), [
    ("ñoño@exämple.com", "accented or non-English letters"),
    ("amara.nwosu\u200b@example.org", INVISIBLE),  # a listed address, but for the space
])
def test_the_staff_sign_in_address_is_one_ses_can_send_to(memory: Services, memory_client: Any,
                                                          address: str, words: str) -> None:
    response = form(memory_client, "/staff/sign-in", {"email": address})
    assert response.status_code == 422
    assert 'id="email-error"' in response.body.decode() and words in response.body.decode()
    assert memory.mailer.sent == []  # type: ignore[attr-defined]


def test_a_stored_referral_is_read_as_it_was_kept(memory: Services) -> None:
    """Text taken in before these rules is read back, not refused: the case page must open."""
    old = with_change(make_referral(), "person.first_name", "Al\u200bex")
    old = with_change(old, "person.email", "ñoño@exämple.com")
    referral = load_stored(json.dumps(old))
    assert (referral.person.first_name, referral.person.email) == ("Al\u200bex",
                                                                   "ñoño@exämple.com")
