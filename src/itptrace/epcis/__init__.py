"""The GS1 EPCIS 2.0 / CBV 2.0 standard alone: no database, no tobacco rules.

Modules: ``model`` (the normalised event values), ``parse`` (JSON-LD documents and events,
validated by ``validate``), ``serialize`` (JSON-LD written from the values), ``build``
(events made in code), ``vocab`` (CBV vocabularies and field tables), ``event_hash`` and
``canon`` (the CBV 2.0 event hash ID). The package imports only the standard library and
``itptrace.gs1``; the names below are its public API.
"""

from itptrace.epcis.build import make_event
from itptrace.epcis.model import (
    EpcisDocument,
    EpcisEvent,
    ErrorDeclaration,
    PersistentDisposition,
    Quantity,
)
from itptrace.epcis.parse import parse_document, parse_event
from itptrace.epcis.serialize import to_jsonld
from itptrace.epcis.validate import EpcisIssue, EpcisValidationError
from itptrace.epcis.vocab import ITP_NS, ITP_PREFIX, canonical_id

__all__ = [
    "ITP_NS", "ITP_PREFIX", "EpcisDocument", "EpcisEvent", "EpcisIssue", "EpcisValidationError",
    "ErrorDeclaration", "PersistentDisposition", "Quantity", "canonical_id", "make_event",
    "parse_document", "parse_event", "to_jsonld",
]  # fmt: skip
