"""The code printed on a pack, as a GS1 element string, and the parser for what scanners send.

Layout, in this order (see docs/code-format.md)::

    (01) GTIN-14 | (8008) YYMMDDhh, if stamped | (91) key id | (92) tag | (235) unique identifier

(235) is always last. zxing-cpp 3.1 drops the FNC1 separator after a (235) field that is
followed by another AI when it encodes a bracketed string in GS1 mode, and the decoded text
then runs the next AI into the identifier. Putting (235) last sidesteps that: the last field
never needs a separator.

This module is pure: it imports the standard library, biip (for GS1 AI tables and splitting
of raw element strings) and the sibling check-digit module.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import string
from dataclasses import dataclass

from biip import BiipException
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_messages import GS1Message

from itptrace.gs1.checkdigit import gs1_check_digit, normalize_gtin

__all__ = [
    "GS",
    "GS1_CSET82",
    "ISO646_INVARIANT",
    "CodePayload",
    "ScanFormatError",
    "is_iso646_invariant",
    "parse_scan",
    "to_element_string",
    "to_raw",
]

#: ASCII Group Separator: stands for FNC1 between fields in a scanner's raw output.
GS = "\x1d"

#: The ISO/IEC 646 invariant characters: the 82 graphic characters every national variant
#: of ISO 646 shares, plus SPACE (83 in all). Left out are the variant positions
#: ``# $ @ [ \\ ] ^ ` { | } ~``.
ISO646_INVARIANT: frozenset[str] = frozenset(
    string.ascii_letters + string.digits + "!\"%&'()*+,-./:;<=>?_ "
)

#: GS1 "character set 82", what alphanumeric AI fields such as (235), (91) and (92) allow:
#: the ISO 646 invariant set without SPACE.
GS1_CSET82: frozenset[str] = ISO646_INVARIANT - {" "}

_BASE64URL = frozenset(string.ascii_letters + string.digits + "-_")
# 64 bytes are 512 bits; 86 base64 characters carry 516, so the last character's four low
# bits must be zero. Only A, Q, g and w qualify; insisting on them keeps one spelling per tag.
_TAG_LAST_CHARS = frozenset("AQgw")
_TAG_LENGTH = 86
_KEY_ID_MAX = 32
_UI_MAX = 28  # the AI (235) field is X..28
_MAX_SCAN_LENGTH = 1024  # a full signed code is about 150 characters

_PACK_AIS = ("01", "8008", "91", "92", "235")
_GS1_SYMBOLOGY_IDS = frozenset({"]d2", "]C1", "]Q3", "]J1"})
_SYMBOLOGY_ID = re.compile(r"\][A-Za-z][0-9]")
_HRI_AI = re.compile(r"\((\d{2,4})\)")
# A scanner set up without symbology identifiers sends an unprefixed raw string; every code
# this system prints begins with AI (01), so "01" + 14 digits marks a raw element string.
_RAW_START = re.compile(r"01\d{14}")
_BIIP_PATTERN_FAILURE = re.compile(r"Failed to match .* with GS1 AI \((\d+)\) pattern")


class ScanFormatError(ValueError):
    """A scanned or typed code cannot be read as a pack code; the message says why."""


def is_iso646_invariant(s: str) -> bool:
    """Tell whether every character of ``s`` is in ``ISO646_INVARIANT`` (space included)."""
    return all(ch in ISO646_INVARIANT for ch in s)


def _is_digits(s: str, length: int) -> bool:
    return len(s) == length and all(ch in string.digits for ch in s)


def _check_ui(ui: str) -> None:
    if not 1 <= len(ui) <= _UI_MAX:
        raise ValueError(f"unique identifier must be 1 to {_UI_MAX} characters (AI 235)")
    if not is_iso646_invariant(ui):
        raise ValueError("unique identifier has characters outside the ISO 646 invariant set")
    if " " in ui:
        raise ValueError("unique identifier must not contain a space")
    # Both would be misread by parse_scan: "<GS>" is a spelled-out separator and "(12)" an
    # AI in the bracketed form. Refusing them keeps every payload readable in every form.
    if "<GS>" in ui or _HRI_AI.search(ui):
        raise ValueError("unique identifier must not contain '<GS>' or an AI such as '(10)'")


def _check_key_id(key_id: str) -> None:
    if not 1 <= len(key_id) <= _KEY_ID_MAX or not set(key_id) <= _BASE64URL:
        raise ValueError(f"key id (AI 91) must be 1 to {_KEY_ID_MAX} base64url characters")


def _check_tag(tag: str) -> None:
    if len(tag) != _TAG_LENGTH or not set(tag) <= _BASE64URL:
        raise ValueError(f"tag (AI 92) must be {_TAG_LENGTH} base64url characters")
    if tag[-1] not in _TAG_LAST_CHARS:
        raise ValueError("tag (AI 92) is not the canonical base64url form of 64 bytes")


def _check_timestamp(timestamp: str) -> None:
    if not _is_digits(timestamp, 8):
        raise ValueError("timestamp (AI 8008) must be YYMMDDhh (8 digits)")
    yy, mm, dd, hh = (int(timestamp[i : i + 2]) for i in range(0, 8, 2))
    try:
        # The code carries no zone: the datetime is built only to check the calendar.
        dt.datetime(2000 + yy, mm, dd, hh)
    except ValueError:
        raise ValueError(f"timestamp (AI 8008) {timestamp} is not a real date and hour") from None


@dataclass(frozen=True)
class CodePayload:
    """What a pack code carries.

    ``gtin`` is stored as 14 digits (a valid GTIN-8/12/13 is padded on construction), or
    None for a bare unique identifier. ``ui`` holds 1-28 GS1 CSET 82 characters (ISO 646
    invariant, no space), never the text ``<GS>`` nor an AI-like ``(dd)``. ``key_id`` is
    1-32 base64url characters, ``tag`` the 86-character unpadded base64url Ed25519
    signature, ``timestamp`` YYMMDDhh. Construction raises ``ValueError`` with a specific
    message when a field breaks these rules.
    """

    gtin: str | None
    ui: str
    key_id: str | None = None
    tag: str | None = None
    timestamp: str | None = None

    def __post_init__(self) -> None:
        if self.gtin is not None:
            # Frozen dataclass: the normalised GTIN has to be set through object.
            object.__setattr__(self, "gtin", normalize_gtin(self.gtin))
        _check_ui(self.ui)
        if self.key_id is not None:
            _check_key_id(self.key_id)
        if self.tag is not None:
            _check_tag(self.tag)
        if self.timestamp is not None:
            _check_timestamp(self.timestamp)


def _fields(p: CodePayload) -> list[tuple[str, str]]:
    if p.gtin is None:
        raise ValueError("a GS1 element string needs a GTIN (AI 01)")
    fields = [("01", p.gtin)]
    if p.timestamp is not None:
        fields.append(("8008", p.timestamp))
    if p.key_id is not None:
        fields.append(("91", p.key_id))
    if p.tag is not None:
        fields.append(("92", p.tag))
    fields.append(("235", p.ui))
    return fields


def to_element_string(p: CodePayload) -> str:
    """Return the bracketed form, e.g. ``(01)05012345678900(91)...(235)ZZT01...``."""
    return "".join(f"({ai}){value}" for ai, value in _fields(p))


def to_raw(p: CodePayload) -> str:
    """Return the unbracketed form a scanner sends, with ``GS`` ending each variable field.

    (01) has a predefined length and needs no separator; (8008) is n8+n..4, so it does. The
    last field, always (235), is never followed by a separator.
    """
    fields = _fields(p)
    parts: list[str] = []
    for index, (ai, value) in enumerate(fields):
        parts.append(ai + value)
        if ai != "01" and index < len(fields) - 1:
            parts.append(GS)
    return "".join(parts)


def _quote(s: str) -> str:
    return repr(s if len(s) <= 40 else s[:40] + "...")


def _split_bracketed(text: str) -> list[tuple[str, str]]:
    pieces = _HRI_AI.split(text)
    # re.split with one group yields [before, ai, value, ai, value, ...].
    if pieces[0] or len(pieces) < 3:
        raise ScanFormatError(
            f"not a GS1 element string: expected (AI)value pairs in {_quote(text)}"
        )
    pairs = list(zip(pieces[1::2], pieces[2::2], strict=True))
    for ai, _ in pairs:
        if not _is_known_ai(ai):
            raise ScanFormatError(f"unknown AI ({ai})")
    return pairs


@functools.lru_cache(maxsize=512)
def _is_known_ai(ai: str) -> bool:
    # biip's lookup scans its whole table; the answer for one AI never changes, so cache it.
    try:
        # extract() matches a prefix ("9999" yields AI 99), so compare the result.
        return bool(GS1ApplicationIdentifier.extract(ai).ai == ai)
    except BiipException:
        return False


def _split_raw(text: str) -> list[tuple[str, str]]:
    try:
        message = GS1Message.parse(text)
    except (BiipException, ValueError) as exc:
        # biip quotes its whole regular expression; name the AI instead when it can be found.
        bad_value = _BIIP_PATTERN_FAILURE.match(str(exc))
        reason = f"malformed AI ({bad_value[1]}) value" if bad_value else str(exc)
        raise ScanFormatError(f"not a GS1 element string: {reason}") from None
    return [(es.ai.ai, es.value) for es in message.element_strings]


def _payload_from_pairs(pairs: list[tuple[str, str]]) -> CodePayload:
    found: dict[str, str] = {}
    for ai, value in pairs:
        if ai not in _PACK_AIS:
            raise ScanFormatError(f"unexpected AI ({ai}) in a pack code")
        if ai in found:
            raise ScanFormatError(f"AI ({ai}) appears more than once")
        found[ai] = value
    if "01" not in found:
        raise ScanFormatError("missing AI (01) GTIN")
    if "235" not in found:
        raise ScanFormatError("missing AI (235) unique identifier")
    gtin = found["01"]
    if not _is_digits(gtin, 14):
        raise ScanFormatError("AI (01) GTIN must be 14 digits")
    expected = gs1_check_digit(gtin[:-1])
    if gtin[-1] != expected:
        raise ScanFormatError(f"AI (01) GTIN check digit is wrong: expected {expected}")
    try:
        return CodePayload(
            gtin=gtin,
            ui=found["235"],
            key_id=found.get("91"),
            tag=found.get("92"),
            timestamp=found.get("8008"),
        )
    except ValueError as exc:
        raise ScanFormatError(str(exc)) from None


def parse_scan(text: str) -> CodePayload:
    """Read a pack code from a scanner or a person.

    Accepted forms, after stripping surrounding whitespace:

    * bracketed: ``(01)05012345678900(235)ZZT01...``, AIs in any order;
    * raw, as a scanner sends it: AIs run together with ``GS`` (``\\x1d``) after variable
      fields, optionally after a GS1 symbology identifier (``]d2``, ``]C1``, ``]Q3``,
      ``]J1``); the separator may also be spelled ``<GS>`` or ``{GS}``. Without an
      identifier or a separator, text starting with ``01`` and 14 digits is read as raw;
    * a bare unique identifier, giving ``CodePayload(gtin=None, ui=...)``.

    A GS1 string must hold (01) and (235), may hold (8008), (91) and (92), and nothing else,
    each at most once. Any failure raises ``ScanFormatError``, and nothing else is raised.
    """
    if not isinstance(text, str):
        raise ScanFormatError("a scan must be text")
    s = text.strip()
    if not s:
        raise ScanFormatError("empty scan")
    if len(s) > _MAX_SCAN_LENGTH:
        raise ScanFormatError(f"scan longer than {_MAX_SCAN_LENGTH} characters")
    gs1_symbology = False
    if s.startswith("]"):
        if not _SYMBOLOGY_ID.match(s):
            raise ScanFormatError(f"malformed symbology identifier in {_quote(s)}")
        gs1_symbology = s[:3] in _GS1_SYMBOLOGY_IDS
        s = s[3:]
    s = s.replace("<GS>", GS).replace("{GS}", GS)
    bad = sorted({ch for ch in s if ch not in ISO646_INVARIANT and ch != GS})
    if bad:
        shown = "".join(bad[:5])
        raise ScanFormatError(f"characters outside the ISO 646 invariant set: {shown!r}")
    if s.startswith("("):
        # Printed HRI lines often space out the fields; no field value may hold a space.
        return _payload_from_pairs(_split_bracketed(s.replace(" ", "")))
    if gs1_symbology or GS in s or _RAW_START.match(s):
        return _payload_from_pairs(_split_raw(s))
    try:
        return CodePayload(gtin=None, ui=s)
    except ValueError as exc:
        raise ScanFormatError(str(exc)) from None
