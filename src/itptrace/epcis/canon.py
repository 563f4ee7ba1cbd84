"""Value and key canonicalisation for the CBV 2.0 EPCIS event hash ID.

The numbered rules cited below are those of the CBV 2.0 section "EPCIS Event
Hash ID", as published with the GS1 reference implementation
(github.com/RalphTro/epcis-event-hash-generator, README "Algorithm").
Everything here is pure and deterministic: the same input always yields the
same canonical text, whichever syntax (XML, JSON-LD) the event came in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from itptrace.gs1.digital_link import to_canonical_dl

CBV = "https://ref.gs1.org/cbv/"
GS1_VOC = "https://gs1.org/voc/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"

# Prefixes the EPCIS 2.0 JSON-LD context defines; rule 15 requires expanding at
# least gs1/epcis/cbv.  A document's own @context entries override these.
DEFAULT_PREFIXES: Mapping[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": CBV,
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": GS1_VOC,
    "rdfs": RDFS,
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
}

# Rule 14: URN-based CBV vocabulary → CBV Web URI.
_CBV_URNS = {
    "urn:epcglobal:cbv:bizstep:": CBV + "BizStep-",
    "urn:epcglobal:cbv:disp:": CBV + "Disp-",
    "urn:epcglobal:cbv:btt:": CBV + "BTT-",
    "urn:epcglobal:cbv:sdt:": CBV + "SDT-",
    "urn:epcglobal:cbv:er:": CBV + "ER-",
}

_TIMESTAMP = re.compile(
    r"(\d{4,})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def normalise_timestamp(text: str) -> str:
    """Rules 8–9: UTC, 'Z', exactly three fractional digits.

    More than three fractional digits are rounded half-up on the fourth digit
    (``…03.1415Z`` → ``…03.142Z``), carrying into the seconds if need be.  A
    timestamp without an offset is read as UTC (EPCIS requires an offset; this
    keeps the result independent of the machine's zone).  Text that is not an
    xsd:dateTime is returned unchanged.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return text
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = (match[7] or "").ljust(4, "0")
    millis = int(fraction[:3]) + (1 if fraction[3] >= "5" else 0)
    zone = UTC
    if match[9]:
        offset = timedelta(hours=int(match[10]), minutes=int(match[11]))
        zone = timezone(-offset if match[9] == "-" else offset)
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return text
    moment = (moment + timedelta(milliseconds=millis)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def normalise_number(text: str) -> str | None:
    """Rules 6–7: a decimal number without trailing zeros, or ``None``.

    Exact decimal arithmetic is used (no binary floats), so ``452.0`` → ``452``,
    ``0.10`` → ``0.1`` and long digit strings keep every digit.  Exponents are
    written out in plain notation (``1E+3`` → ``1000``).
    """
    if not _DECIMAL.fullmatch(text):
        return None
    number = Decimal(text)
    if number.is_zero():
        return "0"
    return format(number.normalize(), "f")


def expand_curie(text: str, prefixes: Mapping[str, str]) -> str:
    """Rule 15: ``gs1:Temperature`` → ``https://gs1.org/voc/Temperature``.

    ``prefix://…`` is an absolute IRI, never a compact one (JSON-LD 1.1, "Compact IRIs").
    """
    prefix, colon, suffix = text.partition(":")
    if colon and prefix in prefixes and not suffix.startswith("//"):
        return prefixes[prefix] + suffix
    return text


def expand_key(key: str, prefixes: Mapping[str, str]) -> str:
    """Rules 19–20: an extension key as ``{namespace}localName``."""
    prefix, colon, local = key.partition(":")
    if colon and prefix in prefixes and not local.startswith("//"):
        return "{" + prefixes[prefix] + "}" + local
    return key


def scalar_text(value: Any) -> str | None:
    """The lexical form of a JSON scalar; ``None`` for null and containers.

    Booleans are written as in XML (``true``/``false``) so that both syntaxes
    of the same event agree; JSON numbers go through :func:`normalise_number`.
    """
    if value is None or isinstance(value, Mapping | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return normalise_number(repr(value)) or repr(value)
    return str(value)


def canonical_value(
    value: Any,
    prefixes: Mapping[str, str],
    *,
    vocabulary: str | None = None,
    timestamp: bool = False,
) -> str:
    """The canonical text of one field value ('' if it is empty or absent).

    ``vocabulary`` is the Web URI stem for fields whose JSON-LD form is a bare
    CBV/GS1 term (rule 16: ``shipping`` → ``…/cbv/BizStep-shipping``).  A bare
    term is a value without a colon: the EPCIS 2.0 JSON schema allows only the
    standard terms or URIs in these fields, so no other value is colon-free.
    """
    text = scalar_text(value)
    if text is None:
        return ""
    text = text.strip()  # rule 5
    if not text:
        return ""
    if timestamp:
        return normalise_timestamp(text)
    if vocabulary is not None and ":" not in text:
        return vocabulary + text
    text = expand_curie(text, prefixes)
    for urn, web_uri in _CBV_URNS.items():
        if text.startswith(urn):
            return web_uri + text[len(urn) :]
    number = normalise_number(text)
    if number is not None:
        return number
    return to_canonical_dl(text) or text
