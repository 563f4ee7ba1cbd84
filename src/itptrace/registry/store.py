"""SQL for the registry tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, insert, select, update

from itptrace.registry.model import (
    Facility,
    FacilityType,
    Machine,
    Operator,
    OperatorRole,
    Party,
    Product,
    ProductCategory,
)
from itptrace.repository.schema import facilities, machines, operators, party, products


def get_party(conn: Connection) -> Party | None:
    row = conn.execute(select(party.c.country, party.c.issuer_code)).first()
    return Party(country=row.country, issuer_code=row.issuer_code) if row else None


def insert_party(conn: Connection, value: Party, now: datetime) -> None:
    conn.execute(
        insert(party).values(
            id=1, country=value.country, issuer_code=value.issuer_code, created_at=now
        )
    )


def _operator(row: Any) -> Operator:
    roles = tuple(OperatorRole(r) for r in row.roles.split(",") if r)
    return Operator(row.id, row.name, row.country, roles, row.tobacco_industry, row.active)


def insert_operator(conn: Connection, value: Operator, now: datetime) -> None:
    conn.execute(
        insert(operators).values(
            id=value.id,
            name=value.name,
            country=value.country,
            roles=",".join(value.roles),
            tobacco_industry=value.tobacco_industry,
            active=value.active,
            created_at=now,
        )
    )


def get_operator(conn: Connection, operator_id: str) -> Operator | None:
    row = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
    return _operator(row) if row else None


def list_operators(conn: Connection) -> list[Operator]:
    return [
        _operator(r)
        for r in conn.execute(select(operators).order_by(operators.c.created_at, operators.c.id))
    ]


def _facility(row: Any) -> Facility:
    return Facility(
        row.id,
        row.operator_id,
        row.name,
        FacilityType(row.type),
        row.address,
        row.country,
        row.active,
    )


def insert_facility(conn: Connection, value: Facility, now: datetime) -> None:
    conn.execute(
        insert(facilities).values(
            id=value.id,
            operator_id=value.operator_id,
            name=value.name,
            type=value.type.value,
            address=value.address,
            country=value.country,
            active=value.active,
            created_at=now,
        )
    )


def get_facility(conn: Connection, facility_id: str) -> Facility | None:
    row = conn.execute(select(facilities).where(facilities.c.id == facility_id)).first()
    return _facility(row) if row else None


def list_facilities(conn: Connection, operator_id: str | None = None) -> list[Facility]:
    query = select(facilities).order_by(facilities.c.created_at, facilities.c.id)
    if operator_id is not None:
        query = query.where(facilities.c.operator_id == operator_id)
    return [_facility(r) for r in conn.execute(query)]


def _deactivate(
    conn: Connection, table: Table, where: ColumnElement[bool], now: datetime | None
) -> bool:
    """Set ``active`` off (and ``deactivated_at``, when given) on the one row still active."""
    values: dict[str, object] = {"active": False}
    if now is not None:
        values["deactivated_at"] = now
    result = conn.execute(update(table).where(where, table.c.active.is_(True)).values(values))
    return result.rowcount == 1


def deactivate_facility(conn: Connection, facility_id: str, now: datetime) -> int:
    """Deactivate a facility and every machine in it; returns the machines deactivated."""
    conn.execute(
        update(facilities)
        .where(facilities.c.id == facility_id)
        .values(active=False, deactivated_at=now)
    )
    result = conn.execute(
        update(machines)
        .where(machines.c.facility_id == facility_id, machines.c.active.is_(True))
        .values(active=False, deactivated_at=now)
    )
    return result.rowcount


def deactivate_operator(
    conn: Connection, operator_id: str, now: datetime
) -> tuple[int, int] | None:
    """Deactivate an active operator, its facilities and their machines; returns how many
    facilities and machines were deactivated, or None if the operator was not active."""
    if not _deactivate(conn, operators, operators.c.id == operator_id, now):
        return None
    owned = select(facilities.c.id).where(facilities.c.operator_id == operator_id)
    machine_count = conn.execute(
        update(machines)
        .where(machines.c.facility_id.in_(owned), machines.c.active.is_(True))
        .values(active=False, deactivated_at=now)
    ).rowcount
    facility_count = conn.execute(
        update(facilities)
        .where(facilities.c.operator_id == operator_id, facilities.c.active.is_(True))
        .values(active=False, deactivated_at=now)
    ).rowcount
    return facility_count, machine_count


def _machine(row: Any) -> Machine:
    return Machine(row.id, row.facility_id, row.name, row.capacity_per_hour, row.active)


def insert_machine(conn: Connection, value: Machine, now: datetime) -> None:
    conn.execute(
        insert(machines).values(
            id=value.id,
            facility_id=value.facility_id,
            name=value.name,
            capacity_per_hour=value.capacity_per_hour,
            active=value.active,
            created_at=now,
        )
    )


def get_machine(conn: Connection, machine_id: str) -> Machine | None:
    row = conn.execute(select(machines).where(machines.c.id == machine_id)).first()
    return _machine(row) if row else None


def list_machines(conn: Connection, facility_id: str | None = None) -> list[Machine]:
    query = select(machines).order_by(machines.c.created_at, machines.c.id)
    if facility_id is not None:
        query = query.where(machines.c.facility_id == facility_id)
    return [_machine(r) for r in conn.execute(query)]


def deactivate_machine(conn: Connection, machine_id: str, now: datetime) -> bool:
    """Deactivate an active machine; False if it was not active."""
    return _deactivate(conn, machines, machines.c.id == machine_id, now)


def _product(row: Any) -> Product:
    return Product(
        row.gtin,
        row.operator_id,
        row.brand,
        row.description,
        ProductCategory(row.category),
        row.pack_size,
        row.active,
    )


def insert_product(conn: Connection, value: Product, now: datetime) -> None:
    conn.execute(
        insert(products).values(
            gtin=value.gtin,
            operator_id=value.operator_id,
            brand=value.brand,
            description=value.description,
            category=value.category.value,
            pack_size=value.pack_size,
            active=value.active,
            created_at=now,
        )
    )


def get_product(conn: Connection, gtin: str) -> Product | None:
    row = conn.execute(select(products).where(products.c.gtin == gtin)).first()
    return _product(row) if row else None


def list_products(conn: Connection) -> list[Product]:
    return [_product(r) for r in conn.execute(select(products).order_by(products.c.gtin))]


def deactivate_product(conn: Connection, gtin: str) -> bool:
    """Deactivate an active product; False if it was not active. The products table has no
    ``deactivated_at`` column, so only ``active`` changes."""
    return _deactivate(conn, products, products.c.gtin == gtin, None)
