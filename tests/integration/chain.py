"""A registered supply chain with issued codes, for capture and query tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from itptrace.access import Actor, Role, local_issuer
from itptrace.capture.model import TraceEvent
from itptrace.capture.service import CaptureResult, capture
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer
from itptrace.context import Context
from itptrace.registry import service as registry
from itptrace.registry.model import Facility
from itptrace.sim.messages import Messages
from tests.integration.world import World, build_world


@dataclass
class Chain:
    ctx: Context
    world: World
    outlet: Facility
    packs: list[str]
    cartons: list[str]
    cases: list[str]
    msg: Messages

    @property
    def now(self) -> datetime:
        return self.ctx.clock.now()

    @property
    def maker(self) -> Actor:
        return Actor("maker", Role.OPERATOR, operator_id=self.world.maker.id, tobacco_industry=True)

    @property
    def importer(self) -> Actor:
        return Actor("importer", Role.OPERATOR, operator_id=self.world.importer.id)

    def send(self, actor: Actor, *events: TraceEvent, all_or_nothing: bool = True) -> CaptureResult:
        return capture(self.ctx, actor, list(events), all_or_nothing=all_or_nothing)


def build_chain(ctx: Context, packs: int = 40, cartons: int = 4, cases: int = 2) -> Chain:
    world = build_world(ctx)
    actor = local_issuer()
    outlet = registry.add_facility(
        ctx,
        actor,
        operator_id=world.importer.id,
        name="Kiosk",
        type="retail_outlet",
        address="Kampala Road",
        country="UG",
    )
    units = issuer.request_unit_codes(
        ctx,
        actor,
        issuer.UnitRequest(
            world.maker.id,
            world.plant.id,
            world.line.id,
            world.product.gtin,
            "UG",
            packs,
            importer_id=world.importer.id,
            route="Malaba",
        ),
    )
    boxes = issuer.request_aggregate_codes(
        ctx, actor, issuer.AggregateRequest(world.maker.id, world.plant.id, cartons + cases)
    )
    pack_codes = [c.ui for c in lifecycle.request_codes(ctx, actor, units.request_id)]
    box_codes = [c.ui for c in lifecycle.request_codes(ctx, actor, boxes.request_id)]
    return Chain(
        ctx, world, outlet, pack_codes, box_codes[:cartons], box_codes[cartons:], Messages()
    )
