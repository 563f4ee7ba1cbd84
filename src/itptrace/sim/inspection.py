"""A seeded inspection campaign: legitimate trade and scans, with illicit cases injected.

A manufacturer in Kenya packs cartons for the Kenyan market; a distributor takes them to
depots in five cities, delivers most to retail outlets there and exports some to Uganda.
Inspectors scan packs where they legitimately are (shops, depots, Kampala for the exports),
each pack one to three times over three weeks. Injected cases, each to be flagged:

* ``clone``: a genuine code printed again and scanned in two other cities shortly after;
* ``diverted``: a carton made for Kenya scanned in Tanzania or Uganda, no export record;
* ``counterfeit``: random codes, forged tags and a genuine tag pasted onto another UI;
* ``deactivated``: packs of a carton reported destroyed, or recalled by the issuer;
* ``stolen``: packs of a carton reported stolen, found on sale;
* ``after_export``: packs exported to Uganda found back in Kenya days later;
* ``unapplied``: codes issued but never reported as applied.

The node's clock must be a ``FixedClock``: the campaign moves it forward scan by scan.
"""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from itptrace.access import Actor, Role, local_issuer
from itptrace.capture.model import CaptureError, DestinationKind, TraceEvent
from itptrace.capture.service import capture
from itptrace.clock import FixedClock
from itptrace.codes import lifecycle
from itptrace.codes.model import SERIAL_ALPHABET
from itptrace.context import Context
from itptrace.gs1.element import CodePayload, to_raw
from itptrace.sim.forgery import copied_tag, element_text
from itptrace.sim.messages import Messages
from itptrace.sim.service_driver import ServiceDriver
from itptrace.sim.world import Description, OperatorSpec, ProductSpec, SiteSpec, issue, register
from itptrace.verify.model import Place, ScanInput, Verdict
from itptrace.verify.service import verify

CITIES = {
    "Nairobi": (-1.2864, 36.8172),
    "Mombasa": (-4.0435, 39.6682),
    "Kisumu": (-0.0917, 34.7680),
    "Nakuru": (-0.3031, 36.0800),
    "Eldoret": (0.5143, 35.2698),
}
ABROAD = {"UG": ("Kampala", 0.3476, 32.5825), "TZ": ("Dar es Salaam", -6.7924, 39.2083)}
PACKS_PER_CARTON = 10
PRODUCT: dict[str, Any] = {
    "gtin": "06001234567899",
    "brand": "Simba Red",
    "description": "Simba Red 20",
    "category": "cigarettes",
    "pack_size": 20,
}


@dataclass
class Case:
    kind: str
    subject: str
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return any(v is not Verdict.AUTHENTIC for v in self.verdicts)


@dataclass
class Campaign:
    legitimate: int = 0
    false_positives: list[str] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)

    @property
    def false_positive_rate(self) -> float:
        return len(self.false_positives) / self.legitimate if self.legitimate else 0.0

    @property
    def detection_rate(self) -> float:
        return sum(c.flagged for c in self.cases) / len(self.cases) if self.cases else 1.0

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """(flagged, injected) per kind of case."""
        out: dict[str, tuple[int, int]] = {}
        for c in self.cases:
            flagged, total = out.get(c.kind, (0, 0))
            out[c.kind] = (flagged + c.flagged, total + 1)
        return out


@dataclass
class _Planned:
    at: datetime
    text: str
    place: Place
    case: Case | None


@dataclass
class _World:
    payloads: dict[str, CodePayload]
    retail: dict[str, list[str]]  # city -> cartons at its outlet
    depot: dict[str, list[str]]  # city -> cartons at its depot
    exported: list[str]
    contents: dict[str, list[str]]
    unapplied: list[str]
    start: datetime
    trader: Actor
    messages: Messages

    def code(self, ui: str) -> str:
        return to_raw(self.payloads[ui])


def _send(ctx: Context, actor: Actor, events: list[TraceEvent]) -> None:
    result = capture(ctx, actor, events)
    if not result.ok:
        raise CaptureError(result.problems)


OUTLET = SiteSpec("Nairobi", "retail_outlet", "Nairobi", "KE")
CAMPAIGN = Description(
    maker=OperatorSpec("Simba Leaf", "KE", ("manufacturer",), "sim-maker", True),
    importer=OperatorSpec("Rift Distributors", "KE", ("distributor",), "sim-trader"),
    plant=SiteSpec("Thika", "manufacturing", "Thika", "KE"),
    depot=SiteSpec("Nairobi", "warehouse", "Nairobi", "KE"),
    outlet=OUTLET,
    line="L1",
    capacity_per_hour=36_000,
    product=ProductSpec(**PRODUCT),
    market="KE",
    prefix="SIM",
)
"""The campaign's world: its distributor (the "importer") has a depot and a shop in each
city; the builder makes those of the first city, ``_build`` the others."""


def _build(ctx: Context, rng: random.Random, cartons: int, unapplied: int) -> _World:
    admin, driver = local_issuer(), ServiceDriver(ctx)
    chain = register(driver, CAMPAIGN)
    depots, outlets = {"Nairobi": chain.depot}, {"Nairobi": chain.outlet or ""}
    for city in list(CITIES)[1:]:
        site = {"name": city, "address": city}
        depots[city] = driver.add_facility(chain.importer, replace(CAMPAIGN.depot, **site))
        outlets[city] = driver.add_facility(chain.importer, replace(OUTLET, **site))
    quantity = cartons * PACKS_PER_CARTON + unapplied
    issue(driver, chain, packs=quantity, cartons=cartons, cases=0, pallets=0)
    maker, trader, plant, line = chain.maker, chain.importer, chain.plant, chain.machine
    payloads = {p.ui: p for p in lifecycle.request_codes(ctx, admin, chain.unit_request)}
    packs = sorted(payloads)
    rng.shuffle(packs)
    box_codes = chain.cartons
    as_maker, as_trader = driver.actor(chain.maker_user), driver.actor(chain.importer_user)
    m, t = chain.msg, ctx.clock.now() - timedelta(hours=2)
    n = PACKS_PER_CARTON
    contents = {c: packs[i * n : (i + 1) * n] for i, c in enumerate(box_codes)}
    applied = packs[: cartons * n]
    production = [m.apply(maker, plant, line, applied, t)]
    production += [m.aggregate(maker, plant, c, contents[c], t) for c in box_codes]
    _send(ctx, as_maker, production)
    cities = list(CITIES)
    home = {c: cities[i % len(cities)] for i, c in enumerate(box_codes)}
    shipping = [
        m.dispatch(maker, plant, [c for c in box_codes if home[c] == city], t, to=depot)
        for city, depot in depots.items()
    ]
    _send(ctx, as_maker, shipping)
    world = _World(payloads, {}, {}, [], contents, packs[cartons * n :], t, as_trader, m)
    later: list[TraceEvent] = []
    export = functools.partial(
        m.dispatch,
        kind=DestinationKind.EXPORT,
        country="UG",
        consignee_name="Kampala Traders",
        route="Busia border",
    )
    for city in cities:
        mine = [c for c in box_codes if home[c] == city]
        later.append(m.arrive(trader, depots[city], mine, t))
        shares = [box_codes.index(c) % 20 for c in mine]  # 70 % retail, 15 % depot, 15 % export
        world.retail[city] = [c for c, k in zip(mine, shares, strict=True) if k < 14]
        world.depot[city] = [c for c, k in zip(mine, shares, strict=True) if 14 <= k < 17]
        leaving = [c for c, k in zip(mine, shares, strict=True) if k >= 17]
        world.exported += leaving
        later += [m.retail(trader, depots[city], outlets[city], [c], t) for c in world.retail[city]]
        later += [export(trader, depots[city], [c], t) for c in leaving]
    _send(ctx, as_trader, later)
    return world


def _near(rng: random.Random, lat: float, lon: float) -> tuple[float, float]:
    """A point within about 300 m: one shop, one depot."""
    return lat + rng.uniform(-0.0025, 0.0025), lon + rng.uniform(-0.0025, 0.0025)


def _at(rng: random.Random, city: str, with_position: bool = True) -> Place:
    if city in ABROAD:
        name, lat, lon = ABROAD[city]
        return Place(city, name, *_near(rng, lat, lon))
    if not with_position:
        return Place("KE", city)
    return Place("KE", city, *_near(rng, *CITIES[city]))


def _forgeries(world: _World, rng: random.Random, count: int) -> list[str]:
    """Random serials with random tags, single-character tag changes, genuine tags pasted onto
    other UIs, and bare random UIs, in turn."""
    genuine, codes = list(world.payloads.values()), []
    for i in range(count):
        base = rng.choice(genuine)
        gtin, ui, kid, tag = base.gtin or "", base.ui, base.key_id or "", base.tag or ""
        guessed = ui[:5] + "".join(rng.choice(SERIAL_ALPHABET) for _ in range(9)) + ui[14:]
        noise = "".join(rng.choice(SERIAL_ALPHABET + "-_") for _ in range(85)) + "A"
        changed = tag[:10] + ("A" if tag[10] != "A" else "B") + tag[11:]
        options = (
            element_text(gtin, guessed, kid, noise),
            element_text(gtin, ui, kid, changed),
            copied_tag(base, rng.choice(genuine)),
            guessed,
        )
        codes.append(options[i % 4])
    return codes


def _plan(
    ctx: Context, world: _World, rng: random.Random, legitimate: int, clones: int
) -> tuple[list[_Planned], list[Case]]:
    start, cities, each = world.start, list(CITIES), max(2, len(world.contents) // 50)

    def window() -> datetime:
        return start + timedelta(days=1, seconds=rng.uniform(0, 20 * 86400))

    retail = [(city, c) for city in cities for c in world.retail[city]]
    depot = [(city, c) for city in cities for c in world.depot[city]]
    rng.shuffle(retail)
    rng.shuffle(depot)
    planned: list[_Planned] = []
    cases: list[Case] = []

    def case(kind: str, subject: str, *scans: tuple[datetime, str, Place]) -> None:
        cases.append(Case(kind, subject))
        planned.extend(_Planned(at, text, place, cases[-1]) for at, text, place in scans)

    for city, carton in retail[:clones]:  # one genuine sighting, two copies far away
        pack, at = world.contents[carton][0], window()
        planned.append(_Planned(at, world.code(pack), _at(rng, city), None))
        others = rng.sample([c for c in cities if c != city], 2)
        case(
            "clone",
            pack,
            *[
                (at + timedelta(minutes=10 + 15 * k), world.code(pack), _at(rng, other))
                for k, other in enumerate(others)
            ],
        )
    recalled = retail[clones : clones + each]
    packs = [world.contents[c][1] for _city, c in recalled]
    lifecycle.deactivate_codes(ctx, local_issuer(), packs, "recalled", "sim recall")
    for (city, _carton), pack in zip(recalled, packs, strict=True):
        case("deactivated", pack, (window(), world.code(pack), _at(rng, city)))
    m, trader, events = world.messages, world.trader, []
    for k, (city, carton) in enumerate(depot[: 3 * each]):
        first_two = world.contents[carton][:2]
        if k < each:  # diverted: scanned abroad with no export record
            abroad = "TZ" if k % 2 == 0 else "UG"
            case(
                "diverted",
                carton,
                *[(window(), world.code(p), _at(rng, abroad)) for p in first_two],
            )
            continue
        reason = "stolen" if k < 2 * each else "destroyed"
        events.append(m.deactivate(trader.operator_id or "", [carton], start, reason))
        elsewhere = rng.choice([c for c in cities if c != city])
        kind = "stolen" if reason == "stolen" else "deactivated"
        case(kind, carton, (window(), world.code(first_two[0]), _at(rng, elsewhere)))
    _send(ctx, trader, events)
    for carton in world.exported[:each]:  # back in Kenya days after its export
        at = start + timedelta(days=rng.uniform(4, 20))
        case(
            "after_export", carton, (at, world.code(world.contents[carton][0]), _at(rng, "Nairobi"))
        )
    for ui in world.unapplied:
        case("unapplied", ui, (window(), world.code(ui), _at(rng, "Mombasa")))
    for text in _forgeries(world, rng, max(12, clones)):
        case("counterfeit", text[:40], (window(), text, _at(rng, rng.choice(cities))))
    reserved = {c for _city, c in retail[: clones + each] + depot[: 3 * each]}
    reserved |= set(world.exported[:each])
    pool = [(city, c, "retail") for city, c in retail] + [(city, c, "depot") for city, c in depot]
    pool += [("UG", c, "export") for c in world.exported]
    scanned = [
        (city, p, how) for city, c, how in pool if c not in reserved for p in world.contents[c]
    ]
    rng.shuffle(scanned)
    legit = 0
    for city, pack, how in scanned:  # legitimate scans, where each pack really is
        for at in sorted(window() for _ in range(rng.choice((1, 1, 2, 3)))):
            if legit >= legitimate:
                return planned, cases
            if how == "export":
                at = start + timedelta(days=1, hours=rng.uniform(0, 480))
            place = _at(rng, city, with_position=rng.random() < 0.8)
            planned.append(_Planned(at, world.code(pack), place, None))
            legit += 1
    return planned, cases


def run_campaign(
    ctx: Context,
    *,
    seed: int = 7,
    cartons: int = 100,
    legitimate: int = 500,
    clones: int = 10,
    say: Callable[[str], None] = lambda _text: None,
) -> Campaign:
    """Build the chain, scan as inspectors would, and count what was flagged."""
    clock = ctx.clock
    if not isinstance(clock, FixedClock):
        raise ValueError("the inspection campaign needs a FixedClock (ITPTRACE_CLOCK=<instant>)")
    rng = random.Random(seed)
    world = _build(ctx, rng, cartons, unapplied=5)
    planned, cases = _plan(ctx, world, rng, legitimate, clones)
    say(f"{len(planned)} scans planned: {len(cases)} injected cases")
    inspector = Actor("sim-inspector", Role.INSPECTOR)
    campaign = Campaign(cases=cases)
    for item in sorted(planned, key=lambda p: p.at):
        clock.current = max(clock.current, item.at)
        scan = ScanInput(item.text, item.place, item.at, str(uuid.UUID(int=rng.getrandbits(128))))
        verdict = verify(ctx, inspector, scan).verdict
        if item.case is not None:
            item.case.verdicts.append(verdict)
        else:
            campaign.legitimate += 1
            if verdict is not Verdict.AUTHENTIC:
                campaign.false_positives.append(item.text)
    return campaign
