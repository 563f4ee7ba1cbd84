"""EPCIS events come back from the query as captured, with the event hash they had.

The corpus documents (``tests/data/epcis-openepcis``, ``tests/data/epcis-hash``) name
identifiers this node never issued; a tobacco repository refuses those, so every EPC is
first rewritten onto a pack the test world's manufacturer applied and holds, every parent
onto one of its cartons, every place onto its plant and every party onto itself. The
events no tobacco rule applies to go through capture as they are; for the corpus events
that read as tobacco messages (a shipping, a packing, a recall ...) the tobacco rules,
whose preconditions such foreign samples cannot meet, are stepped over: what is tested
here is what the repository stores and gives back, not whether custody allows them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from itptrace.access import local_authority, local_issuer
from itptrace.bootstrap import build_node
from itptrace.capture import service
from itptrace.capture.epcis_map import from_trace_event
from itptrace.capture.model import MessageType
from itptrace.capture.service import capture_document
from itptrace.codes.service import ensure_signing_key
from itptrace.context import Context
from itptrace.epcis import parse_document, to_jsonld
from itptrace.epcis.event_hash import document_context, document_events, event_hash_id
from itptrace.epcis.vocab import STANDARD_CONTEXT
from itptrace.queries.events import query_events
from itptrace.queries.service import trace
from itptrace.registry.service import init_party
from tests.conftest import make_settings
from tests.integration.chain import Chain, build_chain

AUTH = local_authority()
DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = sorted(
    [
        p
        for folder in ("Capture/Documents", "Capture/Events", "Query")
        for p in (DATA / "epcis-openepcis" / folder).glob("*.json")
    ]
    + list((DATA / "epcis-hash" / "examples").glob("*.jsonld"))
)
EPC_LISTS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
KEPT = ("readPoint", "disposition", "bizTransactionList", "sourceList", "destinationList",
        "sensorElementList", "certificationInfo", "ilmd", "persistentDisposition")  # fmt: skip


class Rewriter:
    """Puts a corpus event's identifiers onto what the test world's manufacturer holds."""

    def __init__(self, chain: Chain, packs: list[str], cartons: list[str]) -> None:
        self.gtin, self.packs, self.cartons = chain.world.gtin, packs, cartons
        self.facility = f"urn:itptrace:facility:{chain.world.plant}"
        self.operator = f"urn:itptrace:operator:{chain.world.maker}"
        self.used = 0

    def pack(self) -> str:
        self.used += 1
        ui = self.packs[self.used % len(self.packs)]
        return f"https://id.gs1.org/01/{self.gtin}/235/{ui}"

    def event(self, event: dict[str, Any], number: int) -> None:
        for name in EPC_LISTS:
            if isinstance(event.get(name), list):
                event[name] = [self.pack() for _ in event[name]]
        if "parentID" in event:
            event["parentID"] = f"urn:itptrace:ui:{self.cartons[number % len(self.cartons)]}"
        for name in ("readPoint", "bizLocation"):
            if isinstance(event.get(name), dict):
                event[name]["id"] = self.facility
        for name, child in (("sourceList", "source"), ("destinationList", "destination")):
            for party in event.get(name, []):
                party[child] = self.facility if party.get("type") == "location" else self.operator
        if "eventID" in event:  # unique across the corpus, and still a sender's own ID
            event["eventID"] = f"urn:uuid:00000000-0000-4000-8000-{number:012d}"


@pytest.fixture
def ctx(database_url: str, tmp_path: Path) -> Iterator[Context]:
    """A node whose clock is past every corpus event time (some are in 2026)."""
    settings = make_settings(database_url, tmp_path, clock="2031-01-06T08:00:00+00:00")
    context = build_node(settings, migrate=True)
    init_party(context)
    ensure_signing_key(context, local_issuer())
    yield context
    context.db.dispose()


@pytest.fixture
def world(ctx: Context) -> tuple[Chain, Rewriter]:
    """The manufacturer applied 40 packs (30 free, 10 in its first carton) at its plant."""
    chain = build_chain(ctx, packs=40, cartons=4)
    w, m, at = chain.world, chain.msg, chain.now - timedelta(days=1)
    applied = m.apply(w.maker, w.plant, w.machine, chain.packs, at)
    packed = m.aggregate(w.maker, w.plant, chain.cartons[0], chain.packs[30:], at)
    assert chain.send(chain.maker, applied, packed).ok
    return chain, Rewriter(chain, chain.packs[:30], chain.cartons[:1])


def _tobacco_rules_stepped_over(monkeypatch: pytest.MonkeyPatch) -> None:
    real = service._check_one

    def check(event: Any, *args: Any) -> Any:
        if event.message_type is MessageType.OTHER:
            return real(event, *args)
        return [], {}

    monkeypatch.setattr(service, "_check_one", check)


def test_every_valid_corpus_event_comes_back_as_captured_with_its_event_hash(
    ctx: Context, world: tuple[Chain, Rewriter], monkeypatch: pytest.MonkeyPatch
) -> None:
    chain, rewrite = world
    _tobacco_rules_stepped_over(monkeypatch)
    sent: dict[str, dict[str, Any]] = {}  # event hash -> the event as captured
    number = 0
    for path in CORPUS:
        document = json.loads(path.read_text(encoding="utf-8"))
        for event in document_events(document):
            number += 1
            rewrite.event(event, number)  # type: ignore[arg-type]
        result = capture_document(ctx, chain.maker, document)
        assert result.ok, (path.name, result.problems[:3])
        context = document_context(document)
        for event in document_events(document):
            sent[event_hash_id(event, context)] = dict(event)
    assert number >= 140  # every event of the corpus, not a handful
    page = query_events(ctx, AUTH, {"perPage": "1000"})
    assert page.next_page_token is None and page.unreadable == []
    document = json.loads(json.dumps(page.document(chain.now)))
    returned = {e.hash_id: e for e in parse_document(document).events}
    assert set(sent) <= set(returned)
    for hash_id, event in sent.items():
        back = returned[hash_id]
        assert back.record_time is not None
        assert back.raw.get("eventID") == event.get("eventID")
        assert back.raw["eventTime"] == event["eventTime"]
        assert back.raw["eventTimeZoneOffset"] == event["eventTimeZoneOffset"]
        for name in KEPT:
            assert back.raw.get(name) == event.get(name), (hash_id, name)


def test_an_event_keeps_its_milliseconds_offset_id_and_user_extensions(
    ctx: Context, world: tuple[Chain, Rewriter]
) -> None:
    chain, rewrite = world
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:6d2a8bd4-1f33-4c1e-9f0e-3f5b2b4f0b11",
        "eventTime": "2031-01-04T10:30:00.120+03:00",
        "eventTimeZoneOffset": "+03:00",
        "epcList": ["x"],
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "disposition": "active",
        "readPoint": {"id": "x"},
        "example:inspector": {"example:name": "Amina", "example:badge": 42},
    }
    rewrite.event(event, 1)
    document = {
        "@context": [STANDARD_CONTEXT, {"example": "https://example.org/epcis/"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2031-01-04T10:31:00Z",
        "epcisBody": {"eventList": [event]},
    }
    assert capture_document(ctx, chain.maker, document).ok
    page = query_events(ctx, AUTH, {"EQ_bizStep": "inspecting"})
    (body,) = page.bodies
    assert body["eventID"] == event["eventID"]  # not urn:itptrace:message:...
    assert body["eventTime"] == "2031-01-04T10:30:00.120+03:00"
    assert body["eventTimeZoneOffset"] == "+03:00"
    assert body["example:inspector"] == event["example:inspector"]
    assert (body["disposition"], body["readPoint"]) == ("active", event["readPoint"])
    assert body["recordTime"] == "2031-01-06T08:00:00Z"
    assert event_hash_id(body) == event_hash_id(event, document_context(document))


def test_a_tobacco_message_sent_as_epcis_is_traced_by_its_fields_and_queried_as_captured(
    ctx: Context,
) -> None:
    chain = build_chain(ctx, packs=20)
    w = chain.world
    applied = chain.msg.apply(w.maker, w.plant, w.machine, chain.packs, chain.now)
    event = from_trace_event(applied, dict.fromkeys(chain.packs, w.gtin))
    document = to_jsonld([event], creation_date=chain.now)
    (sent,) = document["epcisBody"]["eventList"]
    sent["eventTime"] = sent["eventTime"].replace("Z", ".250Z")  # kept, though the rules
    assert capture_document(ctx, chain.maker, document).ok  # read it to the second
    (entry,) = trace(ctx, AUTH, chain.packs[0])
    assert "epcis" not in entry.details and "uis" not in entry.details
    (body,) = query_events(ctx, AUTH, {"EQ_bizStep": "commissioning"}).bodies
    assert body["eventTime"] == sent["eventTime"] and body["epcList"] == sent["epcList"]
    assert event_hash_id(body) == event_hash_id(sent, document_context(document))
