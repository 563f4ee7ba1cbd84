"""The demo supply chain: make, pack, ship, receive, split, sell and export.

A manufacturer applies codes to packs, aggregates them into cartons, master cases and a
pallet, invoices the importer and dispatches the pallet; the importer receives it, pays,
disaggregates, sends a carton to a retail outlet and a master case abroad. The world is
built by ``sim.world`` through whichever driver is given: the services in this process,
or HTTP to a served node (as the demo does).
"""

from __future__ import annotations

from collections.abc import Callable

from itptrace.capture.model import DestinationKind, MessageType
from itptrace.queries.wording import when
from itptrace.sim.messages import hours
from itptrace.sim.world import (
    Description,
    Driver,
    OperatorSpec,
    ProductSpec,
    SiteSpec,
    World,
    issue,
    production,
    register,
    send,
)

DEMO = Description(
    maker=OperatorSpec(
        "Nyota Tobacco Ltd", "KE", ("manufacturer", "exporter"), "nyota-reporting", True
    ),
    importer=OperatorSpec(
        "Lake Victoria Distributors",
        "KE",
        ("importer", "distributor", "wholesaler"),
        "lake-reporting",
    ),
    retailer=OperatorSpec("Dunga Kiosk Traders", "KE", ("retailer",), "dunga-reporting"),
    plant=SiteSpec("Nairobi plant", "manufacturing", "Industrial Area, Nairobi", "KE"),
    depot=SiteSpec("Kisumu depot", "warehouse", "Obote Road, Kisumu", "KE"),
    outlet=SiteSpec("Kisumu kiosk", "retail_outlet", "Oginga Odinga St, Kisumu", "KE"),
    line="Maker line 2",
    capacity_per_hour=36_000,
    product=ProductSpec("06009876543219", "Savanna Gold", "Savanna Gold king size, 20 cigarettes"),
    market="KE",
    route="Nairobi - Kisumu by road",
    prefix="NYT",
)


def names_of(world: World) -> dict[str, str]:
    """The demo's operators and facilities by the ids the node gave them, to explain an id
    the first time a story shows it."""
    d = world.description
    named = {
        world.maker: f"manufacturer {d.maker.name}",
        world.importer: f"importer {d.importer.name}",
        world.plant: f"{d.plant.name}, {d.plant.address}",
        world.depot: f"{d.depot.name}, {d.depot.address}",
        world.machine: d.line,
    }
    if world.retailer and d.retailer:
        named[world.retailer] = f"retailer {d.retailer.name}"
    if world.outlet and d.outlet:
        named[world.outlet] = f"{d.outlet.name}, {d.outlet.address}"
    return named


def run_supply_chain(
    driver: Driver,
    say: Callable[[str], None],
    packs_per_carton: int = 10,
    cartons_per_case: int = 5,
    cases: int = 4,
) -> World:
    """Register the demo's world, issue its codes and report the whole journey through
    ``driver``."""
    world = register(driver, DEMO)
    n_cartons = cases * cartons_per_case
    issue(driver, world, packs=n_cartons * packs_per_carton, cartons=n_cartons, cases=cases)
    maker, importer, retailer = world.maker, world.importer, world.retailer or ""
    pack_codes, cartons, case_codes, pallet = world.packs, world.cartons, world.cases, world.pallet
    m, plant, depot, outlet = world.msg, world.plant, world.depot, world.outlet
    t0 = driver.now().replace(microsecond=0) - hours(2)
    send(driver, world, world.maker_user, production(world, t0))
    say(
        f"{when(t0)}: {names_of(world)[maker]} ({maker}) applied codes to "
        f"{len(pack_codes)} packs at {world.description.plant.name} ({plant}), packed "
        f"{len(cartons)} cartons, {len(case_codes)} master cases and pallet {pallet}"
    )

    t1 = t0 + hours(0.5)
    send(
        driver,
        world,
        world.maker_user,
        [
            m.transaction(
                MessageType.EPO,
                maker,
                [pallet],
                t1,
                number="PO-2026-0042",
                amount="1850000.00",
                currency="KES",
                seller=maker,
                buyer=importer,
            ),
            m.transaction(
                MessageType.EIV,
                maker,
                [pallet],
                t1,
                number="INV-2026-0107",
                amount="1850000.00",
                currency="KES",
                seller=maker,
                buyer=importer,
            ),
            m.dispatch(
                maker,
                plant,
                [pallet],
                t1,
                to=depot,
                route="A104 Nairobi - Nakuru - Kisumu",
            ),
        ],
    )
    names = names_of(world)
    say(
        f"{when(t1)}: {names[maker]} recorded order PO-2026-0042 and invoice INV-2026-0107 to "
        f"{names[importer]} ({importer}) and dispatched the pallet to {names[depot]} ({depot})"
    )

    t2 = t1 + hours(1)
    send(
        driver,
        world,
        world.importer_user,
        [
            m.arrive(importer, depot, [pallet], t2),
            m.transaction(
                MessageType.EPR,
                importer,
                [pallet],
                t2,
                number="PAY-88123",
                amount="1850000.00",
                currency="KES",
                seller=maker,
                buyer=importer,
            ),
            m.disaggregate(importer, depot, pallet, [], t2),
            m.disaggregate(importer, depot, case_codes[0], [], t2),
            m.dispatch(importer, depot, [cartons[0]], t2, to=outlet),
            m.dispatch(
                importer,
                depot,
                [case_codes[1]],
                t2,
                kind=DestinationKind.EXPORT,
                country="UG",
                consignee_name="Kampala Wholesale Ltd",
                route="Kisumu - Busia - Kampala",
            ),
        ],
    )
    t3 = t2 + hours(0.5)
    send(
        driver,
        world,
        world.importer_user,
        [
            m.transaction(
                MessageType.EIV,
                importer,
                [cartons[0]],
                t3,
                number="LV-INV-5531",
                amount="46250.00",
                currency="KES",
                seller=importer,
                buyer=retailer,
            ),
        ],
    )
    send(driver, world, world.retailer_user, [m.arrive(retailer, outlet or "", [cartons[0]], t3)])
    say(
        f"{when(t2)} to {when(t3)}: the importer received, paid, split the pallet, sent "
        f"carton {cartons[0]} to {names.get(outlet or '', 'its kiosk')} ({outlet}) and master "
        f"case {case_codes[1]} for export to UG (Uganda, Kampala Wholesale Ltd)"
    )
    return world
