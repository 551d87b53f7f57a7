"""Who someone is, by their email address: one identity however it is typed.

An address is kept and shown as typed (in the ASCII form SES sends to, its domain in lower
case: `sendable_address`), but every comparison that decides who someone is
(a link's recipient, a step's recipients, the referrer, the staff list) ignores case in the
whole address. Independence of an approver from the referrer also ignores a `+tag` (one
mailbox), and notices the same name at another NHS domain (NHSmail and a trust's addresses are
often the same person's).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from chalicelib.domain import text

NHS_DOMAINS = ("nhs.net", "nhs.uk")
FORMAT = "must be an email address in the correct format, like name@nhs.net"
NOT_ASCII = ("must not have accented or non-English letters before the @: email cannot be "
             "sent to such an address")


def sendable_address(typed: str) -> str:
    """The address typed, as it is kept and emailed: Refused (with the code `email`, or
    `email_ascii` for letters before the @ SES cannot send to) when it is not one.

    SES sends only to ASCII addresses (it has no SMTPUTF8), so email_validator checks it with
    `allow_smtputf8=False`: the part before the @ must be ASCII, and an internationalised domain
    (`exämple.com`) is kept in its ASCII (IDNA, `xn--`) form, which reaches the same mailbox.
    Converting the domain rather than refusing it keeps a person with such an address
    reachable; keeping the ASCII form everywhere means the address shown is the one mail goes
    to (an `xn--` label also gives away a domain made to look like another), and every
    comparison of addresses sees one form.
    """
    # Imported when an address is first checked: email_validator brings idna and dnspython.
    from email_validator import EmailNotValidError, validate_email

    # Invisible characters first: email_validator would call a zero-width space before the @
    # an accented letter.
    cleaned = text.clean(typed, multi_line=False)
    try:
        checked = validate_email(cleaned, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        local = cleaned.rpartition("@")[0]
        raise text.Refused("email" if local.isascii() else "email_ascii",
                           FORMAT if local.isascii() else NOT_ASCII) from None
    if checked.ascii_email is None:  # not without SMTPUTF8, but the type allows it
        raise text.Refused("email_ascii", NOT_ASCII)
    return checked.ascii_email


def address_key(address: str) -> str:
    """The address as compared: trimmed, and without case (`Priya.Shah@NHS.net`)."""
    return address.strip().casefold()


def same_address(first: str, second: str) -> bool:
    return address_key(first) == address_key(second)


def find_address(address: str, among: Iterable[str]) -> str | None:
    """The entry of `among` that is `address` however either is typed; None if none is."""
    wanted = address_key(address)
    return next((known for known in among if address_key(known) == wanted), None)


def _parts(address: str) -> tuple[str, str]:
    local, _, domain = address_key(address).rpartition("@")
    return local.split("+", 1)[0], domain


def mailbox_key(address: str) -> str:
    """The mailbox an address delivers to, as compared: without case or a `+tag` (what a cap
    on emails to one mailbox counts by, so `sam+1@nhs.net`, `sam+2@nhs.net` are one)."""
    local, domain = _parts(address)
    return f"{local}@{domain}"


def same_mailbox(first: str, second: str) -> bool:
    """One mailbox: the same address ignoring case and a `+tag` (`sam+manager@nhs.net`)."""
    return _parts(first) == _parts(second)


def is_nhs_domain(domain: str) -> bool:
    domain = domain.casefold()
    return any(domain == nhs or domain.endswith("." + nhs) for nhs in NHS_DOMAINS)


def same_name_at_another_nhs_domain(first: str, second: str) -> bool:
    """`sam.okafor@nhs.net` and `Sam.Okafor@elft.nhs.uk`: maybe one person, two mailboxes."""
    (local_a, domain_a), (local_b, domain_b) = _parts(first), _parts(second)
    return (local_a == local_b and domain_a != domain_b
            and is_nhs_domain(domain_a) and is_nhs_domain(domain_b))


def independent_of(addresses: Iterable[str], referrer: str) -> list[str]:
    """Who of `addresses` may sign off the referrer's request: never their own mailbox."""
    return [address for address in addresses if not same_mailbox(address, referrer)]


# --- the staff list ---------------------------------------------------------------------------

STAFF_ENTRY = "a name and the person's own address, like Jo Adeyemi <jo.adeyemi@example.org>"
MAX_STAFF_NAME = 100


@dataclass(frozen=True)
class StaffMember:
    """One person on the staff list: the address they sign in with (as `sendable_address` keeps
    it) and the name the console knows them by ("" when the entry is a bare address)."""

    email: str
    name: str = ""

    @property
    def shown(self) -> str:
        """How the console names them: by name, or by the address when the list gives none."""
        return self.name or self.email


def _entries(text: str) -> list[str]:
    """The list's entries: split at each comma outside a quoted name, a comment or the angle
    brackets (`"Clarke, Sam" <sam.clarke@example.org>` is one entry)."""
    entries: list[str] = []
    current: list[str] = []
    quoted, depth, escaped = False, 0, False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char in "(<":
            depth += 1
        elif not quoted and char in ")>":
            depth = max(depth - 1, 0)
        elif char == "," and not quoted and depth == 0:
            entries.append("".join(current))
            current = []
            continue
        current.append(char)
    entries.append("".join(current))
    return [entry.strip() for entry in entries if entry.strip()]


_PLAIN_ADDRESS = re.compile(r"[!-~]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def plain_address(typed: str) -> str:
    """An address of the shape every address has (ASCII, one @, a dotted domain), checked
    without email_validator: the staff list is read at every cold start, and that import
    (with idna and dnspython) costs more than the rest of it. `make deploy` and `make
    preflight` check each address fully (`sendable_address`) before it reaches a stack."""
    address = typed.strip()
    if not _PLAIN_ADDRESS.fullmatch(address) or address.count("@") != 1:
        raise text.Refused("email", FORMAT)
    local, _, domain = address.partition("@")
    return f"{local}@{domain.lower()}"  # kept as sendable_address keeps it


def staff_member_of(entry: str,
                    check_address: Callable[[str], str] = sendable_address) -> StaffMember:
    """One entry of the staff list (`Jo Adeyemi <jo.adeyemi@example.org>`, or a bare address),
    parsed by the standard library's `email.utils.getaddresses` and its address checked by
    `check_address` (as every address is, by default); ValueError saying what is wrong."""
    from email.utils import getaddresses

    shown = f"the entry {entry[:80]!r}"
    not_an_entry = ValueError(f"{shown} is not {STAFF_ENTRY} (a name with a comma in it goes "
                              'in double quotes: "Clarke, Sam" <sam.clarke@example.org>)')
    parsed = getaddresses([entry])
    if len(parsed) != 1 or not parsed[0][1]:
        raise not_an_entry
    name, address = parsed[0]
    try:
        email = check_address(address)
    except text.Refused as refused:
        if not name:  # "Jo Adeyemi jo@…" (no brackets) reads as one address with spaces
            raise not_an_entry from None
        raise ValueError(f"{shown}: its address {refused.message}") from None
    try:
        name = text.clean_name(name) if name.strip() else ""
    except text.Refused as refused:
        raise ValueError(f"{shown}: its name {refused.message}") from None
    if len(name) > MAX_STAFF_NAME:
        raise ValueError(f"{shown}: its name must be {MAX_STAFF_NAME} characters or fewer")
    return StaffMember(email=email, name=" ".join(name.split()))


def parse_staff_list(listed: str, check_address: Callable[[str], str] = sendable_address
                     ) -> tuple[StaffMember, ...]:
    """The staff list as configured: comma-separated entries, each a person's name and their
    own address; ValueError naming the first entry that is not one, or an address listed
    twice (the console names each address one way)."""
    members: list[StaffMember] = []
    for entry in _entries(listed):
        member = staff_member_of(entry, check_address)
        if find_address(member.email, (m.email for m in members)) is not None:
            raise ValueError(f"the entry {entry[:80]!r}: its address {member.email} is listed "
                             "twice")
        members.append(member)
    return tuple(members)
