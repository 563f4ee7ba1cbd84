"""The integration tests' supply chain: ``sim.world`` built through the service driver.

``build_world`` registers it (operators, facilities, line, product); ``build_chain`` also
issues its codes (as the manufacturer) and hands the tests the node, the operators' actors
and a ``send`` that returns the capture result, refusals included, for the rules to be
tried on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from itptrace.access import Actor
from itptrace.capture.model import TraceEvent
from itptrace.capture.service import CaptureResult, capture
from itptrace.context import Context
from itptrace.sim.messages import Messages
from itptrace.sim.service_driver import ServiceDriver
from itptrace.sim.world import World, issue
from itptrace.sim.world import register as register_world
from itptrace.sim.worlds import SMALL


def build_world(ctx: Context) -> World:
    """The registered ``SMALL`` world, no codes issued."""
    return register_world(ServiceDriver(ctx), SMALL)


@dataclass
class Chain:
    ctx: Context
    world: World
    driver: ServiceDriver

    @property
    def packs(self) -> list[str]:
        return self.world.packs

    @property
    def cartons(self) -> list[str]:
        return self.world.cartons

    @property
    def cases(self) -> list[str]:
        return self.world.cases

    @property
    def msg(self) -> Messages:
        return self.world.msg

    @property
    def now(self) -> datetime:
        return self.ctx.clock.now()

    @property
    def maker(self) -> Actor:
        return self.driver.actor(self.world.maker_user)

    @property
    def importer(self) -> Actor:
        return self.driver.actor(self.world.importer_user)

    def send(self, actor: Actor, *events: TraceEvent, all_or_nothing: bool = True) -> CaptureResult:
        return capture(self.ctx, actor, list(events), all_or_nothing=all_or_nothing)


def build_chain(ctx: Context, packs: int = 40, cartons: int = 4, cases: int = 2) -> Chain:
    """The ``SMALL`` world with ``packs`` unit codes and ``cartons + cases`` boxes issued."""
    driver = ServiceDriver(ctx)
    world = register_world(driver, SMALL)
    issue(driver, world, packs=packs, cartons=cartons, cases=cases, pallets=0)
    return Chain(ctx, world, driver)
