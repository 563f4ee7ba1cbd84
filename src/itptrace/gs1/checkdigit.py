"""GS1 check digits for GTINs and SSCCs.

Every GS1 identification key in a fixed-length numeric form ends in a mod-10 check digit.
The body digits are weighted 3, 1, 3, 1, ... counting from the rightmost body digit (the
one just left of the check digit); the check digit brings the weighted sum up to the next
multiple of ten.

Only ASCII digits count as digits here: ``str.isdigit`` also accepts characters such as
``"²"`` or Arabic-Indic digits, which no barcode carries in an AI (01) or (00) field.

This module is pure and imports only the standard library.
"""

from __future__ import annotations

__all__ = [
    "GTIN_LENGTHS",
    "gs1_check_digit",
    "is_valid_gtin",
    "is_valid_sscc",
    "normalize_gtin",
]

#: The lengths a GTIN may have: GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN-13) and GTIN-14.
GTIN_LENGTHS: frozenset[int] = frozenset({8, 12, 13, 14})

_SSCC_LENGTH = 18
_ASCII_DIGITS = frozenset("0123456789")


def _is_ascii_digits(value: str) -> bool:
    return bool(value) and all(ch in _ASCII_DIGITS for ch in value)


def gs1_check_digit(body: str) -> str:
    """Return the GS1 mod-10 check digit for ``body`` (the key without its check digit).

    Raises ``ValueError`` if ``body`` is empty or holds anything other than ASCII digits.
    """
    if not isinstance(body, str) or not _is_ascii_digits(body):
        raise ValueError("check digit body must be a non-empty string of digits 0-9")
    total = 0
    # Weight 3 goes to the digit nearest the check digit, whatever the key's length;
    # that is what lets a GTIN-13 and its zero-padded GTIN-14 share one check digit.
    for position, char in enumerate(reversed(body)):
        total += int(char) * (3 if position % 2 == 0 else 1)
    return str((10 - total % 10) % 10)


def _has_valid_check_digit(key: str) -> bool:
    return gs1_check_digit(key[:-1]) == key[-1]


def is_valid_gtin(gtin: str) -> bool:
    """Tell whether ``gtin`` is a GTIN-8, -12, -13 or -14 with a correct check digit.

    No whitespace, separators or padding other than leading zeros is tolerated.
    """
    return (
        isinstance(gtin, str)
        and len(gtin) in GTIN_LENGTHS
        and _is_ascii_digits(gtin)
        and _has_valid_check_digit(gtin)
    )


def normalize_gtin(gtin: str) -> str:
    """Return ``gtin`` as 14 digits, left-padded with zeros, after checking it.

    Raises ``ValueError`` with one of two messages:
    ``"GTIN must be 8, 12, 13 or 14 digits"`` or
    ``"GTIN check digit is wrong: expected X"`` (X being the correct digit).
    """
    if not isinstance(gtin, str) or len(gtin) not in GTIN_LENGTHS or not _is_ascii_digits(gtin):
        raise ValueError("GTIN must be 8, 12, 13 or 14 digits")
    expected = gs1_check_digit(gtin[:-1])
    if gtin[-1] != expected:
        raise ValueError(f"GTIN check digit is wrong: expected {expected}")
    return gtin.zfill(14)


def is_valid_sscc(sscc: str) -> bool:
    """Tell whether ``sscc`` is an 18-digit Serial Shipping Container Code (AI 00)."""
    return (
        isinstance(sscc, str)
        and len(sscc) == _SSCC_LENGTH
        and _is_ascii_digits(sscc)
        and _has_valid_check_digit(sscc)
    )
