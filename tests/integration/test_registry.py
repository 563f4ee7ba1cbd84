"""Registry services on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Table, event, select

from itptrace.access import Actor, Role, local_issuer
from itptrace.codes import service as issuer_service
from itptrace.codes.service import AggregateRequest, UnitRequest
from itptrace.context import Context
from itptrace.countries import UnknownCountry
from itptrace.errors import Conflict, DomainError, Forbidden, NotFound
from itptrace.registry import service
from itptrace.registry.model import Facility, FacilityType, RegistryError
from itptrace.repository.schema import facilities, machines, operators
from itptrace.sim.world import World
from tests.integration.chain import build_world


def test_issued_identifiers_start_with_the_issuer_code(ctx: Context) -> None:
    world = build_world(ctx)
    for ident in (world.maker, world.plant, world.machine):
        assert ident.startswith("KET01")
    assert world.plant[5] == "F" and world.machine[5] == "M" and world.maker[5] == "E"


def test_registered_records_are_listed_back(ctx: Context) -> None:
    world = build_world(ctx)
    assert {o.id for o in service.list_operators(ctx, local_issuer())} == {
        world.maker,
        world.importer,
    }
    assert (
        service.list_facilities(ctx, local_issuer(), world.maker)[0].type
        is FacilityType.MANUFACTURING
    )
    assert service.list_products(ctx, local_issuer())[0].gtin == "06009876543219"


def test_deactivating_a_facility_deactivates_its_machines(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    second = service.add_machine(
        ctx, issuer, facility_id=world.plant, name="Line 2", capacity_per_hour=1
    )
    assert service.deactivate_facility(ctx, issuer, world.plant) == 2
    machines = {(m.id, m.active) for m in service.list_machines(ctx, local_issuer(), world.plant)}
    assert machines == {(world.machine, False), (second.id, False)}
    with pytest.raises(Conflict, match="deactivated"):
        service.require_machine(ctx, second.id, world.plant)


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
        "operator_id": world.maker,
        "brand": "B",
        "description": "D",
        "category": "cigarettes",
        "pack_size": 20,
    }
    fields[field] = value
    with pytest.raises(error):
        service.add_product(ctx, issuer, **fields)  # type: ignore[arg-type]
    assert len(service.list_products(ctx, local_issuer())) == 1


def test_an_unknown_country_is_refused_with_the_value_named(ctx: Context, issuer: Actor) -> None:
    with pytest.raises(UnknownCountry, match="'XQ'"):
        service.add_operator(
            ctx, issuer, name="X", country="XQ", roles=["importer"], tobacco_industry=False
        )
    assert service.list_operators(ctx, local_issuer()) == []


def test_the_same_gtin_cannot_be_registered_twice(
    ctx: Context,
    issuer: Actor,
) -> None:
    world = build_world(ctx)
    with pytest.raises(Conflict):
        service.add_product(
            ctx,
            issuer,
            gtin=world.gtin,
            operator_id=world.maker,
            brand="B",
            description="D",
            category="cigars",
            pack_size=5,
        )


def test_only_the_issuer_registers_operators(ctx: Context) -> None:
    world: World = build_world(ctx)
    operator = Actor("maker-user", Role.OPERATOR, operator_id=world.maker, tobacco_industry=True)
    for actor in (operator, Actor("customs", Role.AUTHORITY)):
        with pytest.raises(Forbidden):
            service.add_operator(
                ctx, actor, name="X", country="KE", roles=["retailer"], tobacco_industry=False
            )


# Deactivation of operators, machines and products: the issuer's job, history kept.

Deactivate = Callable[[Context, Actor, str], object]
KINDS: dict[str, tuple[Deactivate, Callable[[World], str], str]] = {
    "operator": (service.deactivate_operator, lambda w: w.maker, "KET01ENOPE00"),
    "machine": (service.deactivate_machine, lambda w: w.machine, "KET01MNOPE00"),
    "product": (service.deactivate_product, lambda w: w.gtin, "04012345678901"),
}


def deactivated_at(ctx: Context, table: Table, key: str) -> datetime | None:
    """The stored ``deactivated_at`` of a row (SQLite gives it back without a zone: UTC)."""
    with ctx.db.transaction() as conn:
        value: datetime | None = conn.execute(
            select(table.c.deactivated_at).where(table.c.id == key)
        ).scalar_one()
    return value.replace(tzinfo=value.tzinfo or UTC) if value is not None else None


def unit_request(world: World, quantity: int = 1) -> UnitRequest:
    return UnitRequest(
        operator_id=world.maker,
        facility_id=world.plant,
        machine_id=world.machine,
        gtin=world.gtin,
        intended_market="KE",
        quantity=quantity,
    )


def add_store(ctx: Context, issuer: Actor, world: World) -> Facility:
    """A second facility of the manufacturer."""
    return service.add_facility(
        ctx,
        issuer,
        operator_id=world.maker,
        name="Store",
        type="warehouse",
        address="Mombasa",
        country="KE",
    )


def maker_user(world: World) -> Actor:
    return Actor("maker-user", Role.OPERATOR, operator_id=world.maker, tobacco_industry=True)


def test_deactivating_an_operator_deactivates_its_facilities_and_machines_and_keeps_them(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    store = add_store(ctx, issuer, world)
    service.add_machine(ctx, issuer, facility_id=world.plant, name="Line 2", capacity_per_hour=1)
    assert service.deactivate_operator(ctx, issuer, world.maker) == (2, 2)
    assert not service.get_operator(ctx, world.maker).active
    assert [f.active for f in service.list_facilities(ctx, local_issuer(), world.maker)] == [
        False,
        False,
    ]
    assert [m.active for m in service.list_machines(ctx, local_issuer())] == [False, False]
    now = ctx.clock.now()
    assert deactivated_at(ctx, operators, world.maker) == now
    assert deactivated_at(ctx, facilities, store.id) == now
    assert deactivated_at(ctx, machines, world.machine) == now
    # the other operator and its facility are untouched
    assert service.get_operator(ctx, world.importer).active
    assert service.get_facility(ctx, world.depot).active


def test_an_operator_counts_only_the_facilities_and_machines_still_active(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    service.deactivate_facility(ctx, issuer, world.plant)
    add_store(ctx, issuer, world)
    assert service.deactivate_operator(ctx, issuer, world.maker) == (1, 0)


def test_deactivating_a_machine_leaves_its_facility_and_other_machines_active(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    second = service.add_machine(
        ctx, issuer, facility_id=world.plant, name="Line 2", capacity_per_hour=1
    )
    service.deactivate_machine(ctx, issuer, world.machine)
    assert {m.id: m.active for m in service.list_machines(ctx, local_issuer(), world.plant)} == {
        world.machine: False,
        second.id: True,
    }
    assert deactivated_at(ctx, machines, world.machine) == ctx.clock.now()
    assert service.require_facility(ctx, world.plant).active


def test_a_deactivated_product_is_kept_and_read_back_as_inactive(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    # a GTIN-13 names the same product as its GTIN-14 form
    assert service.deactivate_product(ctx, issuer, world.gtin[1:]) == world.gtin
    assert not service.get_product(ctx, world.gtin).active
    assert [p.active for p in service.list_products(ctx, local_issuer())] == [False]


@pytest.mark.parametrize("kind", list(KINDS))
def test_deactivating_an_unknown_operator_machine_or_product_is_not_found(
    ctx: Context, issuer: Actor, kind: str
) -> None:
    build_world(ctx)
    deactivate, _, unknown = KINDS[kind]
    with pytest.raises(NotFound, match=unknown):
        deactivate(ctx, issuer, unknown)


@pytest.mark.parametrize("kind", list(KINDS))
def test_deactivating_an_operator_machine_or_product_twice_is_a_conflict_naming_it(
    ctx: Context, issuer: Actor, kind: str
) -> None:
    world = build_world(ctx)
    deactivate, target, _ = KINDS[kind]
    deactivate(ctx, issuer, target(world))
    with pytest.raises(Conflict, match=f"{kind} {target(world)} is already deactivated"):
        deactivate(ctx, issuer, target(world))


@pytest.mark.parametrize("kind", list(KINDS))
def test_only_the_issuer_deactivates_and_the_tobacco_industry_is_refused_as_such(
    ctx: Context, kind: str
) -> None:
    world = build_world(ctx)
    deactivate, target, _ = KINDS[kind]
    with pytest.raises(Forbidden) as refused:
        deactivate(ctx, maker_user(world), target(world))
    assert refused.value.code == "industry_refused"
    with pytest.raises(Forbidden, match="needs the issuer_admin role"):
        deactivate(ctx, Actor("customs", Role.AUTHORITY), target(world))
    assert service.get_operator(ctx, world.maker).active
    assert [(m.id, m.active) for m in service.list_machines(ctx, local_issuer())] == [
        (world.machine, True)
    ]
    assert service.get_product(ctx, world.gtin).active


def test_a_deactivated_product_gets_no_more_unit_codes(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    service.deactivate_product(ctx, issuer, world.gtin)
    with pytest.raises(Conflict, match=f"product {world.gtin}"):
        issuer_service.request_unit_codes(ctx, maker_user(world), unit_request(world))


def test_a_deactivated_machine_gets_no_more_unit_codes(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    issuer_service.request_unit_codes(ctx, maker_user(world), unit_request(world))
    service.deactivate_machine(ctx, issuer, world.machine)
    with pytest.raises(Conflict, match=f"machine {world.machine} is deactivated"):
        issuer_service.request_unit_codes(ctx, maker_user(world), unit_request(world))


def test_a_deactivated_operator_can_no_longer_request_codes(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    service.deactivate_operator(ctx, issuer, world.maker)
    refused = f"economic operator {world.maker} is deactivated"
    for actor in (maker_user(world), issuer):
        with pytest.raises(Conflict, match=refused):
            issuer_service.request_unit_codes(ctx, actor, unit_request(world))
        aggregate = AggregateRequest(world.maker, world.plant, quantity=1)
        with pytest.raises(Conflict, match=refused):
            issuer_service.request_aggregate_codes(ctx, actor, aggregate)


# Lookups by key: the service reads the one row asked for; no route filters a list.


def test_a_machine_is_read_by_its_id_whether_active_or_not(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    machine = service.get_machine(ctx, issuer, world.machine)
    assert (machine.id, machine.facility_id, machine.name, machine.active) == (
        world.machine,
        world.plant,
        "Line 1",
        True,
    )
    service.deactivate_machine(ctx, issuer, world.machine)
    assert not service.get_machine(ctx, maker_user(world), world.machine).active


def test_an_unknown_machine_is_not_found_and_named(ctx: Context, issuer: Actor) -> None:
    build_world(ctx)
    with pytest.raises(NotFound, match="unknown machine KET01MNOPE00") as refused:
        service.get_machine(ctx, issuer, "KET01MNOPE00")
    assert refused.value.subject == "KET01MNOPE00"


def test_a_machine_lookup_is_one_statement_by_its_primary_key(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    service.add_machine(ctx, issuer, facility_id=world.plant, name="Line 2", capacity_per_hour=1)
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(ctx.db.engine, "before_cursor_execute", record)
    try:
        service.get_machine(ctx, issuer, world.machine)
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", record)
    reads = [s for s in statements if s.startswith("SELECT")]
    assert len(reads) == 1 and "FROM machines WHERE machines.id =" in reads[0]


def test_reading_a_machine_needs_a_registry_role(ctx: Context) -> None:
    world = build_world(ctx)
    with pytest.raises(Forbidden):
        service.get_machine(ctx, Actor("peer", Role.GSP_PEER), world.machine)
