"""Country and currency codes, checked against the maintained ISO tables in pycountry."""

from __future__ import annotations

import pycountry

from itptrace.errors import DomainError


class UnknownCountry(DomainError):
    code = "unknown_country"


def checked_country(code: str) -> str:
    """The upper-case ISO 3166-1 alpha-2 code, or UnknownCountry naming the bad value."""
    value = code.strip().upper()
    if len(value) != 2 or pycountry.countries.get(alpha_2=value) is None:
        raise UnknownCountry(
            f"unknown country {code!r}: expected an ISO 3166-1 alpha-2 code such as KE",
            subject=code,
        )
    return value
