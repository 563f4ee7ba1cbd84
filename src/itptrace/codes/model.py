"""Identifier formats of the ID issuer (EU 2018/574 Art. 8 and 11 as the reference).

Unit UI      = issuer code + serial + product code; the manufacturer appends a YYMMDDhh time
               stamp at application, and the whole stays within 50 characters.
Aggregated UI = issuer code + serial + facility id, within 100 characters (operators may use
               their own SSCC, GS1 AI 00, instead).
Serials come from the operating system's CSPRNG over [0-9A-Za-z]; the issuer keeps the chance
of guessing a valid serial (issued / code space) under a limit, 1/10,000 by default.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from itptrace.errors import DomainError

SERIAL_ALPHABET = string.digits + string.ascii_letters
PRODUCT_CODE_ALPHABET = string.digits + string.ascii_uppercase
PRODUCT_CODE_LENGTH = 8
UNIT_UI_MAX = 50
AGGREGATE_UI_MAX = 100
TIMESTAMP_LENGTH = 8

# Bytes below 248 map evenly onto the 62 serial characters (248 = 4 x 62); the rest are
# dropped, so every character is equally likely (rejection sampling, no modulo bias).
_ACCEPTED = 4 * len(SERIAL_ALPHABET)
_TO_ALPHABET = bytes(SERIAL_ALPHABET[b % len(SERIAL_ALPHABET)].encode()[0] for b in range(256))
_REJECTED = bytes(range(_ACCEPTED, 256))


class Profile(StrEnum):
    SIGNED = "signed"  # Ed25519 tag, verifiable offline with the published public key
    EU = "eu"  # the plain EU string, no tag: online verification only


class DeactivationReason(StrEnum):
    DESTROYED = "destroyed"
    STOLEN = "stolen"
    LOST = "lost"
    RECALLED = "recalled"
    EXPIRED = "expired"
    DAMAGED = "damaged"


class IssuerError(DomainError):
    """A request the issuer refuses."""

    code = "issuer_refused"


def random_serials(count: int, length: int) -> list[str]:
    """``count`` serials of ``length`` characters from the CSPRNG (may repeat; callers dedupe)."""
    needed = count * length
    chars = b""
    while len(chars) < needed:
        chunk = os.urandom(int((needed - len(chars)) * 1.04) + 64)
        chars += chunk.translate(_TO_ALPHABET, _REJECTED)
    text = chars[:needed].decode("ascii")
    return [text[i : i + length] for i in range(0, needed, length)]


def code_space(serial_length: int) -> int:
    return int(len(SERIAL_ALPHABET) ** serial_length)


def guess_probability(issued: int, serial_length: int) -> float:
    """The chance that one random serial of this length is an issued one."""
    return issued / code_space(serial_length)


def check_guess_limit(
    already_issued: int, requested: int, serial_length: int, limit: float
) -> None:
    """Refuse a request that would push the guessing probability above ``limit``."""
    after = guess_probability(already_issued + requested, serial_length)
    if after > limit:
        allowed = max(0, int(limit * code_space(serial_length)) - already_issued)
        raise IssuerError(
            f"issuing {requested} more codes would make a random serial valid with probability "
            f"{after:.3g}, above the limit {limit:.3g}; at most {allowed} more can be issued",
            code="guess_probability_exceeded",
        )


def unit_ui(issuer_code: str, serial: str, product_code: str) -> str:
    ui = issuer_code + serial + product_code
    if len(ui) + TIMESTAMP_LENGTH > UNIT_UI_MAX:
        raise IssuerError(f"unit UI {ui} would exceed {UNIT_UI_MAX} characters with its time stamp")
    return ui


def aggregate_ui(issuer_code: str, serial: str, facility_id: str) -> str:
    aui = issuer_code + serial + facility_id
    if len(aui) + TIMESTAMP_LENGTH > AGGREGATE_UI_MAX:
        raise IssuerError(f"aggregated UI {aui} would exceed {AGGREGATE_UI_MAX} characters")
    return aui


def signed_message(ui: str, gtin: str | None) -> bytes:
    """The exact bytes the issuer signs: a domain label, the UI and the product GTIN.

    The application time stamp is not signed: the manufacturer adds it after issuance, so
    it is checked online against the application event instead.
    """
    return f"ITPTRACE-UI/1\n{ui}\n{gtin or ''}".encode("ascii")


@dataclass(frozen=True)
class UiLayout:
    """How a Party's unit UIs split into their parts; published with the public keys."""

    issuer_code: str
    serial_length: int
    product_code_length: int = PRODUCT_CODE_LENGTH

    @property
    def unit_length(self) -> int:
        return len(self.issuer_code) + self.serial_length + self.product_code_length

    def split_unit(self, ui: str) -> tuple[str, str, str] | None:
        """(issuer code, serial, product code), or None when ``ui`` is not of this layout."""
        if len(ui) != self.unit_length or not ui.startswith(self.issuer_code):
            return None
        start = len(self.issuer_code)
        serial = ui[start : start + self.serial_length]
        product = ui[start + self.serial_length :]
        if any(c not in SERIAL_ALPHABET for c in serial):
            return None
        if any(c not in PRODUCT_CODE_ALPHABET for c in product):
            return None
        return self.issuer_code, serial, product


def check_application_timestamp(stamp: str) -> datetime:
    """Parse a YYMMDDhh application time stamp; refuse anything that is not a real hour."""
    if len(stamp) != TIMESTAMP_LENGTH or not stamp.isdigit():
        raise IssuerError(f"time stamp {stamp!r} must be 8 digits YYMMDDhh")
    try:
        return datetime.strptime(stamp, "%y%m%d%H")
    except ValueError:
        raise IssuerError(f"time stamp {stamp!r} is not a valid date and hour") from None


def add_working_days(start: datetime, days: int) -> datetime:
    """``start`` moved forward by ``days`` working days (Saturday and Sunday skipped)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current
