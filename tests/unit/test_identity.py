"""Who someone is by their email address, and one person across referrals: no AWS involved."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.domain import identity, person, text


@pytest.mark.parametrize("typed", ["Priya.Shah@NHS.net", "priya.shah@nhs.net",
                                   " PRIYA.SHAH@nhs.NET "])
def test_an_address_is_one_identity_however_it_is_typed(typed: str) -> None:
    assert identity.same_address(typed, "priya.shah@nhs.net")
    assert identity.find_address(typed, ["jo@nhs.net", "Priya.Shah@nhs.net"]) == \
        "Priya.Shah@nhs.net"
    assert identity.find_address(typed, ["jo@nhs.net"]) is None


@pytest.mark.parametrize("approver, same", [
    ("sam.okafor+manager@nhs.net", True), ("Sam.Okafor@NHS.net", True),
    ("sam.okafor2@nhs.net", False), ("sam.okafor@elft.nhs.uk", False),
])
def test_a_plus_tag_is_the_same_mailbox(approver: str, same: bool) -> None:
    assert identity.same_mailbox(approver, "sam.okafor@nhs.net") is same


@pytest.mark.parametrize("approver, flagged", [
    ("sam.okafor@elft.nhs.uk", True), ("Sam.Okafor+x@nelft.nhs.uk", True),
    ("sam.okafor@nhs.net", False),  # the same mailbox: refused outright, not flagged
    ("sam.okafor@gmail.com", False), ("jo.patel@elft.nhs.uk", False),
])
def test_the_same_name_at_another_nhs_domain_is_noticed(approver: str, flagged: bool) -> None:
    assert identity.same_name_at_another_nhs_domain(approver, "sam.okafor@nhs.net") is flagged


def test_the_referrer_is_never_their_own_approver() -> None:
    panel = ["ann@nhs.net", "Sam.Okafor+panel@NHS.net", "bob@nhs.net"]
    assert identity.independent_of(panel, "sam.okafor@nhs.net") == ["ann@nhs.net",
                                                                     "bob@nhs.net"]


TODAY = date(2026, 12, 1)


def other(reference: str = "PHB-2222-2222", status: str = "funds_released",
          approved_days_ago: int | None = 10, pence: int = 20000, released: int = 0,
          first: str = "Alex", last: str = "Morgan", dob: str = "1985-05-01") -> person.OtherPHB:
    approved = None if approved_days_ago is None else (
        TODAY - timedelta(days=approved_days_ago)).isoformat() + "T10:00:00.000Z"
    return person.OtherPHB(reference, status, "2026-01-01T09:00:00.000Z", first, last, dob,
                           requested_pence=pence, approved_pence=pence if approved else None,
                           approved_at=approved, released_pence=released, ended_at=None)


def basis(*others: person.OtherPHB, window: int = 365) -> person.Basis:
    return person.basis(20000, list(others), "Alex", "Morgan", "1985-05-01", TODAY, window)


def test_the_person_total_counts_what_was_approved_within_the_window() -> None:
    assert basis(other()).total_pence == 40000
    assert basis(other(approved_days_ago=365)).total_pence == 40000  # the window's last day
    assert basis(other(approved_days_ago=366)).total_pence == 20000  # the day after
    assert basis(other(approved_days_ago=366), window=366).total_pence == 40000


def test_a_request_still_in_sign_off_counts_what_it_asks_for() -> None:
    pending = other(status="awaiting_sign_off", approved_days_ago=None, pence=15000)
    assert basis(pending).total_pence == 35000
    assert not basis(pending).counted[0].approved


def test_a_phb_that_ended_unpaid_counts_only_what_was_released() -> None:
    assert basis(other(status="withdrawn")).total_pence == 20000
    assert basis(other(status="withdrawn", released=5000)).total_pence == 25000
    assert basis(other(status="rejected", approved_days_ago=None)).total_pence == 20000


def test_another_name_or_date_of_birth_is_not_counted_but_is_a_possible_mismatch() -> None:
    for stranger in (other(first="Alexa"), other(dob="1985-05-02"), other(last="Morgans")):
        assert basis(stranger).total_pence == 20000
        assert person.mismatches([stranger], "Alex", "Morgan", "1985-05-01") == [stranger]
    # Case and spacing are not another name.
    same = other(first=" alex ", last="MORGAN")
    assert basis(same).total_pence == 40000
    assert person.mismatches([same], "Alex", "Morgan", "1985-05-01") == []


def test_the_basis_says_why_in_words() -> None:
    words = basis(other(approved_days_ago=28)).words("the approving manager")
    assert words == "£200 now + £200 approved on 3 Nov 2026 = £400: the approving manager " \
                    "signs off"
    assert basis().words("the referrer") == "£200: the referrer signs off"


# --- the staff list ---------------------------------------------------------------------------


def test_a_staff_list_of_named_people_parses_each_to_its_name_and_address() -> None:
    listed = ('Jo Adeyemi <jo.adeyemi@example.org>, "Clarke, Sam" <Sam.Clarke@EXAMPLE.org>,'
              ' bare@example.org')
    assert identity.parse_staff_list(listed) == (
        identity.StaffMember("jo.adeyemi@example.org", "Jo Adeyemi"),
        # The address as every address is kept: its domain in lower case.
        identity.StaffMember("Sam.Clarke@example.org", "Clarke, Sam"),
        # A bare address (an existing stack's list) is still a member, shown as the address.
        identity.StaffMember("bare@example.org", ""),
    )
    assert [m.shown for m in identity.parse_staff_list(listed)] == [
        "Jo Adeyemi", "Clarke, Sam", "bare@example.org"]


def test_a_listed_address_matches_however_either_is_typed() -> None:
    from chalicelib.config import Settings
    from chalicelib.staff.sessions import staff_member

    settings = Settings(stage="prod", staff_emails=identity.parse_staff_list(
        "Jo Adeyemi <Jo.Adeyemi@Example.org>"))
    for typed in ("jo.adeyemi@example.org", "JO.ADEYEMI@EXAMPLE.ORG", " Jo.Adeyemi@example.org"):
        assert staff_member(typed, settings) == identity.StaffMember(
            "Jo.Adeyemi@example.org", "Jo Adeyemi")
    assert staff_member("jo.adeyemi+x@example.org", settings) is None


@pytest.mark.parametrize("entry", [
    "Jo Adeyemi jo.adeyemi@example.org",  # no angle brackets
    "Jo Adeyemi <jo.adeyemi@example>",  # not an address mail can reach
    "Jo Adeyemi <jo.adeyemi@example.org> <sam@example.org>",
    "Jo Adeyemi",
    "Jo\u200b Adeyemi <jo.adeyemi@example.org>",  # an invisible character in the name
    "1234 <jo.adeyemi@example.org>",  # no name
    "Jo Adeyemi <jo.adeyemi@example.org>, JO.ADEYEMI@example.org",  # one address twice
])
def test_a_bad_entry_stops_the_settings_naming_it(entry: str) -> None:
    from chalicelib.config import settings_from_environ

    listed = f"Kiran Shah <kiran.shah@example.org>, {entry}"
    with pytest.raises(RuntimeError) as refused:
        settings_from_environ({"PHB_STAGE": "prod", "PHB_STAFF_EMAILS": listed})
    message = str(refused.value)
    assert message.startswith("Invalid configuration (PHB_STAFF_EMAILS): ")
    named = entry.rpartition(", ")[2] if "twice" in message else entry
    assert repr(named) in message, message
    assert "kiran.shah" not in message  # the good entry is not the one named


def test_the_staff_list_never_falls_back_to_the_advisors_inbox() -> None:
    from chalicelib.config import LOCAL_STAFF, settings_from_environ

    for stage in ("dev", "prod"):  # CloudFormation passes an unset parameter as ""
        deployed = settings_from_environ({"PHB_STAGE": stage, "PHB_STAFF_EMAILS": ""})
        assert deployed.staff == () and deployed.advisor_emails
    local = settings_from_environ({"PHB_STAGE": "local"})
    assert local.staff == LOCAL_STAFF and len(LOCAL_STAFF) == 2
    assert all(m.name and m.email.endswith("@example.org") for m in LOCAL_STAFF)
    assert not set(local.advisor_emails) & {m.email for m in LOCAL_STAFF}
    # Set and empty: nobody, even locally.
    assert settings_from_environ({"PHB_STAGE": "local", "PHB_STAFF_EMAILS": " , "}).staff == ()


@pytest.mark.parametrize("typed", ["Jo.Adeyemi@Example.org", "sam+phb@nhs.net",
                                   "a.b-c@sub.trust.nhs.uk", "x@y.org"])
def test_the_staff_lists_quick_check_keeps_an_address_as_the_full_one_does(typed: str) -> None:
    """The functions check the staff list's addresses by shape at each cold start; make
    deploy checks them in full: an address both accept is kept the same way by both."""
    assert identity.plain_address(typed) == identity.sendable_address(typed)


@pytest.mark.parametrize("typed", ["jo", "jo@example", "jo@@example.org", "jo@exämple.org",
                                   "j o@example.org", "jo@example..org"])
def test_the_staff_lists_quick_check_refuses_what_is_no_address(typed: str) -> None:
    with pytest.raises(text.Refused):
        identity.plain_address(typed)
