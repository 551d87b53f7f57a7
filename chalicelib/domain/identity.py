"""Who someone is, by their email address: one identity however it is typed.

An address is kept and shown as typed, but every comparison that decides who someone is
(a link's recipient, a step's recipients, the referrer, the staff list) ignores case in the
whole address. Independence of an approver from the referrer also ignores a `+tag` (one
mailbox), and notices the same name at another NHS domain (NHSmail and a trust's addresses are
often the same person's).
"""

from __future__ import annotations

from collections.abc import Iterable

NHS_DOMAINS = ("nhs.net", "nhs.uk")


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
