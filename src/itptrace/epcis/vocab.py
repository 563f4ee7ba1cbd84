"""What EPCIS 2.0 / CBV 2.0 define: vocabularies, event fields, namespaces.

EPCIS 2.0 JSON-LD writes standard CBV values as bare words (``"shipping"``);
the same value may also arrive as a CURIE (``cbv:BizStep-shipping``), a CBV
1.x URN (``urn:epcglobal:cbv:bizstep:shipping``) or a CBV Web URI
(``https://ref.gs1.org/cbv/BizStep-shipping``).  :func:`vocabulary_term`
brings all four to the short name.  A bare word that is not a CBV value is
refused (the EPCIS 2.0 JSON schema allows only the standard terms or URIs);
a non-standard value must be a full URI, which is kept (CURIEs expanded).

The field tables give, per event type, the fields the EPCIS 2.0 JSON schema
allows and the *kind* of each value, which
:mod:`itptrace.epcis.validate` checks.  Extension field names
(``example:machine``) are expanded to one absolute IRI, namespace + local
name (``https://ns.example.com/epcis/machine``), so that the same field
compares equal whichever prefix a sender chose.  Also here: the value forms
every module reads (timestamps, URIs) and :func:`canonical_id`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from itptrace.epcis.canon import CBV, DEFAULT_PREFIXES, GS1_VOC, expand_curie
from itptrace.gs1.digital_link import to_canonical_dl

STANDARD_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
ITP_PREFIX = "itp"
ITP_NS = "https://itptrace.org/ns/epcis#"

EVENT_TYPES = (
    "ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent",
    "AssociationEvent",
)  # fmt: skip
ACTIONS = ("ADD", "OBSERVE", "DELETE")

# An absolute IRI (RFC 3987: scheme ":" rest) or a CURIE, which has the same shape.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
# RFC 3339 date-time; EPCIS requires the offset (JSON schema format "date-time").
_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


@dataclass(frozen=True)
class Vocabulary:
    """One CBV 2.0 vocabulary: its standard terms and the URI stems that carry them."""

    name: str
    terms: frozenset[str]
    web_stem: str = ""
    urn_stem: str = ""


BIZ_STEP = Vocabulary(
    "bizStep",
    _words("""
        accepting arriving assembling collecting commissioning consigning
        creating_class_instance cycle_counting decommissioning departing destroying
        disassembling dispensing encoding entering_exiting holding inspecting installing
        killing loading other packing picking receiving removing repackaging repairing
        replacing reserving retail_selling sampling sensor_reporting shipping
        staging_outbound stock_taking stocking storing transporting unloading unpacking
        void_shipping"""),
    CBV + "BizStep-",
    "urn:epcglobal:cbv:bizstep:",
)  # fmt: skip
DISPOSITION = Vocabulary(
    "disposition",
    _words("""
        active available completeness_inferred completeness_verified conformant
        container_closed container_open damaged destroyed dispensed disposed encoded
        expired in_progress in_transit inactive mismatch_class mismatch_instance
        mismatch_quantity needs_replacement no_pedigree_match non_conformant
        non_sellable_other partially_dispensed recalled reserved retail_sold returned
        sellable_accessible sellable_not_accessible stolen unavailable unknown"""),
    CBV + "Disp-",
    "urn:epcglobal:cbv:disp:",
)  # fmt: skip
BIZ_TRANSACTION_TYPE = Vocabulary(
    "business transaction type",
    _words("bol cert desadv inv pedigree po poc prodorder recadv rma testprd testres upevt"),
    CBV + "BTT-",
    "urn:epcglobal:cbv:btt:",
)
SOURCE_DESTINATION_TYPE = Vocabulary(
    "source/destination type",
    _words("owning_party possessing_party location"),
    CBV + "SDT-",
    "urn:epcglobal:cbv:sdt:",
)
ERROR_REASON = Vocabulary(
    "error reason", _words("did_not_occur incorrect_data"), CBV + "ER-", "urn:epcglobal:cbv:er:"
)
SENSOR_ALERT = Vocabulary("sensor alert type", _words("ALARM_CONDITION ERROR_CONDITION"))
SENSOR_COMPONENT = Vocabulary(
    "sensor component",
    _words("""
        x y z axial_distance azimuth height spherical_radius polar_angle elevation_angle
        easting northing latitude longitude altitude"""),
    CBV + "Comp-",
)  # fmt: skip

# The kind of a field's value: a name checked by epcis_validate, a CBV
# vocabulary, or a tuple of the allowed words.
Kind = str | Vocabulary | tuple[str, ...]
_SENSOR_METADATA: dict[str, Kind] = {
    "time": "time", "startTime": "time", "endTime": "time", "deviceID": "uri",
    "deviceMetadata": "uri", "rawData": "uri", "dataProcessingMethod": "uri", "bizRules": "uri",
}  # fmt: skip
# gs1:CertificationDetails (GS1 Web Vocabulary), which certificationInfo may embed.
_CERTIFICATION_NAMES: dict[str, Kind] = {
    "certificationAgency": "string", "certificationAgencyURL": "any",
    "certificationAuditDate": "date", "certificationEndDate": "date",
    "certificationIdentification": "string", "certificationStandard": "string",
    "certificationStartDate": "date", "certificationStatement": "string",
    "certificationStatus": ("ACTIVE", "INACTIVE"), "certificationSubject": "string",
    "certificationType": "string", "certificationURI": "uri", "certificationValue": "string",
    "initialCertificationDate": "date",
}  # fmt: skip
_CERTIFICATION = {GS1_VOC + name: kind for name, kind in _CERTIFICATION_NAMES.items()}


@dataclass(frozen=True)
class RecordSpec:
    """A JSON object inside an event: its fields' kinds and which are required.

    ``extensible`` records accept further namespaced fields; closed ones
    (``additionalProperties: false`` in the schema) refuse every other field.
    """

    fields: Mapping[str, Kind]
    required: tuple[str, ...] = ()
    extensible: bool = True
    is_list: bool = False


RECORDS: dict[str, RecordSpec] = {
    "place": RecordSpec({"id": "uri"}, ("id",)),
    "quantities": RecordSpec(
        {"epcClass": "uri", "quantity": "number", "uom": "uom"}, ("epcClass",), False, True
    ),
    "biz-transactions": RecordSpec(
        {"type": BIZ_TRANSACTION_TYPE, "bizTransaction": "uri"}, ("bizTransaction",), False, True
    ),
    "sources": RecordSpec(
        {"type": SOURCE_DESTINATION_TYPE, "source": "uri"}, ("type", "source"), False, True
    ),
    "destinations": RecordSpec(
        {"type": SOURCE_DESTINATION_TYPE, "destination": "uri"},
        ("type", "destination"), False, True,
    ),
    "persistent": RecordSpec({"set": "dispositions", "unset": "dispositions"}, (), False),
    "error": RecordSpec(
        {"declarationTime": "time", "reason": ERROR_REASON, "correctiveEventIDs": "uris"},
        ("declarationTime",),
    ),
    "sensor-elements": RecordSpec(
        {"sensorMetadata": "sensor-metadata", "sensorReport": "reports"}, ("sensorReport",),
        is_list=True,
    ),
    "sensor-metadata": RecordSpec(_SENSOR_METADATA),
    "reports": RecordSpec({
        **_SENSOR_METADATA, "type": "term", "exception": SENSOR_ALERT,
        "component": SENSOR_COMPONENT, "microorganism": "uri", "chemicalSubstance": "uri",
        "coordinateReferenceSystem": "uri", "uriValue": "uri", "stringValue": "string",
        "booleanValue": "bool", "hexBinaryValue": "hex", "uom": "string", "value": "number",
        "minValue": "number", "maxValue": "number", "meanValue": "number", "sDev": "number",
        "percRank": "number", "percValue": "number",
    }, is_list=True),
    "cert-details": RecordSpec(_CERTIFICATION, extensible=False),
    "ilmd": RecordSpec({}),
}  # fmt: skip
# List kinds: the kind of each item, and whether items must be unique.
LISTS: dict[str, tuple[Kind, bool]] = {
    "epcs": ("uri", True), "uris": ("uri", False), "dispositions": (DISPOSITION, True),
}  # fmt: skip

_COMMON = _words("""
    @context type eventTime recordTime eventTimeZoneOffset eventID certificationInfo
    errorDeclaration bizStep disposition persistentDisposition readPoint bizLocation
    bizTransactionList sourceList destinationList sensorElementList""")  # fmt: skip
FIELDS_BY_TYPE = {
    "ObjectEvent": _COMMON | _words("action epcList quantityList ilmd"),
    "AggregationEvent": _COMMON | _words("action parentID childEPCs childQuantityList"),
    "AssociationEvent": _COMMON | _words("action parentID childEPCs childQuantityList"),
    "TransactionEvent": _COMMON | _words("action parentID epcList quantityList"),
    "TransformationEvent": _COMMON | _words("""inputEPCList inputQuantityList outputEPCList
        outputQuantityList transformationID ilmd"""),
}  # fmt: skip
EVENT_FIELDS: dict[str, Kind] = {
    "eventTime": "time", "recordTime": "time", "eventTimeZoneOffset": "offset",
    "eventID": "uri", "parentID": "uri", "transformationID": "uri", "action": ACTIONS,
    "bizStep": BIZ_STEP, "disposition": DISPOSITION, "epcList": "epcs", "childEPCs": "epcs",
    "inputEPCList": "epcs", "outputEPCList": "epcs", "quantityList": "quantities",
    "childQuantityList": "quantities", "inputQuantityList": "quantities",
    "outputQuantityList": "quantities", "readPoint": "place", "bizLocation": "place",
    "bizTransactionList": "biz-transactions", "sourceList": "sources",
    "destinationList": "destinations", "persistentDisposition": "persistent",
    "sensorElementList": "sensor-elements", "ilmd": "ilmd", "errorDeclaration": "error",
    "certificationInfo": "certification", "@context": "context",
}  # fmt: skip


def is_uri(value: Any) -> bool:
    """A string shaped like an absolute IRI or a CURIE (``scheme:rest``, no spaces)."""
    return isinstance(value, str) and _URI.fullmatch(value) is not None


def all_prefixes(context: Mapping[str, str] | None) -> dict[str, str]:
    """The prefixes the standard EPCIS context defines, overridden by ``context``."""
    return {**DEFAULT_PREFIXES, **(context or {})}


def vocabulary_term(vocabulary: Vocabulary, value: Any, prefixes: Mapping[str, str]) -> str | None:
    """The short name of a CBV value, the full URI of another value, or ``None`` if invalid.

    A URN or Web URI under the vocabulary's own stem must name one of its terms
    (``urn:epcglobal:cbv:bizstep:transforming`` is refused): that namespace is GS1's.
    """
    if not isinstance(value, str) or not value:
        return None
    if ":" not in value:
        return value if value in vocabulary.terms else None
    uri = expand_curie(value, prefixes)
    for stem in (vocabulary.web_stem, vocabulary.urn_stem):
        if stem and uri.lower().startswith(stem.lower()):
            term = uri[len(stem) :]
            return term if term in vocabulary.terms else None
    return uri if is_uri(uri) else None


def expand_name(name: str, prefixes: Mapping[str, str]) -> str:
    """``example:machine`` → ``https://ns.example.com/epcis/machine`` (unknown prefixes kept)."""
    prefix, colon, local = name.partition(":")
    if colon and prefix in prefixes and not local.startswith("//"):
        return prefixes[prefix] + local
    return name


def expand_keys(value: Any, prefixes: Mapping[str, str]) -> Any:
    """``value`` with every object key expanded by :func:`expand_name`, at any depth.

    Nested ``@context`` entries are dropped, as the event hash ignores them.
    """
    if isinstance(value, Mapping):
        return {
            expand_name(k, prefixes): expand_keys(v, prefixes)
            for k, v in value.items()
            if k != "@context"
        }
    if isinstance(value, list | tuple):
        return [expand_keys(item, prefixes) for item in value]
    return value


def parse_timestamp(text: Any) -> datetime | None:
    """An RFC 3339 date-time *with* an offset, as an aware UTC datetime; else ``None``.

    Fractions beyond microseconds are cut (the event hash only reads the
    first four digits, so nothing that matters is lost).
    """
    match = _DATE_TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micros = int((match[7] or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if match[9]:
        hours, minutes = int(match[10]), int(match[11])
        if hours > 23 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if match[9] == "-" else 1)
    try:
        moment = datetime(year, month, day, hour, minute, second, micros, timezone(offset))
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):  # no such day, or beyond year 9999 in UTC
        return None


def canonical_id(identifier: str, context: Mapping[str, str] | None = None) -> str:
    """The constrained GS1 Digital Link URI of a GS1 identifier in any form.

    EPC URNs (``urn:epc:id:sgtin:…``), GS1 Digital Link URIs on any domain and
    CURIEs expanding to either are converted; any other identifier (such as
    ``urn:itptrace:ui:…``) is returned unchanged, CURIEs expanded.
    """
    expanded = expand_curie(identifier, all_prefixes(context))
    return to_canonical_dl(expanded) or expanded
