"""A small registered supply chain for integration tests."""

from __future__ import annotations

from dataclasses import dataclass

from itptrace.access import local_issuer
from itptrace.context import Context
from itptrace.registry import service
from itptrace.registry.model import Facility, Machine, Operator, Product


@dataclass(frozen=True)
class World:
    maker: Operator
    importer: Operator
    plant: Facility
    line: Machine
    product: Product
    depot: Facility


def build_world(ctx: Context) -> World:
    actor = local_issuer()
    maker = service.add_operator(
        ctx,
        actor,
        name="Nyota Tobacco",
        country="KE",
        roles=["manufacturer", "exporter"],
        tobacco_industry=True,
    )
    importer = service.add_operator(
        ctx,
        actor,
        name="Lake Imports",
        country="UG",
        roles=["importer", "distributor"],
        tobacco_industry=False,
    )
    plant = service.add_facility(
        ctx,
        actor,
        operator_id=maker.id,
        name="Plant",
        type="manufacturing",
        address="Nairobi",
        country="KE",
    )
    depot = service.add_facility(
        ctx,
        actor,
        operator_id=importer.id,
        name="Depot",
        type="warehouse",
        address="Kampala",
        country="UG",
    )
    line = service.add_machine(
        ctx, actor, facility_id=plant.id, name="Line 1", capacity_per_hour=30_000
    )
    product = service.add_product(
        ctx,
        actor,
        gtin="06009876543219",
        operator_id=maker.id,
        brand="Savanna Gold",
        description="King size 20",
        category="cigarettes",
        pack_size=20,
    )
    return World(maker, importer, plant, line, product, depot)
