"""Text people type, kept in one form and refused when it holds what nobody can see.

Every text a person types goes through `clean` (or `clean_name`): a referral's fields, through
the JSON API and the form alike, and the reasons, questions, answers, notes and names typed
along the way.

- It is put in Unicode NFC, so a word is one string however a keyboard composed it ("é" typed
  as "e" and a combining accent is kept as the one character "é"), and comparing, searching and
  showing it agree.
- In text of several lines (goals, how the PHB helps, reasons, notes) every line break is kept
  as "\\n": browsers send "\\r\\n", and "\\r", U+2028 and U+2029 are line breaks too. A tab is
  allowed there. A line of text (a name, a role, an item) takes neither.
- Control characters (Unicode category Cc) and format characters (Cf) are refused: zero-width
  spaces, joiners and non-joiners, the word joiner, the byte order mark, the soft hyphen, and
  the bidirectional embeddings, overrides and isolates. They cannot be seen, so a name of one
  looks empty, two names that look alike differ, and a right-to-left override makes a sign-off
  page show other text than was typed. They are refused rather than removed: silently changing
  what someone typed could change its meaning, and the message says to type it in again.

  Refusing every Cf has a cost: an emoji joined by U+200D (the woman health worker emoji), a
  flag written with tag characters, and the zero-width non-joiner some Persian and Indic
  spellings use are refused too. None is needed in a referral's names or reasons, each word can
  be typed without one, and a rule with exceptions by character would let a joiner through
  into a name, where it is invisible again.
- The Hangul fillers are refused with them: Unicode calls them letters, but they show as
  nothing, so a name of them alone would pass as one.

A person's name must also hold at least one letter (category L*): "---" or "123" is no name.
"""

from __future__ import annotations

import unicodedata

# Letters to Unicode that show as nothing.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
_LINE_BREAKS = ("\r\n", "\r", "\u2028", "\u2029")
_MULTI_LINE_ALLOWED = frozenset("\t\n")

INVISIBLE = ("must not contain invisible or control characters, which copied text can carry: "
             "type it in again")
SINGLE_LINE = "must be a single line of text"
NO_LETTER = "must contain at least one letter"


class Refused(ValueError):
    """Why a text cannot be kept: a `code` for the kind of error and a `message` that ends the
    sentence its field's name begins ("The person's first name" + " must ...")."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def normalise(text: str, *, multi_line: bool) -> str:
    """`text` in NFC; in text of several lines, every line break as "\\n"."""
    text = unicodedata.normalize("NFC", text)
    if multi_line:
        for line_break in _LINE_BREAKS:
            text = text.replace(line_break, "\n")
    return text


def _unseen(char: str, multi_line: bool) -> bool:
    if multi_line and char in _MULTI_LINE_ALLOWED:
        return False
    return unicodedata.category(char) in ("Cc", "Cf") or char in _INVISIBLE_LETTERS


def problem(text: str, *, multi_line: bool) -> Refused | None:
    """Why `text` (normalised) cannot be kept, or None."""
    if not multi_line and any(line_break in text for line_break in ("\n", *_LINE_BREAKS)):
        return Refused("control_characters", SINGLE_LINE)
    if any(_unseen(char, multi_line) for char in text):
        return Refused("control_characters", INVISIBLE)
    return None


def clean(text: str, *, multi_line: bool) -> str:
    """`text` normalised; Refused when it holds a character that cannot be seen (or, in a line
    of text, a line break)."""
    cleaned = normalise(text, multi_line=multi_line)
    refused = problem(cleaned, multi_line=multi_line)
    if refused is not None:
        raise refused
    return cleaned


def has_letter(text: str) -> bool:
    """True when `text` has a letter of any script (Unicode category L*) that can be seen."""
    return any(unicodedata.category(char)[0] == "L" and char not in _INVISIBLE_LETTERS
               for char in text)


def clean_name(text: str) -> str:
    """A person's name: a line of text, `clean`, with at least one letter."""
    cleaned = clean(text, multi_line=False)
    if not has_letter(cleaned):
        raise Refused("no_letter", NO_LETTER)
    return cleaned
