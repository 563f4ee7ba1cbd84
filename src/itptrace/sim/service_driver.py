"""The world builder's in-process door: the service functions, called with an ``Actor``.

The registry is written as the local issuer (as ``itptrace registry`` does); each operator
account is an operator ``Actor`` of its own, and codes are requested and reports made as
that actor, exactly as the API would after authenticating its token.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from itptrace.access import Actor, Role, local_issuer
from itptrace.capture.model import TraceEvent
from itptrace.capture.service import capture
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer
from itptrace.context import Context
from itptrace.registry import service as registry
from itptrace.sim.world import OperatorSpec, ProductSpec, Refused, SiteSpec, World


class ServiceDriver:
    """Builds a world on ``ctx`` through the service layer."""

    def __init__(self, ctx: Context, admin: Actor | None = None) -> None:
        self.ctx = ctx
        self.admin = admin or local_issuer()
        self.actors: dict[str, Actor] = {}

    def now(self) -> datetime:
        return self.ctx.clock.now()

    def actor(self, user: str) -> Actor:
        """The operator actor of an account made by ``add_account``."""
        return self.actors[user]

    def add_operator(self, spec: OperatorSpec) -> str:
        return registry.add_operator(
            self.ctx,
            self.admin,
            name=spec.name,
            country=spec.country,
            roles=list(spec.roles),
            tobacco_industry=spec.tobacco_industry,
        ).id

    def add_facility(self, operator_id: str, spec: SiteSpec) -> str:
        return registry.add_facility(
            self.ctx,
            self.admin,
            operator_id=operator_id,
            name=spec.name,
            type=spec.type,
            address=spec.address,
            country=spec.country,
        ).id

    def add_machine(self, facility_id: str, name: str, capacity_per_hour: int) -> str:
        return registry.add_machine(
            self.ctx,
            self.admin,
            facility_id=facility_id,
            name=name,
            capacity_per_hour=capacity_per_hour,
        ).id

    def add_product(self, operator_id: str, spec: ProductSpec) -> str:
        return registry.add_product(
            self.ctx,
            self.admin,
            gtin=spec.gtin,
            operator_id=operator_id,
            brand=spec.brand,
            description=spec.description,
            category=spec.category,
            pack_size=spec.pack_size,
        ).gtin

    def add_account(self, user: str, operator_id: str, tobacco_industry: bool) -> None:
        self.actors[user] = Actor(
            user, Role.OPERATOR, operator_id=operator_id, tobacco_industry=tobacco_industry
        )

    def request_units(self, user: str, world: World, quantity: int) -> tuple[int, list[str]]:
        d = world.description
        request = issuer.UnitRequest(
            world.maker,
            world.plant,
            world.machine,
            world.gtin,
            d.market,
            quantity,
            route=d.route,
            importer_id=world.importer_of_record,
        )
        batch = issuer.request_unit_codes(self.ctx, self.actor(user), request)
        return batch.request_id, self._codes(user, batch.request_id)

    def request_boxes(self, user: str, world: World, quantity: int) -> tuple[int, list[str]]:
        request = issuer.AggregateRequest(world.maker, world.plant, quantity)
        batch = issuer.request_aggregate_codes(self.ctx, self.actor(user), request)
        return batch.request_id, self._codes(user, batch.request_id)

    def _codes(self, user: str, request_id: int) -> list[str]:
        return [c.ui for c in lifecycle.request_codes(self.ctx, self.actor(user), request_id)]

    def report(self, user: str, events: Sequence[TraceEvent]) -> int:
        result = capture(self.ctx, self.actor(user), list(events))
        if not result.ok:
            raise Refused(
                f"the report of {user} was refused: "
                + "; ".join(f"{p.code}: {p.message}" for p in result.problems[:5])
            )
        return len(result.accepted)
