"""Typed text made one form and checked for what cannot be seen, and addresses made ones SES
can send to: the rules of chalicelib/domain/text.py and `identity.sendable_address`."""

from __future__ import annotations

import pytest

from chalicelib.domain import text
from chalicelib.domain.identity import sendable_address


def test_text_is_kept_in_nfc() -> None:
    assert text.clean("Rene\u0301e", multi_line=False) == "Ren\u00e9e"


def test_every_line_break_is_kept_as_a_newline_in_text_of_several_lines() -> None:
    assert text.clean("a\r\nb\rc\u2028d\u2029e\tf", multi_line=True) == "a\nb\nc\nd\ne\tf"


@pytest.mark.parametrize("line_break", ["\n", "\r\n", "\r", "\u2028", "\u2029"])
def test_a_line_of_text_takes_no_line_break(line_break: str) -> None:
    with pytest.raises(text.Refused) as refused:
        text.clean(f"a{line_break}b", multi_line=False)
    assert refused.value.message == text.SINGLE_LINE


@pytest.mark.parametrize("char", [
    "\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9f",  # Cc
    "\u00ad", "\u061c", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f",  # Cf
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2060", "\u2066", "\u2067", "\u2068",
    "\u2069", "\ufeff", "\U000e0001",
    "\u3164",  # a Hangul filler: a letter to Unicode that shows as nothing
])
@pytest.mark.parametrize("multi_line", [False, True])
def test_characters_nobody_can_see_are_refused(char: str, multi_line: bool) -> None:
    with pytest.raises(text.Refused) as refused:
        text.clean(f"a{char}b", multi_line=multi_line)
    assert (refused.value.code, refused.value.message) == ("control_characters", text.INVISIBLE)


def test_a_tab_is_only_for_text_of_several_lines() -> None:
    assert text.clean("a\tb", multi_line=True) == "a\tb"
    with pytest.raises(text.Refused):
        text.clean("a\tb", multi_line=False)


@pytest.mark.parametrize("name", ["Zoë", "Ó Briain", "Nguyễn", "李", "أحمد", "X Æ A-12",
                                  "Mary-Jane", "d'Arcy", "Ng\u00a0Wei", "\u2714\ufe0f Jo"])
def test_names_of_any_script_are_names(name: str) -> None:
    assert text.clean_name(name) == name


@pytest.mark.parametrize("name", ["---", "123", ".", "\u0301", "\u2800", "😀"])
def test_a_name_needs_a_letter(name: str) -> None:
    with pytest.raises(text.Refused) as refused:
        text.clean_name(name)
    assert (refused.value.code, refused.value.message) == ("no_letter", text.NO_LETTER)


@pytest.mark.parametrize(("typed", "kept"), [
    ("Sam.Okafor@NHS.net", "Sam.Okafor@nhs.net"),
    ("jo@exämple.com", "jo@xn--exmple-cua.com"),
    ("jo@xn--exmple-cua.com", "jo@xn--exmple-cua.com"),
    ("Jo@exa\u0301mple.com", "Jo@xn--exmple-qta.com"),
])
def test_an_address_is_kept_as_ses_sends_to_it(typed: str, kept: str) -> None:
    assert sendable_address(typed) == kept


@pytest.mark.parametrize(("typed", "code"), [
    ("ñoño@exämple.com", "email_ascii"), ("ñoño@nhs.net", "email_ascii"),
    ("jo\u200b@nhs.net", "control_characters"), ("jo@nhs.net\u202e", "control_characters"),
    ("not an address", "email"), ("jo@", "email"), ("@nhs.net", "email"),
])
def test_an_address_ses_cannot_send_to_is_refused(typed: str, code: str) -> None:
    with pytest.raises(text.Refused) as refused:
        sendable_address(typed)
    assert refused.value.code == code
