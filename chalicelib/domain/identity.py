"""Who someone is, by their email address: one identity however it is typed.

An address is kept and shown as typed (in the ASCII form SES sends to, its domain in lower
case: `sendable_address`), but every comparison that decides who someone is
(a link's recipient, a step's recipients, the referrer, the staff list) ignores case in the
whole address. Independence of an approver from the referrer also ignores a `+tag` (one
mailbox), and notices the same name at another NHS domain (NHSmail and a trust's addresses are
often the same person's).
"""

from __future__ import annotations

from collections.abc import Iterable

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
