"""Custody alerts over HTTP: an arrival of another operator's goods, never dispatched to
the reporter, is refused and the authorities see it in ``GET /alerts/custody``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from itptrace.sim.world import World, production
from tests.e2e.conftest import Node, native, ok, register_chain


def test_an_arrival_of_undispatched_goods_is_refused_and_only_the_authority_sees_its_alert(
    node: Node, chain: World
) -> None:
    # A (the maker) produces a pallet and never dispatches it; B (the importer) reports it
    # arrived at its depot.
    world = register_chain(node, "hijack", "06009876543226", packs=8, boxes=8)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    with node.client(world.maker_user) as maker:
        ok(maker.post("/messages", json=native(*production(world, at))), 201)
    arrival = world.msg.arrive(world.importer, world.depot, [world.pallet], at + timedelta(hours=1))
    with node.client(world.importer_user) as importer:
        refused = ok(importer.post("/messages", json=native(arrival)), 422)
        assert [e["code"] for e in refused["errors"]] == ["not_in_your_custody"]
        assert importer.get("/alerts/custody").status_code == 403
    with node.client(chain.importer_user) as other_operator:
        assert other_operator.get("/alerts/custody").status_code == 403
    with node.client("authority") as authority:
        alerts = ok(authority.get("/alerts/custody"))
        mine = [a for a in alerts if a["event_id"] == arrival.event_id]
        assert len(mine) == 1
        alert = mine[0]
        assert alert["kind"] == "custody" and alert["outcome"] == "refused"
        assert (alert["reporter_id"], alert["facility_id"]) == (world.importer, world.depot)
        assert alert["holders"] == {world.maker: [world.pallet]}
        assert ok(authority.get("/alerts/custody", params={"after": alert["id"]})) == [
            a for a in alerts if a["id"] > alert["id"]
        ]
        # the scan alerts are another list: a custody alert is not one of them
        assert all(a["scan_id"] for a in ok(authority.get("/alerts")))
