"""Registry services on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from itptrace.access import Actor, Role
from itptrace.context import Context
from itptrace.countries import UnknownCountry
from itptrace.errors import Conflict, DomainError, Forbidden, NotFound
from itptrace.registry import service
from itptrace.registry.model import FacilityType, RegistryError
from tests.integration.world import World, build_world


def test_issued_identifiers_start_with_the_issuer_code(ctx: Context) -> None:
    world = build_world(ctx)
    for ident in (world.maker.id, world.plant.id, world.line.id):
        assert ident.startswith("KET01")
    assert world.plant.id[5] == "F" and world.line.id[5] == "M" and world.maker.id[5] == "E"


def test_registered_records_are_listed_back(ctx: Context) -> None:
    world = build_world(ctx)
    assert {o.id for o in service.list_operators(ctx)} == {world.maker.id, world.importer.id}
    assert service.list_facilities(ctx, world.maker.id)[0].type is FacilityType.MANUFACTURING
    assert service.list_products(ctx)[0].gtin == "06009876543219"


def test_deactivating_a_facility_deactivates_its_machines(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    second = service.add_machine(
        ctx, issuer, facility_id=world.plant.id, name="Line 2", capacity_per_hour=1
    )
    assert service.deactivate_facility(ctx, issuer, world.plant.id) == 2
    assert all(not m.active for m in service.list_machines(ctx, world.plant.id))
    with pytest.raises(Conflict, match="deactivated"):
        service.require_machine(ctx, second.id, world.plant.id)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("gtin", "06009876543210", RegistryError),
        ("gtin", "12345", RegistryError),
        ("category", "snus-ish", RegistryError),
        ("pack_size", 0, RegistryError),
        ("operator_id", "KET01ENOPE00", NotFound),
    ],
)
def test_a_bad_product_is_refused_and_nothing_is_stored(
    ctx: Context, issuer: Actor, field: str, value: object, error: type[DomainError]
) -> None:
    world = build_world(ctx)
    fields: dict[str, object] = {
        "gtin": "04012345678901",
        "operator_id": world.maker.id,
        "brand": "B",
        "description": "D",
        "category": "cigarettes",
        "pack_size": 20,
    }
    fields[field] = value
    with pytest.raises(error):
        service.add_product(ctx, issuer, **fields)  # type: ignore[arg-type]
    assert len(service.list_products(ctx)) == 1


def test_an_unknown_country_is_refused_with_the_value_named(ctx: Context, issuer: Actor) -> None:
    with pytest.raises(UnknownCountry, match="'XQ'"):
        service.add_operator(
            ctx, issuer, name="X", country="XQ", roles=["importer"], tobacco_industry=False
        )
    assert service.list_operators(ctx) == []


def test_the_same_gtin_cannot_be_registered_twice(
    ctx: Context,
    issuer: Actor,
) -> None:
    world = build_world(ctx)
    with pytest.raises(Conflict):
        service.add_product(
            ctx,
            issuer,
            gtin=world.product.gtin,
            operator_id=world.maker.id,
            brand="B",
            description="D",
            category="cigars",
            pack_size=5,
        )


def test_only_the_issuer_registers_operators(ctx: Context) -> None:
    world: World = build_world(ctx)
    operator = Actor("maker-user", Role.OPERATOR, operator_id=world.maker.id, tobacco_industry=True)
    for actor in (operator, Actor("customs", Role.AUTHORITY)):
        with pytest.raises(Forbidden):
            service.add_operator(
                ctx, actor, name="X", country="KE", roles=["retailer"], tobacco_industry=False
            )
