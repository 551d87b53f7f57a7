"""The identifiers people type: NHS numbers, postcodes and the service's own references."""

from __future__ import annotations

import hashlib
import re
import secrets


def normalise_nhs_number(value: str) -> str:
    """Strip spaces and hyphens; the caller validates the result."""
    return re.sub(r"[\s-]", "", value)


def nhs_number_is_valid(digits: str) -> bool:
    """Modulus 11: weights 10..2 on the first nine digits; 11 - remainder; 11 -> 0; 10 invalid."""
    if not re.fullmatch(r"[0-9]{10}", digits):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return False
    return check == int(digits[9])


def format_nhs_number(digits: str) -> str:
    """`9434765919` -> `943 476 5919`."""
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


# Outward code + inward code, per the Royal Mail format (including GIR 0AA).
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?|GIR)([0-9][A-Z]{2})$")


def normalise_postcode(value: str) -> str | None:
    """`e81dy`, ` E8  1DY ` -> `E8 1DY`; None when it is not a UK postcode."""
    compact = re.sub(r"\s+", "", value).upper()
    match = _POSTCODE.match(compact)
    if not match:
        return None
    return f"{match.group(1)} {match.group(2)}"


# No 0/O, 1/I/L, and no U (avoids accidental words): easy to read aloud and retype.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "PHB"


def new_reference() -> str:
    """`PHB-7K3M-QX9R`: 30^8 ≈ 6.6e11 values; uniqueness is enforced by a conditional write."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{REFERENCE_PREFIX}-{chars[:4]}-{chars[4:]}"


def parse_reference(value: str) -> str | None:
    """Accept what people retype: any case, spaces or no dashes, and O/I/L for 0/1 mistakes."""
    compact = re.sub(r"[\s-]", "", value).upper()
    if compact.startswith(REFERENCE_PREFIX):
        compact = compact[len(REFERENCE_PREFIX) :]
    if len(compact) != 8 or any(c not in REFERENCE_ALPHABET for c in compact):
        return None
    return f"{REFERENCE_PREFIX}-{compact[:4]}-{compact[4:]}"


def sha256(text: str | bytes) -> str:
    """The hex SHA-256 by which secrets (link ids, session tokens, idempotency keys) are stored."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()
