"""The demo supply chain: make, pack, ship, receive, split, sell and export.

A manufacturer applies codes to packs, aggregates them into cartons, master cases and a
pallet, invoices the importer and dispatches the pallet; the importer receives it, pays,
disaggregates, sends a carton to a retail outlet and a master case abroad.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from itptrace.access import Actor, Role, local_issuer
from itptrace.capture.model import CaptureError, DestinationKind, MessageType, TraceEvent
from itptrace.capture.service import capture
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer
from itptrace.context import Context
from itptrace.registry import service as registry
from itptrace.sim.messages import Messages, hours


@dataclass
class ChainRun:
    maker: str
    importer: str
    retailer: str
    plant: str
    machine: str
    gtin: str
    depot: str
    outlet: str
    packs: list[str]
    cartons: list[str]
    cases: list[str]
    pallet: str
    events: int


Reporter = Callable[[Actor, list[TraceEvent]], int]
"""Sends one report as ``actor`` and returns the events accepted; raises if it is refused."""


def in_process(ctx: Context) -> Reporter:
    """Report through ``capture()`` in this process."""

    def send(actor: Actor, events: list[TraceEvent]) -> int:
        result = capture(ctx, actor, events)
        if not result.ok:
            raise CaptureError(result.problems)
        return len(result.accepted)

    return send


def run_supply_chain(
    ctx: Context,
    say: Callable[[str], None],
    packs_per_carton: int = 10,
    cartons_per_case: int = 5,
    cases: int = 4,
    reporter: Reporter | None = None,
) -> ChainRun:
    """Register the chain, issue codes and report the whole journey, through ``reporter``
    (by default ``capture()`` in process; the demo sends the same reports over HTTP)."""
    admin = local_issuer()
    maker = registry.add_operator(
        ctx,
        admin,
        name="Nyota Tobacco Ltd",
        country="KE",
        roles=["manufacturer", "exporter"],
        tobacco_industry=True,
    )
    importer = registry.add_operator(
        ctx,
        admin,
        name="Lake Victoria Distributors",
        country="KE",
        roles=["importer", "distributor", "wholesaler"],
        tobacco_industry=False,
    )
    plant = registry.add_facility(
        ctx,
        admin,
        operator_id=maker.id,
        name="Nairobi plant",
        type="manufacturing",
        address="Industrial Area, Nairobi",
        country="KE",
    )
    depot = registry.add_facility(
        ctx,
        admin,
        operator_id=importer.id,
        name="Kisumu depot",
        type="warehouse",
        address="Obote Road, Kisumu",
        country="KE",
    )
    retailer = registry.add_operator(
        ctx,
        admin,
        name="Dunga Kiosk Traders",
        country="KE",
        roles=["retailer"],
        tobacco_industry=False,
    )
    outlet = registry.add_facility(
        ctx,
        admin,
        operator_id=retailer.id,
        name="Kisumu kiosk",
        type="retail_outlet",
        address="Oginga Odinga St, Kisumu",
        country="KE",
    )
    line = registry.add_machine(
        ctx, admin, facility_id=plant.id, name="Maker line 2", capacity_per_hour=36_000
    )
    product = registry.add_product(
        ctx,
        admin,
        gtin="06009876543219",
        operator_id=maker.id,
        brand="Savanna Gold",
        description="Savanna Gold king size, 20 cigarettes",
        category="cigarettes",
        pack_size=20,
    )
    n_cartons = cases * cartons_per_case
    units = issuer.request_unit_codes(
        ctx,
        admin,
        issuer.UnitRequest(
            maker.id,
            plant.id,
            line.id,
            product.gtin,
            "KE",
            n_cartons * packs_per_carton,
            route="Nairobi - Kisumu by road",
            importer_id=importer.id,
        ),
    )
    boxes = issuer.request_aggregate_codes(
        ctx, admin, issuer.AggregateRequest(maker.id, plant.id, n_cartons + cases + 1)
    )
    pack_codes = [c.ui for c in lifecycle.request_codes(ctx, admin, units.request_id)]
    box_codes = [c.ui for c in lifecycle.request_codes(ctx, admin, boxes.request_id)]
    cartons, case_codes, pallet = box_codes[:n_cartons], box_codes[n_cartons:-1], box_codes[-1]

    as_maker = Actor("nyota-reporting", Role.OPERATOR, operator_id=maker.id, tobacco_industry=True)
    as_importer = Actor("lake-reporting", Role.OPERATOR, operator_id=importer.id)
    m = Messages(prefix="NYT")
    t0 = ctx.clock.now().replace(microsecond=0) - hours(2)
    count = 0

    report = reporter or in_process(ctx)

    def send(actor: Actor, events: list[TraceEvent]) -> None:
        nonlocal count
        count += report(actor, events)

    production = [m.apply(maker.id, plant.id, line.id, pack_codes, t0)]
    for i, carton in enumerate(cartons):
        production.append(
            m.aggregate(
                maker.id,
                plant.id,
                carton,
                pack_codes[i * packs_per_carton : (i + 1) * packs_per_carton],
                t0,
            )
        )
    for i, case in enumerate(case_codes):
        production.append(
            m.aggregate(
                maker.id,
                plant.id,
                case,
                cartons[i * cartons_per_case : (i + 1) * cartons_per_case],
                t0,
            )
        )
    production.append(m.aggregate(maker.id, plant.id, pallet, case_codes, t0))
    send(as_maker, production)
    say(
        f"manufacturer applied {len(pack_codes)} packs, packed {len(cartons)} cartons, "
        f"{len(case_codes)} master cases and pallet {pallet}"
    )

    t1 = t0 + hours(0.5)
    send(
        as_maker,
        [
            m.transaction(
                MessageType.EPO,
                maker.id,
                [pallet],
                t1,
                number="PO-2026-0042",
                amount="1850000.00",
                currency="KES",
                seller=maker.id,
                buyer=importer.id,
            ),
            m.transaction(
                MessageType.EIV,
                maker.id,
                [pallet],
                t1,
                number="INV-2026-0107",
                amount="1850000.00",
                currency="KES",
                seller=maker.id,
                buyer=importer.id,
            ),
            m.dispatch(
                maker.id,
                plant.id,
                [pallet],
                t1,
                to=depot.id,
                route="A104 Nairobi - Nakuru - Kisumu",
            ),
        ],
    )
    say(f"manufacturer invoiced {importer.id} and dispatched the pallet to {depot.id}")

    t2 = t1 + hours(1)
    send(
        as_importer,
        [
            m.arrive(importer.id, depot.id, [pallet], t2),
            m.transaction(
                MessageType.EPR,
                importer.id,
                [pallet],
                t2,
                number="PAY-88123",
                amount="1850000.00",
                currency="KES",
                seller=maker.id,
                buyer=importer.id,
            ),
            m.disaggregate(importer.id, depot.id, pallet, [], t2),
            m.disaggregate(importer.id, depot.id, case_codes[0], [], t2),
            m.dispatch(importer.id, depot.id, [cartons[0]], t2, to=outlet.id),
            m.dispatch(
                importer.id,
                depot.id,
                [case_codes[1]],
                t2,
                kind=DestinationKind.EXPORT,
                country="UG",
                consignee_name="Kampala Wholesale Ltd",
                route="Kisumu - Busia - Kampala",
            ),
        ],
    )
    as_retailer = Actor("dunga-reporting", Role.OPERATOR, operator_id=retailer.id)
    t3 = t2 + hours(0.5)
    send(
        as_importer,
        [
            m.transaction(
                MessageType.EIV,
                importer.id,
                [cartons[0]],
                t3,
                number="LV-INV-5531",
                amount="46250.00",
                currency="KES",
                seller=importer.id,
                buyer=retailer.id,
            ),
        ],
    )
    send(as_retailer, [m.arrive(retailer.id, outlet.id, [cartons[0]], t3)])
    say(
        f"importer received, paid, split the pallet, sent carton {cartons[0]} to its kiosk "
        f"and master case {case_codes[1]} for export to UG"
    )
    return ChainRun(
        maker.id,
        importer.id,
        retailer.id,
        plant.id,
        line.id,
        product.gtin,
        depot.id,
        outlet.id,
        pack_codes,
        cartons,
        case_codes,
        pallet,
        count,
    )
