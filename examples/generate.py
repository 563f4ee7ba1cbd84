"""Writes ``report.json`` and ``document.jsonld`` beside this file, from the world builder.

A scratch node with a fixed clock gets the ``KENYA`` world of ``itptrace.sim.worlds``
(through the service driver) with 20 unit codes and four boxes; the example report is what
its manufacturer sends: the codes applied, packed into two cartons, a master case and a
pallet, and the pallet dispatched to the importer's depot. ``report.json`` holds it as
native messages, ``document.jsonld`` as an EPCIS 2.0 capture document. The codes and ids
are those of the scratch node: to capture the report on your node, put yours in their
place (``tests/integration/test_examples.py`` does exactly that).

Run: ``PYTHONPATH=src python examples/generate.py``.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from itptrace.access import local_issuer
from itptrace.bootstrap import build_node
from itptrace.capture.epcis_map import from_trace_event
from itptrace.capture.model import TraceEvent
from itptrace.capture.native import message_to_json
from itptrace.codes.service import ensure_signing_key
from itptrace.config import Settings
from itptrace.context import Context
from itptrace.epcis.serialize import to_jsonld
from itptrace.registry.service import init_party
from itptrace.sim.service_driver import ServiceDriver
from itptrace.sim.world import World, issue, production, register
from itptrace.sim.worlds import KENYA

HERE = Path(__file__).resolve().parent
CLOCK = "2026-01-05T08:00:00+00:00"


def example_world(ctx: Context) -> World:
    """The examples' world on ``ctx``: registered, its codes issued, nothing reported."""
    driver = ServiceDriver(ctx)
    world = register(driver, KENYA)
    return issue(driver, world, packs=20, cartons=2, cases=1)


def example_events(world: World, at: datetime) -> list[TraceEvent]:
    """The manufacturer's report: production, then the pallet dispatched to the depot."""
    made = production(world, at)
    return [*made, world.msg.dispatch(world.maker, world.plant, [world.pallet], at, to=world.depot)]


def report(events: list[TraceEvent]) -> dict[str, Any]:
    return {"messages": [message_to_json(e) for e in events]}


def document(world: World, events: list[TraceEvent], at: datetime) -> dict[str, Any]:
    gtins = dict.fromkeys(world.packs, world.gtin)
    return to_jsonld([from_trace_event(e, gtins) for e in events], creation_date=at)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            database_url=f"sqlite:///{Path(scratch) / 'example.db'}",
            key_dir=Path(scratch) / "keys",
            clock=CLOCK,
            country="KE",
            issuer_code="KET01",
        )
        ctx = build_node(settings, migrate=True)
        init_party(ctx)
        ensure_signing_key(ctx, local_issuer())
        world = example_world(ctx)
        at = ctx.clock.now() - timedelta(hours=2)
        events = example_events(world, at)
        ctx.db.dispose()
    (HERE / "report.json").write_text(json.dumps(report(events), indent=2) + "\n")
    (HERE / "document.jsonld").write_text(json.dumps(document(world, events, at), indent=2) + "\n")


if __name__ == "__main__":
    main()
