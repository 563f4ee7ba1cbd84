"""One world builder: a supply chain described once, built through either door.

A ``Description`` names the operators (a manufacturer, an importer and, if wanted, a
retailer), their facilities, the production line and the product. ``register`` records it
on a node, ``issue`` requests the codes (as the manufacturer, the legitimate way),
``production`` makes the events of applying and packing them, and ``journey`` reports
production, the dispatch of the pallet to the importer's depot and its arrival there.

Every step goes through a ``Driver``: ``ServiceDriver`` calls the service functions in this
process with an ``Actor``; ``HttpDriver`` (``sim/http_driver.py``) sends the same requests
with ``httpx`` to a served node, each operator with its own token. The same description
built by either driver gives the same world; only the generated ids and codes differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from itptrace.capture.model import TraceEvent
from itptrace.sim.messages import Messages, hours


@dataclass(frozen=True)
class OperatorSpec:
    name: str
    country: str
    roles: tuple[str, ...]
    account: str  # the user the operator reports as
    tobacco_industry: bool = False


@dataclass(frozen=True)
class SiteSpec:
    name: str
    type: str
    address: str
    country: str


@dataclass(frozen=True)
class ProductSpec:
    gtin: str
    brand: str
    description: str
    category: str = "cigarettes"
    pack_size: int = 20


@dataclass(frozen=True)
class Description:
    """What a world is made of; the outlet belongs to the retailer, or else to the importer."""

    maker: OperatorSpec
    importer: OperatorSpec
    plant: SiteSpec
    depot: SiteSpec
    line: str
    capacity_per_hour: int
    product: ProductSpec
    market: str
    route: str = ""
    retailer: OperatorSpec | None = None
    outlet: SiteSpec | None = None
    prefix: str = "MSG"  # of the message codes

    def accounts(self, prefix: str) -> Description:
        """The same world whose operators report as ``<prefix>-maker`` and so on."""
        return replace(
            self,
            maker=replace(self.maker, account=f"{prefix}-maker"),
            importer=replace(self.importer, account=f"{prefix}-importer"),
            retailer=self.retailer and replace(self.retailer, account=f"{prefix}-retailer"),
            prefix=prefix,
        )


class Driver(Protocol):
    """The door a world is built through; every method returns what the node answered."""

    def now(self) -> datetime: ...

    def add_operator(self, spec: OperatorSpec) -> str: ...

    def add_facility(self, operator_id: str, spec: SiteSpec) -> str: ...

    def add_machine(self, facility_id: str, name: str, capacity_per_hour: int) -> str: ...

    def add_product(self, operator_id: str, spec: ProductSpec) -> str: ...

    def add_account(self, user: str, operator_id: str, tobacco_industry: bool) -> None:
        """An operator user the operator's requests and reports are made as."""

    def request_units(self, user: str, world: World, quantity: int) -> tuple[int, list[str]]:
        """Unit codes for the world's product, line and market: (request id, codes)."""

    def request_boxes(self, user: str, world: World, quantity: int) -> tuple[int, list[str]]:
        """Aggregated codes for the world's plant: (request id, codes)."""

    def report(self, user: str, events: Sequence[TraceEvent]) -> int:
        """Report ``events`` as ``user``; the number accepted. Raises when refused."""


class Refused(RuntimeError):
    """The node refused a step of building the world (the message says what and why)."""


@dataclass
class World:
    """A built world: the ids the node gave, the issued codes and the accounts."""

    description: Description
    maker: str
    importer: str
    plant: str
    depot: str
    machine: str
    gtin: str
    retailer: str | None = None
    outlet: str | None = None
    unit_request: int = 0
    aggregate_request: int = 0
    packs: list[str] = field(default_factory=list)
    boxes: list[str] = field(default_factory=list)  # cartons, cases, pallet, spare boxes
    carton_count: int = 0
    case_count: int = 0
    pallet_count: int = 0
    events: int = 0  # accepted, over every report made through ``send``
    msg: Messages = field(default_factory=Messages)

    @property
    def cartons(self) -> list[str]:
        return self.boxes[: self.carton_count]

    @property
    def cases(self) -> list[str]:
        return self.boxes[self.carton_count : self.carton_count + self.case_count]

    @property
    def pallet(self) -> str:
        if not self.pallet_count:
            raise LookupError("this world was issued no pallet code")
        return self.boxes[self.carton_count + self.case_count]

    @property
    def spare_boxes(self) -> list[str]:
        return self.boxes[self.carton_count + self.case_count + self.pallet_count :]

    @property
    def maker_user(self) -> str:
        return self.description.maker.account

    @property
    def importer_user(self) -> str:
        return self.description.importer.account

    @property
    def importer_of_record(self) -> str | None:
        """The importer named in unit code requests: the "importer", if registered as one."""
        return self.importer if "importer" in self.description.importer.roles else None

    @property
    def retailer_user(self) -> str:
        if self.description.retailer is None:
            raise LookupError("this world has no retailer")
        return self.description.retailer.account


def register(driver: Driver, d: Description) -> World:
    """Record the description's operators, facilities, line and product, and make accounts."""
    maker = driver.add_operator(d.maker)
    importer = driver.add_operator(d.importer)
    plant = driver.add_facility(maker, d.plant)
    depot = driver.add_facility(importer, d.depot)
    retailer = driver.add_operator(d.retailer) if d.retailer else None
    outlet = driver.add_facility(retailer or importer, d.outlet) if d.outlet else None
    machine = driver.add_machine(plant, d.line, d.capacity_per_hour)
    gtin = driver.add_product(maker, d.product)
    for spec, operator in ((d.maker, maker), (d.importer, importer), (d.retailer, retailer)):
        if spec is not None and operator is not None:
            driver.add_account(spec.account, operator, spec.tobacco_industry)
    world = World(d, maker, importer, plant, depot, machine, gtin, retailer, outlet)
    world.msg = Messages(prefix=d.prefix)
    return world


def issue(
    driver: Driver,
    world: World,
    *,
    packs: int,
    cartons: int,
    cases: int,
    pallets: int = 1,
    spare: int = 0,
) -> World:
    """Request the world's unit codes and its boxes (cartons, cases, pallet, spare), as
    the manufacturer's own user."""
    world.unit_request, world.packs = driver.request_units(world.maker_user, world, packs)
    boxes = cartons + cases + pallets + spare
    if boxes:
        world.aggregate_request, world.boxes = driver.request_boxes(world.maker_user, world, boxes)
    world.carton_count, world.case_count, world.pallet_count = cartons, cases, pallets
    return world


def production(world: World, at: datetime) -> list[TraceEvent]:
    """Apply every pack; pack them evenly into the cartons, the cartons into the cases and
    the cases onto the pallet (when the world has one)."""
    m, maker, plant = world.msg, world.maker, world.plant
    events = [m.apply(maker, plant, world.machine, world.packs, at)]
    events += _pack(m, maker, plant, world.cartons, world.packs, at)
    events += _pack(m, maker, plant, world.cases, world.cartons, at)
    if world.pallet_count:
        events.append(m.aggregate(maker, plant, world.pallet, world.cases, at))
    return events


def _pack(
    m: Messages, maker: str, plant: str, parents: list[str], children: list[str], at: datetime
) -> list[TraceEvent]:
    each = len(children) // len(parents) if parents else 0
    return [
        m.aggregate(maker, plant, parent, children[i * each : (i + 1) * each], at)
        for i, parent in enumerate(parents)
    ]


def send(driver: Driver, world: World, user: str, events: Sequence[TraceEvent]) -> int:
    """Report ``events`` as ``user`` and count them in the world's events."""
    accepted = driver.report(user, events)
    world.events += accepted
    return accepted


def journey(driver: Driver, world: World, at: datetime, *, hours_apart: float = 1) -> None:
    """Production reported by the manufacturer, the pallet dispatched to the importer's
    depot, and its arrival reported by the importer ``hours_apart`` later."""
    m = world.msg
    send(driver, world, world.maker_user, production(world, at))
    dispatch = m.dispatch(world.maker, world.plant, [world.pallet], at, to=world.depot)
    send(driver, world, world.maker_user, [dispatch])
    arrival = m.arrive(world.importer, world.depot, [world.pallet], at + hours(hours_apart))
    send(driver, world, world.importer_user, [arrival])
