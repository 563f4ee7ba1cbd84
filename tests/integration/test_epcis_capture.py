"""EPCIS 2.0 in and out: capture JSON-LD documents, query stored events as EPCIS."""

from __future__ import annotations

import pytest

from itptrace.access import local_authority
from itptrace.capture.epcis_map import from_trace_event, parse_epcis_report, ui_of
from itptrace.capture.formats import parse_report
from itptrace.capture.service import capture
from itptrace.context import Context
from itptrace.epcis import parse_document
from itptrace.epcis.serialize import to_jsonld
from itptrace.errors import DomainError
from itptrace.queries.events import query_events
from itptrace.queries.service import contents, where
from itptrace.sim.world import World
from tests.integration.chain import Chain, build_chain

AUTH = local_authority()


def test_a_unit_pack_digital_link_with_ai_235_names_the_ui() -> None:
    assert ui_of("https://id.gs1.org/01/06009876543219/235/KET01abc") == "KET01abc"
    assert ui_of("urn:itptrace:ui:KET01xyz") == "KET01xyz"
    assert ui_of("urn:epc:id:sscc:0614141.1234567890") == "106141412345678908"


def test_tobacco_messages_written_as_epcis_are_captured_like_native_ones(ctx: Context) -> None:
    chain: Chain = build_chain(ctx)
    w, m, t = chain.world, chain.msg, chain.now
    native = [
        m.apply(w.maker, w.plant, w.machine, chain.packs[:10], t),
        m.aggregate(w.maker, w.plant, chain.cartons[0], chain.packs[:10], t),
        m.dispatch(w.maker, w.plant, [chain.cartons[0]], t, to=w.depot),
    ]
    gtins = dict.fromkeys(chain.packs, w.gtin)
    document = to_jsonld([from_trace_event(e, gtins) for e in native])
    events, problems = parse_report(document, None)
    assert problems == [] and [e.message_type for e in events] == [e.message_type for e in native]
    assert [(e.event_id, e.uis, e.parent, e.facility_id) for e in events] == [
        (e.event_id, e.uis, e.parent, e.facility_id) for e in native
    ]
    result = capture(ctx, chain.maker, events)
    assert result.ok, result.problems
    assert where(ctx, AUTH, chain.packs[0]).status == "in_transit"
    assert contents(ctx, AUTH, chain.cartons[0]).unit_count == 10


def test_an_invalid_epcis_document_is_refused_naming_the_field() -> None:
    events, problems = parse_epcis_report(
        {
            "@context": [],
            "type": "EPCISDocument",
            "epcisBody": {"eventList": [{"type": "ObjectEvent"}]},
        },
        "X",
    )
    assert events == [] and problems and all(p.code == "malformed" for p in problems)


def test_the_epcis_query_filters_by_step_epc_and_time_and_pages(ctx: Context, run: World) -> None:
    shipping = query_events(ctx, AUTH, {"EQ_bizStep": "shipping"})
    assert len(shipping.events) == 3 and all(e.biz_step == "shipping" for e in shipping.events)
    pack = f"https://id.gs1.org/01/06009876543219/235/{run.packs[0]}"
    # MATCH_epc covers epcList and childEPCs: the pack was applied, then packed into a carton.
    assert [e.biz_step for e in query_events(ctx, AUTH, {"MATCH_epc": pack}).events] == [
        "commissioning",
        "packing",
    ]
    assert (
        len(query_events(ctx, AUTH, {"MATCH_parentID": f"urn:itptrace:ui:{run.pallet}"}).events)
        == 2
    )
    seen, token, pages = [], None, 0
    while True:
        params = {"perPage": "7", **({"nextPageToken": token} if token else {})}
        page = query_events(ctx, AUTH, params)
        seen += [e.event_id for e in page.events]
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert len(seen) == len(set(seen)) == run.events and pages == -(-run.events // 7)


def test_stored_events_serialise_to_a_valid_epcis_document(ctx: Context, run: World) -> None:
    page = query_events(ctx, AUTH, {"perPage": "1000"})
    document = to_jsonld(page.events, kind="query", query_name="SimpleEventQuery")
    assert len(parse_document(document).events) == run.events


@pytest.mark.parametrize(
    "params",
    [
        {"EQ_colour": "red"},
        {"perPage": "0"},
        {"GE_eventTime": "yesterday"},
        {"nextPageToken": "bm9wZQ"},
    ],
)
def test_a_bad_query_parameter_gets_a_clear_error(ctx: Context, params: dict[str, str]) -> None:
    with pytest.raises(DomainError):
        query_events(ctx, AUTH, params)
