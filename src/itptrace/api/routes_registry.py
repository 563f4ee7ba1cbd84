"""``/operators``, ``/facilities``, ``/machines``, ``/products``: the issuer's registry.

Registering is the issuer's job (``registry.write``); reading is open to every role that
works with the registry (``registry.read``). Deactivation keeps history: a deactivated
operator, facility, machine or product stays readable (an operator takes its facilities and
machines with it, a facility its machines).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from itptrace.access import Actor, Permission
from itptrace.api.deps import IDENT, Ident, IdentPath, Node, Text, caller
from itptrace.registry import service as registry

router = APIRouter(tags=["registry"])
Country = Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]
GTIN = r"^[0-9]{8,14}$"
GtinPath = Annotated[str, Path(pattern=GTIN)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OperatorIn(_In):
    name: Text
    country: Country
    roles: Annotated[list[Annotated[str, Field(max_length=32)]], Field(min_length=1, max_length=7)]
    tobacco_industry: bool


class FacilityIn(_In):
    operator_id: Ident
    name: Text
    type: Annotated[str, Field(max_length=32)]
    address: Text
    country: Country


class MachineIn(_In):
    facility_id: Ident
    name: Text
    capacity_per_hour: Annotated[int, Field(gt=0, le=10_000_000)]


class ProductIn(_In):
    gtin: Annotated[str, Field(pattern=GTIN)]
    operator_id: Ident
    brand: Text
    description: Text
    category: Annotated[str, Field(max_length=32)]
    pack_size: Annotated[int, Field(gt=0, le=100_000)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class OperatorOut(_Out):
    id: str
    name: str
    country: str
    roles: list[str]
    tobacco_industry: bool
    active: bool


class FacilityOut(_Out):
    id: str
    operator_id: str
    name: str
    type: str
    address: str
    country: str
    active: bool


class MachineOut(_Out):
    id: str
    facility_id: str
    name: str
    capacity_per_hour: int
    active: bool


class ProductOut(_Out):
    gtin: str
    operator_id: str
    brand: str
    description: str
    category: str
    pack_size: int
    active: bool


class OperatorDeactivated(BaseModel):
    operator_id: str
    facilities_deactivated: int
    machines_deactivated: int


class FacilityDeactivated(BaseModel):
    facility_id: str
    machines_deactivated: int


class MachineDeactivated(BaseModel):
    machine_id: str


class ProductDeactivated(BaseModel):
    gtin: str


Writer = caller(Permission.REGISTRY_WRITE)
Reader = caller(Permission.REGISTRY_READ)
FilterId = Annotated[str | None, Query(min_length=1, max_length=32, pattern=IDENT)]


@router.post("/operators", status_code=201, response_model=OperatorOut)
def add_operator(body: OperatorIn, ctx: Node, response: Response, actor: Actor = Writer) -> object:
    """Register an economic operator; the issuer assigns its id."""
    operator = registry.add_operator(ctx, actor, **body.model_dump())
    response.headers["Location"] = f"/operators/{operator.id}"
    return operator


@router.get("/operators", response_model=list[OperatorOut])
def list_operators(ctx: Node, actor: Actor = Reader) -> object:
    return registry.list_operators(ctx, actor)


@router.get("/operators/{operator_id}", response_model=OperatorOut)
def get_operator(operator_id: IdentPath, ctx: Node, actor: Actor = Reader) -> object:
    return registry.get_operator(ctx, operator_id)


@router.post("/operators/{operator_id}/deactivation", response_model=OperatorDeactivated)
def deactivate_operator(operator_id: IdentPath, ctx: Node, actor: Actor = Writer) -> object:
    """Deactivate an operator, its facilities and their machines (history is kept)."""
    facilities, machines = registry.deactivate_operator(ctx, actor, operator_id)
    return OperatorDeactivated(
        operator_id=operator_id, facilities_deactivated=facilities, machines_deactivated=machines
    )


@router.post("/facilities", status_code=201, response_model=FacilityOut)
def add_facility(body: FacilityIn, ctx: Node, response: Response, actor: Actor = Writer) -> object:
    """Register a facility of an operator; its id starts with the issuer code."""
    facility = registry.add_facility(ctx, actor, **body.model_dump())
    response.headers["Location"] = f"/facilities/{facility.id}"
    return facility


@router.get("/facilities", response_model=list[FacilityOut])
def list_facilities(ctx: Node, operator_id: FilterId = None, actor: Actor = Reader) -> object:
    return registry.list_facilities(ctx, actor, operator_id)


@router.get("/facilities/{facility_id}", response_model=FacilityOut)
def get_facility(facility_id: IdentPath, ctx: Node, actor: Actor = Reader) -> object:
    return registry.get_facility(ctx, facility_id)


@router.post("/facilities/{facility_id}/deactivation", response_model=FacilityDeactivated)
def deactivate_facility(facility_id: IdentPath, ctx: Node, actor: Actor = Writer) -> object:
    """Deactivate a facility and all its machines (history is kept)."""
    count = registry.deactivate_facility(ctx, actor, facility_id)
    return FacilityDeactivated(facility_id=facility_id, machines_deactivated=count)


@router.post("/machines", status_code=201, response_model=MachineOut)
def add_machine(body: MachineIn, ctx: Node, response: Response, actor: Actor = Writer) -> object:
    machine = registry.add_machine(ctx, actor, **body.model_dump())
    response.headers["Location"] = f"/machines/{machine.id}"
    return machine


@router.get("/machines", response_model=list[MachineOut])
def list_machines(ctx: Node, facility_id: FilterId = None, actor: Actor = Reader) -> object:
    return registry.list_machines(ctx, actor, facility_id)


@router.get("/machines/{machine_id}", response_model=MachineOut)
def get_machine(machine_id: IdentPath, ctx: Node, actor: Actor = Reader) -> object:
    return registry.get_machine(ctx, actor, machine_id)


@router.post("/machines/{machine_id}/deactivation", response_model=MachineDeactivated)
def deactivate_machine(machine_id: IdentPath, ctx: Node, actor: Actor = Writer) -> object:
    """Deactivate one machine (history is kept)."""
    registry.deactivate_machine(ctx, actor, machine_id)
    return MachineDeactivated(machine_id=machine_id)


@router.post("/products", status_code=201, response_model=ProductOut)
def add_product(body: ProductIn, ctx: Node, response: Response, actor: Actor = Writer) -> object:
    product = registry.add_product(ctx, actor, **body.model_dump())
    response.headers["Location"] = f"/products/{product.gtin}"
    return product


@router.get("/products", response_model=list[ProductOut])
def list_products(ctx: Node, actor: Actor = Reader) -> object:
    return registry.list_products(ctx, actor)


@router.get("/products/{gtin}", response_model=ProductOut)
def get_product(gtin: GtinPath, ctx: Node, actor: Actor = Reader) -> object:
    return registry.get_product(ctx, gtin)


@router.post("/products/{gtin}/deactivation", response_model=ProductDeactivated)
def deactivate_product(gtin: GtinPath, ctx: Node, actor: Actor = Writer) -> object:
    """Deactivate a product (history is kept); answers its GTIN-14."""
    return ProductDeactivated(gtin=registry.deactivate_product(ctx, actor, gtin))
