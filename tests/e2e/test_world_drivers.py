"""The world builder's two doors build the same world.

One description is built twice on the same served node, once through the service driver
(in this process) and once through the HTTP driver (tokens, ``httpx``), with the same
journey at the same times. The node's answers about the pack, the carton and the pallet in
the same place of each world must then be the same, once each world's own identifiers
(operators, facilities, line, product, codes, message codes) are named alike.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from itptrace.sim.http_driver import HttpDriver
from itptrace.sim.service_driver import ServiceDriver
from itptrace.sim.world import Description, Driver, World, issue, journey, register
from itptrace.sim.worlds import KENYA
from tests.e2e.conftest import Node, ok


def built(driver: Driver, description: Description, at: datetime) -> World:
    world = register(driver, description)
    issue(driver, world, packs=40, cartons=4, cases=2)
    journey(driver, world, at)
    return world


def naming(world: World, like: World) -> dict[str, str]:
    """Each identifier of ``world`` -> the one in the same place of ``like``."""
    fields = ("maker", "importer", "plant", "depot", "machine", "gtin")
    names = {getattr(world, f): getattr(like, f) for f in fields}
    names.update(zip(world.packs, like.packs, strict=True))
    names.update(zip(world.boxes, like.boxes, strict=True))
    names[world.description.prefix + "-"] = like.description.prefix + "-"  # message codes
    return names


def renamed(answer: Any, names: dict[str, str]) -> Any:
    """``answer`` with every identifier renamed (in keys too: some join two ids), and
    without the node's own sequence numbers and clock readings, which no world decides."""
    text = json.dumps(answer)
    for old in sorted(names, key=len, reverse=True):  # an aggregated UI holds its facility's id
        text = text.replace(old, names[old])
    return _stable(json.loads(text))


def _stable(answer: Any) -> Any:
    if isinstance(answer, dict):
        return {
            k: _stable(v)
            for k, v in answer.items()
            if not (k.endswith("seq") or k == "recorded_at")
        }
    if isinstance(answer, list):
        return [_stable(v) for v in answer]
    return answer


def answers(node: Node, world: World) -> dict[str, Any]:
    pack, carton = world.packs[13], world.cartons[1]
    with node.client("authority", purpose="world drivers") as authority:
        return {
            "pack where": ok(authority.get(f"/uis/{pack}/where")),
            "pack trace": ok(authority.get(f"/uis/{pack}/trace")),
            "carton where": ok(authority.get(f"/uis/{carton}/where")),
            "pallet contents": ok(authority.get(f"/aggregates/{world.pallet}/contents")),
        }


def test_the_service_driver_and_the_http_driver_build_the_same_world(node: Node) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    product = replace(KENYA.product, gtin="06009876543240")
    in_process = built(ServiceDriver(node.ctx), replace(KENYA.accounts("svc"), product=product), at)
    with node.client() as http:
        driver = HttpDriver(http, node.tokens["issuer_admin"], node.add_token)
        product = replace(KENYA.product, gtin="06009876543257")
        over_http = built(driver, replace(KENYA.accounts("web"), product=product), at)

    seen_in_process = answers(node, in_process)
    seen_over_http = answers(node, over_http)
    assert seen_in_process["pack where"]["facility_id"] == in_process.depot
    assert len(seen_in_process["pack trace"]) == 6  # applied, 3 packings, dispatch, arrival
    names = naming(over_http, in_process)
    assert renamed(seen_over_http, names) == renamed(seen_in_process, {})
    assert over_http.events == in_process.events == 10
