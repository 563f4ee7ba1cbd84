"""Registry services: the Party, economic operators, facilities, machines and products.

Identifiers of operators (E), facilities (F) and machines (M) are issued here, by the ID
issuer, as the issuer code + a kind letter + 6 random characters. Registration is the
issuer's job (EU 2018/574 Art. 14-19); refused input stores nothing. Every write calls
``ctx.names.invalidate()`` once its transaction has committed, so the node's cache of
registry names (read by verification) never outlives the row it was read from.
"""

from __future__ import annotations

import secrets
import string

from itptrace.access import Actor, Permission, authorize
from itptrace.context import Context
from itptrace.countries import checked_country
from itptrace.errors import Conflict, NotFound
from itptrace.registry import store
from itptrace.registry.model import (
    Facility,
    FacilityType,
    Machine,
    Operator,
    OperatorRole,
    Party,
    Product,
    ProductCategory,
    RegistryError,
    checked_gtin,
    parse_enum,
    require_positive,
    require_text,
)
from itptrace.repository.db import IntegrityError

_ID_ALPHABET = string.digits + string.ascii_uppercase


def _new_id(ctx: Context, kind: str) -> str:
    return ctx.settings.issuer_code + kind + "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))


def _already_deactivated(what: str, ident: str) -> Conflict:
    return Conflict(f"{what} {ident} is already deactivated", subject=ident)


def init_party(ctx: Context) -> Party:
    """Record the Party this node serves (idempotent; a different Party is refused)."""
    wanted = Party(checked_country(ctx.settings.country), ctx.settings.issuer_code)
    with ctx.db.transaction() as conn:
        current = store.get_party(conn)
        if current is None:
            store.insert_party(conn, wanted, ctx.clock.now())
            return wanted
    if current != wanted:
        raise Conflict(
            f"this database belongs to {current.country}/{current.issuer_code}, "
            f"not {wanted.country}/{wanted.issuer_code}"
        )
    return current


def add_operator(
    ctx: Context, actor: Actor, *, name: str, country: str, roles: list[str], tobacco_industry: bool
) -> Operator:
    authorize(actor, Permission.REGISTRY_WRITE)
    if not roles:
        raise RegistryError("an economic operator needs at least one role")
    parsed = tuple(dict.fromkeys(parse_enum(OperatorRole, r, "operator role") for r in roles))
    operator = Operator(
        _new_id(ctx, "E"),
        require_text(name, "operator name"),
        checked_country(country),
        parsed,
        tobacco_industry,
    )
    with ctx.db.transaction() as conn:
        store.insert_operator(conn, operator, ctx.clock.now())
    ctx.names.invalidate()
    return operator


def get_operator(ctx: Context, operator_id: str) -> Operator:
    """An operator whether active or not."""
    with ctx.db.reading() as conn:
        operator = store.get_operator(conn, operator_id)
    if operator is None:
        raise NotFound(f"unknown economic operator {operator_id}", subject=operator_id)
    return operator


def require_operator(ctx: Context, operator_id: str) -> Operator:
    with ctx.db.reading() as conn:
        operator = store.get_operator(conn, operator_id)
    if operator is None:
        raise NotFound(f"unknown economic operator {operator_id}", subject=operator_id)
    if not operator.active:
        raise Conflict(f"economic operator {operator_id} is deactivated", subject=operator_id)
    return operator


def deactivate_operator(ctx: Context, actor: Actor, operator_id: str) -> tuple[int, int]:
    """Deactivate an operator with all its facilities and their machines (history is kept);
    returns how many facilities and machines were deactivated with it."""
    authorize(actor, Permission.REGISTRY_WRITE)
    with ctx.db.transaction() as conn:
        if store.get_operator(conn, operator_id) is None:
            raise NotFound(f"unknown economic operator {operator_id}", subject=operator_id)
        counts = store.deactivate_operator(conn, operator_id, ctx.clock.now())
    ctx.names.invalidate()
    if counts is None:
        raise _already_deactivated("economic operator", operator_id)
    return counts


def add_facility(
    ctx: Context,
    actor: Actor,
    *,
    operator_id: str,
    name: str,
    type: str,
    address: str,
    country: str,
) -> Facility:
    authorize(actor, Permission.REGISTRY_WRITE)
    require_operator(ctx, operator_id)
    facility = Facility(
        _new_id(ctx, "F"),
        operator_id,
        require_text(name, "facility name"),
        parse_enum(FacilityType, type, "facility type"),
        require_text(address, "address"),
        checked_country(country),
    )
    with ctx.db.transaction() as conn:
        store.insert_facility(conn, facility, ctx.clock.now())
    ctx.names.invalidate()
    return facility


def require_facility(ctx: Context, facility_id: str) -> Facility:
    with ctx.db.reading() as conn:
        facility = store.get_facility(conn, facility_id)
    if facility is None:
        raise NotFound(f"unknown facility {facility_id}", subject=facility_id)
    if not facility.active:
        raise Conflict(f"facility {facility_id} is deactivated", subject=facility_id)
    return facility


def get_facility(ctx: Context, facility_id: str) -> Facility:
    """A facility whether active or not (history keeps pointing at deactivated ones)."""
    with ctx.db.reading() as conn:
        facility = store.get_facility(conn, facility_id)
    if facility is None:
        raise NotFound(f"unknown facility {facility_id}", subject=facility_id)
    return facility


def deactivate_facility(ctx: Context, actor: Actor, facility_id: str) -> int:
    """Deactivate a facility and, with it, all its machines; returns the machine count."""
    authorize(actor, Permission.REGISTRY_WRITE)
    require_facility(ctx, facility_id)
    with ctx.db.transaction() as conn:
        machines = store.deactivate_facility(conn, facility_id, ctx.clock.now())
    ctx.names.invalidate()
    return machines


def add_machine(
    ctx: Context, actor: Actor, *, facility_id: str, name: str, capacity_per_hour: int
) -> Machine:
    authorize(actor, Permission.REGISTRY_WRITE)
    require_facility(ctx, facility_id)
    machine = Machine(
        _new_id(ctx, "M"),
        facility_id,
        require_text(name, "machine name"),
        require_positive(capacity_per_hour, "machine capacity"),
    )
    with ctx.db.transaction() as conn:
        store.insert_machine(conn, machine, ctx.clock.now())
    ctx.names.invalidate()
    return machine


def get_machine(ctx: Context, actor: Actor, machine_id: str) -> Machine:
    """A machine whether active or not, read by its id (one primary-key lookup)."""
    authorize(actor, Permission.REGISTRY_READ)
    with ctx.db.reading() as conn:
        machine = store.get_machine(conn, machine_id)
    if machine is None:
        raise NotFound(f"unknown machine {machine_id}", subject=machine_id)
    return machine


def require_machine(ctx: Context, machine_id: str, facility_id: str) -> Machine:
    with ctx.db.reading() as conn:
        machine = store.get_machine(conn, machine_id)
    if machine is None:
        raise NotFound(f"unknown machine {machine_id}", subject=machine_id)
    if machine.facility_id != facility_id:
        raise RegistryError(
            f"machine {machine_id} is not at facility {facility_id}",
            subject=machine_id,
            code="machine_not_at_facility",
        )
    if not machine.active:
        raise Conflict(f"machine {machine_id} is deactivated", subject=machine_id)
    return machine


def deactivate_machine(ctx: Context, actor: Actor, machine_id: str) -> None:
    """Deactivate one machine (history is kept); its facility stays active."""
    authorize(actor, Permission.REGISTRY_WRITE)
    with ctx.db.transaction() as conn:
        if store.get_machine(conn, machine_id) is None:
            raise NotFound(f"unknown machine {machine_id}", subject=machine_id)
        changed = store.deactivate_machine(conn, machine_id, ctx.clock.now())
    ctx.names.invalidate()
    if not changed:
        raise _already_deactivated("machine", machine_id)


def add_product(
    ctx: Context,
    actor: Actor,
    *,
    gtin: str,
    operator_id: str,
    brand: str,
    description: str,
    category: str,
    pack_size: int,
) -> Product:
    authorize(actor, Permission.REGISTRY_WRITE)
    require_operator(ctx, operator_id)
    product = Product(
        checked_gtin(gtin),
        operator_id,
        require_text(brand, "brand"),
        require_text(description, "product description"),
        parse_enum(ProductCategory, category, "product category"),
        require_positive(pack_size, "pack size"),
    )
    try:
        with ctx.db.transaction() as conn:
            store.insert_product(conn, product, ctx.clock.now())
    except IntegrityError:
        raise Conflict(
            f"product {product.gtin} is already registered", subject=product.gtin
        ) from None
    ctx.names.invalidate()
    return product


def get_product(ctx: Context, gtin: str) -> Product:
    """A product whether active or not (history keeps pointing at deactivated ones)."""
    normalized = checked_gtin(gtin)
    with ctx.db.reading() as conn:
        product = store.get_product(conn, normalized)
    if product is None:
        raise NotFound(f"unknown product {normalized}", subject=normalized)
    return product


def require_product(ctx: Context, gtin: str) -> Product:
    """An active product: what new codes may be issued for (readers use ``get_product``)."""
    product = get_product(ctx, gtin)
    if not product.active:
        raise Conflict(f"product {product.gtin} is deactivated", subject=product.gtin)
    return product


def deactivate_product(ctx: Context, actor: Actor, gtin: str) -> str:
    """Deactivate a product (history is kept); returns its GTIN-14."""
    authorize(actor, Permission.REGISTRY_WRITE)
    normalized = checked_gtin(gtin)
    with ctx.db.transaction() as conn:
        if store.get_product(conn, normalized) is None:
            raise NotFound(f"unknown product {normalized}", subject=normalized)
        changed = store.deactivate_product(conn, normalized)
    ctx.names.invalidate()
    if not changed:
        raise _already_deactivated("product", normalized)
    return normalized


def list_operators(ctx: Context, actor: Actor) -> list[Operator]:
    authorize(actor, Permission.REGISTRY_READ)
    with ctx.db.reading() as conn:
        return store.list_operators(conn)


def list_facilities(ctx: Context, actor: Actor, operator_id: str | None = None) -> list[Facility]:
    authorize(actor, Permission.REGISTRY_READ)
    with ctx.db.reading() as conn:
        return store.list_facilities(conn, operator_id)


def list_machines(ctx: Context, actor: Actor, facility_id: str | None = None) -> list[Machine]:
    authorize(actor, Permission.REGISTRY_READ)
    with ctx.db.reading() as conn:
        return store.list_machines(conn, facility_id)


def list_products(ctx: Context, actor: Actor) -> list[Product]:
    authorize(actor, Permission.REGISTRY_READ)
    with ctx.db.reading() as conn:
        return store.list_products(conn)
