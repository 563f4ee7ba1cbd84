"""Trace, contents, where and the Article 8.4.1 report over the demo supply chain."""

from __future__ import annotations

from datetime import timedelta

import pytest

from itptrace.access import local_authority
from itptrace.context import Context
from itptrace.errors import NotFound
from itptrace.queries.completeness import completeness_by_operator
from itptrace.queries.report import report
from itptrace.queries.service import contents, trace, where
from itptrace.sim.world import World

AUTH = local_authority()


def test_a_pack_trace_includes_its_containers_events_while_it_was_inside(
    ctx: Context, run: World
) -> None:
    pack = run.packs[0]  # carton 0 -> case 0 -> pallet; carton 0 went to the kiosk
    entries = trace(ctx, AUTH, pack)
    kinds = [(e.message_type, e.via) for e in entries]
    assert kinds[0] == ("EUA", None)
    assert ("EDP", run.pallet) in kinds and ("ERP", run.pallet) in kinds
    assert ("EDP", run.cartons[0]) in kinds and ("ERP", run.cartons[0]) in kinds
    assert [e.event_time for e in entries] == sorted(e.event_time for e in entries)


def test_a_container_event_after_the_pack_left_it_is_not_in_the_pack_trace(
    ctx: Context, run: World
) -> None:
    # case 1 went abroad after the pallet was split; packs of case 0 never saw that dispatch.
    export = [
        e
        for e in trace(ctx, AUTH, run.packs[10 * 5])
        if e.message_type == "EDP" and e.via == run.cases[1]
    ]
    assert export, "a pack of case 1 sees the export dispatch"
    assert not [e for e in trace(ctx, AUTH, run.packs[0]) if e.via == run.cases[1]]


def test_contents_gives_the_whole_tree_now_and_at_a_past_time(ctx: Context, run: World) -> None:
    assert contents(ctx, AUTH, run.pallet).unit_count == 0  # split: the pallet is empty now
    before_split = trace(ctx, AUTH, run.packs[0])[1].event_time  # packed, not yet split
    tree = contents(ctx, AUTH, run.pallet, at=before_split + timedelta(minutes=1))
    assert tree.unit_count == len(run.packs) and len(tree.children) == 4
    assert contents(ctx, AUTH, run.cases[1]).unit_count == 50


def test_where_reports_the_outermost_containers_place_and_custodian(
    ctx: Context, run: World
) -> None:
    at_kiosk = where(ctx, AUTH, run.packs[0])
    assert (at_kiosk.facility_id, at_kiosk.custodian_id, at_kiosk.top) == (
        run.outlet,
        run.retailer,
        run.cartons[0],
    )
    abroad = where(ctx, AUTH, run.packs[50])
    assert (abroad.status, abroad.destination_kind, abroad.destination_country) == (
        "in_transit",
        "export",
        "UG",
    )
    with pytest.raises(NotFound):
        where(ctx, AUTH, "KET01unknown")


def test_the_8_4_1_report_has_every_item_with_its_source(ctx: Context, run: World) -> None:
    result = report(ctx, AUTH, run.packs[0])
    items = {i.key: i for i in result.items}
    assert result.completeness == 1.0, result.missing
    assert items["e"].value == {
        "customer": run.importer,
        "invoice": "INV-2026-0107",
        "order": "PO-2026-0042",
        "payment": "PAY-88123",
    }
    assert items["f"].value == "KE" and items["g"].value["brand"] == "Savanna Gold"
    assert (
        items["j"].value["departure"] == run.plant and items["j"].value["destination"] == run.depot
    )
    assert all(i.sources for i in result.items)


def test_a_report_marks_what_is_missing(ctx: Context, run: World) -> None:
    from itptrace.access import local_issuer
    from itptrace.codes import lifecycle
    from itptrace.codes import service as issuer

    record = lifecycle.lookup_code(ctx, run.packs[0])
    batch = issuer.request_unit_codes(
        ctx,
        local_issuer(),
        issuer.UnitRequest(
            record.operator_id,
            record.facility_id,
            record.machine_id or "",
            record.gtin or "",
            "KE",
            1,
        ),
    )
    fresh = next(lifecycle.request_codes(ctx, local_issuer(), batch.request_id)).ui
    unreported = report(ctx, AUTH, fresh)
    assert set(unreported.missing) == {"a", "d", "e", "h", "i", "j"}
    assert unreported.completeness == pytest.approx(0.4)


def test_completeness_by_operator_shows_who_reports_what(ctx: Context, run: World) -> None:
    summary = completeness_by_operator(ctx, AUTH, sample=20)
    assert [s.operator_id for s in summary] == [run.maker]
    assert summary[0].packs_checked == 20 and summary[0].item_share["e"] == 1.0
