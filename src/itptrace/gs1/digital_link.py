"""GS1 identifiers → constrained canonical GS1 Digital Link URIs.

Implements rules 17 and 18 of the CBV 2.0 EPCIS event hash ID algorithm
(CBV 2.0, section "EPCIS Event Hash ID"): EPC URIs (``urn:epc:id:``), EPC class
URIs (``urn:epc:class:``) and EPC pattern URIs (``urn:epc:idpat:``) are
converted to the canonical GS1 Digital Link URI, and any GS1 Digital Link URI
is *constrained*: the domain becomes ``https://id.gs1.org``, the query string
is dropped, alphabetic short names become numeric AIs, and only the finest
level of identification is kept (e.g. ``01/…/10/…/21/…`` → ``01/…/21/…``).

The EPC ↔ element-string mapping follows the GS1 EPC Tag Data Standard 2.0
§6 (EPC URI) and §7 (EPC ↔ GS1 element strings).  :func:`to_canonical_dl`
returns ``None`` for anything it does not recognise, so callers keep the
original value unchanged.
"""

from __future__ import annotations

import re
import string
from urllib.parse import unquote

DL_ROOT = "https://id.gs1.org"

# Characters left as they are in a canonical path value.  Everything else is
# percent-encoded (GS1 Digital Link 1.2, Table 7-1).  The apostrophe, ';'
# and '=' stay literal: that is how the golden pre-hash strings (and the GS1
# reference generator) render them, e.g. ``…/235/51qIgY%29%3C%26Jp3%2Aj7'SDB``.
_DL_SAFE = frozenset(string.ascii_letters + string.digits + "-._';=")

# Digital Link alphabetic short names → numeric application identifiers.
_ALIASES = {
    "gtin": "01", "itip": "8006", "cpid": "8010", "gln": "414", "party": "417",
    "gsrnp": "8017", "gsrn": "8018", "gcn": "255", "sscc": "00", "gdti": "253",
    "ginc": "401", "gsin": "402", "grai": "8003", "giai": "8004",
    "cpv": "22", "lot": "10", "ser": "21",
}  # fmt: skip

# Primary keys kept by rule 18, with the syntax their value must have.
_KEY_SYNTAX = {
    "00": r"\d{18}", "01": r"\d{8}|\d{12,14}", "253": r"\d{13}.{0,17}",
    "255": r"\d{13}\d{0,12}", "401": r".{1,30}", "402": r"\d{17}", "414": r"\d{13}",
    "417": r"\d{13}", "8003": r"\d{14}.{0,16}", "8004": r".{1,30}", "8006": r"\d{18}",
    "8010": r"[0-9A-Z#/-]{1,30}", "8017": r"\d{18}", "8018": r"\d{18}",
}  # fmt: skip

# Key qualifiers kept by rule 18, finest first: a serial wins over a lot.
_QUALIFIERS = {"01": ("21", "235", "10"), "8006": ("21", "10"), "414": ("254",), "8010": ("8011",)}

_DL_URI = re.compile(r"^https?://[^/?#]+(?P<path>/[^?#]*)", re.IGNORECASE)
_EPC_URN = re.compile(r"^urn:epc:(?P<kind>id|class|idpat):(?P<scheme>[a-z]+):(?P<body>.+)$", re.I)


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit (GS1 General Specifications §7.9.1)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def dl_encode(raw: str) -> str:
    """Percent-decode ``raw`` (EPC URI escapes) and re-encode it canonically.

    Decoding first makes ``98%22`` (EPC URI) and ``98"`` agree; re-encoding uses
    upper-case hex so that ``%2f`` and ``%2F`` agree too.
    """
    out = []
    for char in unquote(raw):
        if char in _DL_SAFE:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def to_canonical_dl(value: str) -> str | None:
    """The constrained canonical GS1 Digital Link URI for ``value``, or ``None``."""
    if value[:4].lower() == "urn:":
        return _from_epc_urn(value)
    if value[:4].lower() == "http":
        return _from_digital_link(value)
    return None


def _fields(text: str, count: int) -> list[str]:
    """``text`` split at its first ``count - 1`` dots, padded with '' to ``count`` parts."""
    parts = text.split(".", count - 1)
    return parts + [""] * (count - len(parts))


def _gtin(company_prefix: str, item_ref: str) -> str | None:
    """GTIN-14 from an EPC company prefix and indicator+item reference (TDS §7.1)."""
    if not _digits(company_prefix, item_ref, total=13):
        return None
    body = item_ref[:1] + company_prefix + item_ref[1:]
    return body + check_digit(body)


def _with_check(company_prefix: str, ref: str, total: int, lead: str = "") -> str | None:
    """``lead + prefix + ref + check digit`` for the fixed-length keys (GLN, GSIN, …)."""
    body = lead + company_prefix + ref
    if not (_digits(company_prefix, ref, total=total) and body.isdigit()):
        return None
    return body + check_digit(body)


def _digits(company_prefix: str, ref: str, *, total: int) -> bool:
    """EPC URIs carry a 6–12 digit company prefix whose length fixes the split."""
    return (
        6 <= len(company_prefix) <= 12
        and (company_prefix + ref).isdigit()
        and len(company_prefix) + len(ref) == total
    )


def _from_epc_urn(value: str) -> str | None:
    match = _EPC_URN.match(value)
    if match is None:
        return None
    kind, scheme, body = match["kind"].lower(), match["scheme"].lower(), match["body"]
    if kind == "idpat":
        return _from_epc_pattern(scheme, body)
    if kind == "class":
        cp, ir, lot = _fields(body, 3)
        gtin = _gtin(cp, ir) if scheme == "lgtin" and lot else None
        return f"{DL_ROOT}/01/{gtin}/10/{dl_encode(lot)}" if gtin else None
    return _from_epc_id(scheme, body)


def _from_epc_id(scheme: str, body: str) -> str | None:
    """Pure identity EPC URIs, TDS 2.0 §6.3 → element strings, TDS §7."""
    cp, _, rest = body.partition(".")
    ref, _, serial = rest.partition(".")
    if scheme in ("sgtin", "upui"):
        gtin = _gtin(cp, ref)
        ai = "21" if scheme == "sgtin" else "235"
        return f"{DL_ROOT}/01/{gtin}/{ai}/{dl_encode(serial)}" if gtin and serial else None
    if scheme == "itip":
        piece, count, serial = _fields(serial, 3)
        gtin = _gtin(cp, ref)
        if not (gtin and re.fullmatch(r"\d{4}", piece + count) and serial):
            return None
        return f"{DL_ROOT}/8006/{gtin}{piece}{count}/21/{dl_encode(serial)}"
    if scheme == "sscc":
        key = _with_check(cp, rest[1:], 16, lead=rest[:1]) if rest else None
        return f"{DL_ROOT}/00/{key}" if key else None
    if scheme == "sgln":
        gln = _with_check(cp, ref, 12)
        # An extension of "0" means "no extension" (TDS §6.3, SGLN).
        extension = "" if serial in ("", "0") else f"/254/{dl_encode(serial)}"
        return f"{DL_ROOT}/414/{gln}{extension}" if gln else None
    if scheme in ("pgln", "gsrn", "gsrnp", "gsin"):
        ai, total = {"pgln": ("417", 12), "gsrn": ("8018", 17), "gsrnp": ("8017", 17),
                     "gsin": ("402", 16)}[scheme]  # fmt: skip
        key = _with_check(cp, rest, total)
        return f"{DL_ROOT}/{ai}/{key}" if key else None
    if scheme in ("grai", "gdti", "sgcn"):
        ai, lead = {"grai": ("8003", "0"), "gdti": ("253", ""), "sgcn": ("255", "")}[scheme]
        key = _with_check(cp, ref, 12, lead=lead)
        return f"{DL_ROOT}/{ai}/{key}{dl_encode(serial)}" if key else None
    if scheme in ("giai", "ginc"):
        ai = "8004" if scheme == "giai" else "401"
        return f"{DL_ROOT}/{ai}/{cp}{dl_encode(rest)}" if cp.isdigit() and rest else None
    if scheme == "cpi":
        cpr, _, serial = rest.rpartition(".")
        if not (cp.isdigit() and cpr and serial.isdigit()):
            return None
        return f"{DL_ROOT}/8010/{cp}{dl_encode(cpr)}/8011/{serial}"
    return None


def _from_epc_pattern(scheme: str, body: str) -> str | None:
    """Class-level EPC pattern URIs (``….*``) → the class identifier (TDS §8)."""
    head, sep, star = body.rpartition(".")
    if not sep or star != "*":
        return None
    cp, _, ref = head.partition(".")
    if scheme in ("sgtin", "upui"):
        gtin = _gtin(cp, ref)
        return f"{DL_ROOT}/01/{gtin}" if gtin else None
    if scheme == "itip":
        ir, piece, count = _fields(ref, 3)
        gtin = _gtin(cp, ir)
        valid = gtin and re.fullmatch(r"\d{4}", piece + count)
        return f"{DL_ROOT}/8006/{gtin}{piece}{count}" if valid else None
    if scheme in ("grai", "gdti", "sgcn"):
        ai, lead = {"grai": ("8003", "0"), "gdti": ("253", ""), "sgcn": ("255", "")}[scheme]
        key = _with_check(cp, ref, 12, lead=lead)
        return f"{DL_ROOT}/{ai}/{key}" if key else None
    if scheme == "cpi":
        return f"{DL_ROOT}/8010/{cp}{dl_encode(ref)}" if cp.isdigit() and ref else None
    return None


def _from_digital_link(value: str) -> str | None:
    """Constrain a GS1 Digital Link URI (rule 18): root, AIs, finest level only."""
    match = _DL_URI.match(value)
    if match is None:
        return None
    segments = [s for s in match["path"].split("/") if s]
    for index, segment in enumerate(segments[:-1]):
        key = _ALIASES.get(segment.lower(), segment)
        primary = unquote(segments[index + 1])
        # A primary key value starts with digits (company prefix, GTIN, …); this
        # keeps ordinary web URIs whose path merely contains e.g. "/01/" out.
        if key in _KEY_SYNTAX and re.match(r"\d{4}", primary):
            return _constrain(key, primary, segments[index + 2 :])
    return None


def _constrain(key: str, primary: str, rest: list[str]) -> str | None:
    if not re.fullmatch(_KEY_SYNTAX[key], primary):
        return None
    if key == "01":
        primary = primary.zfill(14)  # GTIN-8/12/13 are written as GTIN-14 (DL §4.11)
    qualifiers = {
        _ALIASES.get(ai.lower(), ai): unquote(val)
        for ai, val in zip(rest[::2], rest[1::2], strict=False)
    }
    uri = f"{DL_ROOT}/{key}/{dl_encode(primary)}"
    for qualifier in _QUALIFIERS.get(key, ()):
        if qualifiers.get(qualifier):
            return f"{uri}/{qualifier}/{dl_encode(qualifiers[qualifier])}"
    return uri
