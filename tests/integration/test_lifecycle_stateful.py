"""The pack lifecycle as a Hypothesis state machine, on SQLite and on PostgreSQL.

Each run starts from a copy of one registered chain with issued codes and sends random
applications, aggregations (plant: aggregated UIs, depot: SSCCs), disaggregations,
dispatches, arrivals, deactivations and recalls of the latest message, plus deliberately
invalid reports. A plain model predicts every answer; after each step the database must
agree with it: a pack is never in two containers, every tree holds the packs the model
says, nothing accepted is lost and every refusal is stored with its reason.

Known src bugs are kept out of the random walk and pinned by the xfail tests at the end:
a nested container is checked against its own stale copy of a location (so only containers
whose stored place is their outermost container's are opened or filled), a deactivated
child leaving its container comes back to life (so only live children are taken out), the
recall of a disaggregation listing no children leaves them out (so children are always
listed) and an empty container counts as one pack (so ``unit_count`` is only compared for
trees without empty containers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from itptrace.access import Actor, local_authority, local_issuer
from itptrace.bootstrap import build_node
from itptrace.capture.model import TraceEvent
from itptrace.codes.service import ensure_signing_key
from itptrace.context import Context
from itptrace.gs1.checkdigit import gs1_check_digit
from itptrace.queries.refused import list_refused
from itptrace.queries.service import Node, contents, trace, where
from itptrace.registry.service import init_party
from itptrace.repository.schema import containment, events, recalls, refused_events, ui_state
from itptrace.sim.messages import Messages
from tests.conftest import Databases, make_settings
from tests.integration.chain import Chain, build_chain
from tests.seeded import seeded_copies

SETTINGS = settings(
    max_examples=15, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)  # fmt: skip
SSCCS = [b + gs1_check_digit(b) for b in (f"0600987650{n:07d}" for n in range(1, 5))]
NEVER = "KET01nEvErIsSuEdX"
AUTHORITY = local_authority()
Made = tuple[Actor, list[TraceEvent], str]  # an invalid report and the code it must get


@dataclass
class Seed:
    """One chain built once per database; every machine run gets a fresh copy of it."""

    chain: Chain
    copy: Callable[[int], str]  # run number -> URL of a fresh copy of the seeded database
    drop: Callable[[int], None]
    tmp: Path


def seeded(url: str, tmp: Path) -> Chain:
    ctx = build_node(make_settings(url, tmp), migrate=True)
    init_party(ctx)
    ensure_signing_key(ctx, local_issuer())
    chain = build_chain(ctx, packs=30, cartons=8, cases=4)
    ctx.db.dispose()
    return chain


@pytest.fixture(params=["sqlite", "postgresql"])
def seed(request: pytest.FixtureRequest, tmp_path: Path, databases: Databases) -> Iterator[Seed]:
    with seeded_copies(request, tmp_path, databases, lambda url: seeded(url, tmp_path)) as (
        chain,
        copies,
    ):
        yield Seed(chain, copies.fresh, copies.drop, tmp_path)


@dataclass
class Item:
    """The model of one UI; place, transit and holder count at the top of a tree (nested
    items keep those of the time they were packed, as the repository does)."""

    kind: str
    place: str
    holder: str
    parent: str | None = None
    moving: bool = False
    dead: bool = False


class Lifecycle(RuleBasedStateMachine):
    seed: Seed
    runs = 0

    def __init__(self) -> None:
        super().__init__()
        Lifecycle.runs = self.run = Lifecycle.runs + 1
        url = self.seed.copy(self.run)
        self.ctx = build_node(make_settings(url, self.seed.tmp))
        seed = self.seed.chain
        world = replace(seed.world, msg=Messages(f"R{self.run}"))
        self.c = replace(seed, ctx=self.ctx, world=world)
        w = self.c.world
        self.plant, self.depot = w.plant, w.depot
        self.maker, self.importer = w.maker, w.importer
        self.items: dict[str, Item] = {}
        self.log: list[tuple[TraceEvent, set[str], dict[str, Item | None]]] = []
        self.latest: dict[str, int] = {}  # UI -> index in log of the last event listing it
        self.recalled: set[str] = set()
        self.concerns: dict[str, set[str]] = {}  # pack -> ids of accepted events about it
        self.refused = 0

    def teardown(self) -> None:
        try:  # nothing accepted is lost: every event shows in the trace of every pack it moved
            for pack, ids in self.concerns.items():
                missing = ids - {e.event_id for e in trace(self.ctx, AUTHORITY, pack)}
                assert not missing, f"{pack} lacks {sorted(missing)} in its trace"
        finally:
            self.ctx.db.dispose()
            self.seed.drop(self.run)

    # --- the model ---

    def top(self, ui: str) -> Item:
        while (parent := self.items[ui].parent) is not None:
            ui = parent
        return self.items[ui]

    def kids(self, ui: str) -> list[str]:
        return sorted(u for u, i in self.items.items() if i.parent == ui)

    def tree(self, ui: str) -> set[str]:
        return {ui}.union(*(self.tree(k) for k in self.kids(ui)))

    def packs(self, uis: set[str]) -> set[str]:
        inside = {u for ui in uis & set(self.items) for u in self.tree(ui)}
        return {u for u in inside | uis if u in self.c.packs}

    def loose(self, place: str | None) -> list[str]:
        """Live top-level items at ``place`` (None: in transit)."""
        return sorted(u for u, i in self.items.items() if i.parent is None and not i.dead
                      and (i.place if not i.moving else None) == place)  # fmt: skip

    def fillable(self, place: str) -> list[str]:
        """Live containers at ``place`` in live containers, and not stale (see the top)."""
        return sorted(u for u, i in self.items.items() if i.kind != "unit" and not i.dead
                      and (i.place, i.holder, i.moving) == (place, self.top(u).holder, False)
                      and (self.top(u).place, self.top(u).moving) == (place, False)
                      and not any(self.items[a].dead for a in self.ancestors(u)))  # fmt: skip

    def unused(self, codes: list[str]) -> list[str]:
        return [u for u in codes if u not in self.items]

    def actor(self, operator: str) -> Actor:
        return self.c.maker if operator == self.maker else self.c.importer

    def accept(self, event: TraceEvent, items: set[str], undo: dict[str, Item | None],
               flags: tuple[str, ...] = ()) -> None:  # fmt: skip
        result = self.c.send(self.actor(event.originator_id), event)
        assert result.ok and [a.event_id for a in result.accepted] == [event.event_id], result
        assert result.accepted[0].flags == list(flags)
        for pack in self.packs(items):
            self.concerns.setdefault(pack, set()).add(event.event_id)
        self.log.append((event, items, undo))
        self.latest.update(dict.fromkeys(items, len(self.log) - 1))

    def refuse(self, made: Made) -> None:
        actor, sent, code = made
        before = self.snapshot()
        result = self.c.send(actor, *sent)
        assert result.accepted == [] and {p.code for p in result.problems} == {code}, result
        bad = {p.event_id for p in result.problems}
        stored = list_refused(self.ctx, local_issuer(), limit=1000)[self.refused :]
        assert {r.event_id for r in stored} == bad
        assert {p["code"] for r in stored for p in r.problems} == {code}
        self.refused += len(bad)
        assert self.snapshot() == before

    def snapshot(self) -> tuple[Any, ...]:
        with self.ctx.db.transaction() as conn:
            return tuple(sorted(tuple(r) for r in conn.execute(select(t)))
                         for t in (ui_state, containment, events))  # fmt: skip

    # --- valid reports, each accepted as the model predicts ---

    @initialize(count=st.integers(8, 20))
    def apply_a_production_batch(self, count: int) -> None:
        self.apply(self.c.packs[:count])

    @precondition(lambda self: self.unused(self.c.packs))
    @rule(data=st.data())
    def apply_more_packs(self, data: st.DataObject) -> None:
        self.apply(data.draw(some(self.unused(self.c.packs), 6)))

    def apply(self, uis: list[str]) -> None:
        event = self.c.msg.apply(self.maker, self.plant, self.c.world.machine, uis, self.c.now)
        self.accept(event, set(uis), dict.fromkeys(uis))
        self.items.update({u: Item("unit", self.plant, self.maker) for u in uis})

    @precondition(lambda self: self.loose(self.plant) or self.loose(self.depot))
    @rule(data=st.data())
    def aggregate(self, data: st.DataObject) -> None:
        place = data.draw(st.sampled_from([p for p in (self.plant, self.depot) if self.loose(p)]))
        who, codes = ((self.maker, self.c.cartons + self.c.cases) if place == self.plant
                      else (self.importer, SSCCS))  # fmt: skip
        parents = self.unused(codes) + self.fillable(place)
        if not parents:
            return
        parent = data.draw(st.sampled_from(parents), label="parent")
        kids = [u for u in self.loose(place) if u not in self.tree(self.root(parent))]
        if not kids:
            return
        kids = data.draw(some(kids, 4), label="children")
        undo: dict[str, Item | None] = {k: replace(self.items[k]) for k in kids}
        if parent not in self.items:
            undo[parent] = None
            self.items[parent] = Item("sscc" if parent.isdigit() else "aggregate", place, who)
        self.accept(self.c.msg.aggregate(who, place, parent, kids, self.c.now),
                    {*kids, parent}, undo)  # fmt: skip
        for kid in kids:
            self.items[kid].parent = parent

    def root(self, ui: str) -> str:
        return ([ui, *self.ancestors(ui)])[-1]

    def ancestors(self, ui: str) -> list[str]:
        found = []
        while ui in self.items and (ui := self.items[ui].parent) is not None:  # type: ignore[assignment]
            found.append(ui)
        return found

    def openable(self) -> list[str]:
        return [u for p in (self.plant, self.depot) for u in self.fillable(p) if self.live_kids(u)]

    def live_kids(self, ui: str) -> list[str]:
        return [k for k in self.kids(ui) if not self.items[k].dead]

    @precondition(lambda self: self.openable())
    @rule(data=st.data())
    def disaggregate(self, data: st.DataObject) -> None:
        parent = data.draw(st.sampled_from(self.openable()), label="parent")
        kids = data.draw(some(self.live_kids(parent), 99), label="children")
        top = self.top(parent)
        event = self.c.msg.disaggregate(top.holder, top.place, parent, kids, self.c.now)
        self.accept(event, {*kids, parent}, {k: replace(self.items[k]) for k in kids})
        for kid in kids:
            self.items[kid] = replace(self.items[kid], parent=None, place=top.place,
                                      holder=top.holder)  # fmt: skip

    @precondition(lambda self: self.loose(self.plant))
    @rule(data=st.data())
    def dispatch(self, data: st.DataObject) -> None:
        uis = data.draw(some(self.loose(self.plant), 3))
        event = self.c.msg.dispatch(self.maker, self.plant, uis, self.c.now, to=self.depot)
        self.move(event, moving=True)

    @precondition(lambda self: self.loose(None) or self.loose(self.plant))
    @rule(data=st.data())
    def arrive(self, data: st.DataObject) -> None:
        """Receive items in transit; items never dispatched to the importer stay put."""
        uis = data.draw(some(self.loose(None) or self.loose(self.plant), 3))
        event = self.c.msg.arrive(self.importer, self.depot, uis, self.c.now)
        if not self.loose(None):  # still at the maker's plant: no custody without a dispatch
            self.refuse((self.c.importer, [event], "not_in_your_custody"))
            return
        self.move(event, moving=False)

    def move(self, event: TraceEvent, *, moving: bool, flags: tuple[str, ...] = ()) -> None:
        self.accept(event, set(event.uis), {u: replace(self.items[u]) for u in event.uis}, flags)
        for ui in event.uis:
            self.items[ui].moving = moving
            if not moving:
                self.items[ui].place, self.items[ui].holder = self.depot, self.importer

    @precondition(lambda self: any(not i.dead for i in self.items.values()))
    @rule(data=st.data(), go=st.integers(0, 2))
    def deactivate(self, data: st.DataObject, go: int) -> None:
        if go:  # one step in three: a deactivated item leaves the walk
            return
        ui = data.draw(st.sampled_from(sorted(u for u, i in self.items.items() if not i.dead)))
        reason = data.draw(st.sampled_from(["destroyed", "stolen", "lost", "recalled"]))
        event = self.c.msg.deactivate(self.top(ui).holder, [ui], self.c.now, reason)
        self.accept(event, {ui}, {ui: replace(self.items[ui])})
        self.items[ui].dead = True

    def recallable(self) -> list[int]:
        return [n for n, (e, _i, _u) in enumerate(self.log)
                if e.recalled_event_id is None and e.event_id not in self.recalled]  # fmt: skip

    @precondition(lambda self: self.recallable())
    @rule(go=st.integers(0, 3))
    def recall_the_latest_message(self, go: int) -> None:
        if go:  # one step in four: a recall undoes the walk
            return
        index = self.recallable()[-1]
        target, items, undo = self.log[index]
        event = self.c.msg.recall(target.originator_id, target.event_id, self.c.now)
        if any(self.latest[u] > index for u in items):
            self.refuse((self.actor(target.originator_id), [event], "recall_superseded"))
            return
        self.accept(event, items, {})
        self.recalled.add(target.event_id)
        for ui, before in undo.items():
            if before is None:
                self.items.pop(ui)
            else:
                self.items[ui] = replace(before)

    @precondition(lambda self: self.log)
    @rule()
    def resend_the_latest_message_unchanged(self) -> None:
        event = self.log[-1][0]
        before = self.snapshot()
        result = self.c.send(self.actor(event.originator_id), event)
        assert result.duplicates == [event.event_id] and not result.accepted, result
        assert self.snapshot() == before

    # --- invalid reports: refused, stored with their reason, and change nothing ---

    @rule(data=st.data())
    def send_an_invalid_report(self, data: st.DataObject) -> None:
        m, now, maker, plant = self.c.msg, self.c.now, self.c.maker, self.plant
        live = sorted(u for u, i in self.items.items() if not i.dead)
        nested = [u for u in live if self.items[u].parent and self.root(u) in self.loose(plant)]
        dead = sorted(u for u, i in self.items.items() if i.dead)
        held = [u for u in live if self.top(u).holder == self.maker]
        own = [u for u in self.units() if self.top(u).holder == self.maker]
        theirs = [u for u in self.units() if self.top(u).holder != self.maker]
        fresh, boxes = self.unused(self.c.packs), self.unused(self.c.cartons + self.c.cases)
        line = self.c.world.machine

        def ship(uis: list[str]) -> TraceEvent:
            return m.dispatch(self.maker, plant, uis, now, to=self.depot)

        cases: list[tuple[Any, Callable[[], Made]]] = [
            (True, lambda: (maker, [m.apply(self.maker, plant, line, [NEVER], now)], "ui_unknown")),
            (True, lambda: (maker, [m.recall(self.maker, "NO-SUCH", now)], "unknown_event")),
            (own, lambda: (maker, [m.apply(self.maker, plant, line, [
                data.draw(st.sampled_from(own))], now)], "ui_already_applied")),
            # a pack someone else now holds: the maker hears only that it is not its own
            (theirs, lambda: (maker, [m.apply(self.maker, plant, line, [
                data.draw(st.sampled_from(theirs))], now)], "not_in_your_custody")),
            (nested, lambda: (maker, [ship(nested[:1])], "item_inside_container")),
            (self.loose(None), lambda: (maker, [ship(self.loose(None)[:1])], "item_in_transit")),
            (dead, lambda: (maker, [ship(dead[:1])], "ui_deactivated")),
            (held, lambda: (self.c.importer, [m.deactivate(self.importer, held[:1], now,
                                                           "lost")],
                            # the consignee of goods on their way hears why; others nothing
                            "not_custodian" if self.top(held[0]).moving
                            else "not_in_your_custody")),
            (self.fillable(plant), lambda: (maker, [m.aggregate(self.maker, plant, (
                box := self.fillable(plant)[0]), [box], now)], "aggregation_cycle")),
            (nested and boxes, lambda: (maker, [m.aggregate(self.maker, plant, boxes[0],
                                        nested[:1], now)], "child_already_aggregated")),
            (fresh, lambda: (maker, [m.apply(self.maker, plant, line, fresh[:1], now),
                                     ship([NEVER])], "ui_not_applied")),
            (self.log, lambda: (self.actor(self.log[-1][0].originator_id), [replace(
                self.log[-1][0], event_time=now - timedelta(minutes=1))], "duplicate_event_id")),
        ]  # fmt: skip
        made = data.draw(st.sampled_from([make for ok, make in cases if ok]), label="invalid")
        self.refuse(made())

    def units(self) -> list[str]:
        return sorted(u for u, i in self.items.items() if i.kind == "unit")

    # --- invariants ---

    @invariant()
    def the_database_agrees_with_the_model(self) -> None:
        with self.ctx.db.transaction() as conn:
            states = {r.ui: r for r in conn.execute(select(ui_state))}
            open_rows = conn.execute(select(func.count()).select_from(containment).where(
                containment.c.to_seq.is_(None))).scalar_one()  # fmt: skip
            entered = dict(conn.execute(select(events.c.seq, events.c.parent).where(
                events.c.message_type == "EPA")).all())  # fmt: skip
            stored = set(conn.execute(select(events.c.event_id)).scalars())
            recalled = set(conn.execute(select(events.c.event_id).join(
                recalls, recalls.c.recalled_seq == events.c.seq)).scalars())  # fmt: skip
            refused = conn.execute(select(func.count()).select_from(refused_events)).scalar_one()
        assert open_rows == 0, "containment keeps only closed stays"
        for ui, state in states.items():
            # A UI's current stay starts at an aggregation into that very parent.
            since = state.parent_since_seq
            assert (since is None) == (state.parent is None), ui
            assert since is None or entered[since] == state.parent, ui
        assert set(states) == set(self.items)
        for ui, item in self.items.items():
            state, top = states[ui], self.top(ui)
            assert (state.kind, state.parent, state.status == "deactivated") == (
                item.kind, item.parent, item.dead), ui  # fmt: skip
            if item.parent is None and not item.dead:
                status = "in_transit" if item.moving else "active"
                assert (state.status, state.facility_id, state.custodian_id) == (
                    status, top.place, top.holder), ui  # fmt: skip
        assert stored == {e.event_id for e, _i, _u in self.log}
        assert recalled == self.recalled and refused == self.refused

    @invariant()
    def every_tree_holds_the_packs_the_model_says(self) -> None:
        counted = 0
        for ui, item in self.items.items():
            if item.parent is not None:
                continue
            expected = self.packs({ui})
            counted += len(expected)
            if item.kind == "unit":
                continue
            root = contents(self.ctx, AUTHORITY, ui)
            pairs, leaves = walk(root)
            assert pairs == {(k, p) for k in self.tree(ui) - {ui} if (p := self.items[k].parent)}
            assert {u for u in leaves if u in self.c.packs} == expected
            assert root.unit_count == len(expected)
        assert counted == len(self.units()), "a pack was lost or counted twice"

    @invariant()
    def the_latest_event_shows_in_the_trace_and_place_of_its_packs(self) -> None:
        if not self.log:
            return
        event, items, _undo = self.log[-1]
        for pack in sorted(self.packs(items))[:2]:
            assert event.event_id in {e.event_id for e in trace(self.ctx, AUTHORITY, pack)}
            if pack in self.items:
                found, top = where(self.ctx, AUTHORITY, pack), self.top(pack)
                assert (found.facility_id, found.parent) == (top.place, self.items[pack].parent)


def some(items: list[str], most: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), min_size=1, max_size=most, unique=True)


def walk(node: Node) -> tuple[set[tuple[str, str]], set[str]]:
    """The (child, parent) pairs and the leaves of a tree."""
    if not node.children:
        return set(), {node.ui}
    pairs: set[tuple[str, str]] = set()
    leaves: set[str] = set()
    for child in node.children:
        more, leaf = walk(child)
        pairs, leaves = pairs | more | {(child.ui, node.ui)}, leaves | leaf
    return pairs, leaves


def test_the_pack_lifecycle_keeps_its_invariants(seed: Seed) -> None:
    run_state_machine_as_test(type("Run", (Lifecycle,), {"seed": seed}), settings=SETTINGS)


# --- known src bugs, kept out of the walk above; each test passes once its bug is fixed ---


@pytest.fixture
def packed(ctx: Context) -> Chain:
    """Eight packs applied at the plant, five of them in a carton."""
    c = build_chain(ctx, packs=8, cartons=2, cases=1)
    w = c.world
    sent = c.send(
        c.maker,
        c.msg.apply(w.maker, w.plant, w.machine, c.packs, c.now),
        c.msg.aggregate(w.maker, w.plant, c.cartons[0], c.packs[:5], c.now),
    )
    assert sent.ok
    return c


def at_plant(c: Chain, make: Callable[..., TraceEvent], *args: Any) -> Any:
    return c.send(c.maker, make(c.world.maker, c.world.plant, *args, c.now))


def test_a_carton_inside_a_case_in_transit_cannot_be_filled_at_the_plant(packed: Chain) -> None:
    c, m = packed, packed.msg
    assert at_plant(c, m.aggregate, c.cases[0], c.cartons[:1]).ok
    assert c.send(c.maker, m.dispatch(c.world.maker, c.world.plant, c.cases, c.now,
                                      to=c.world.depot)).ok  # fmt: skip
    late = at_plant(c, m.aggregate, c.cartons[0], c.packs[5:6])
    assert [p.code for p in late.problems] == ["item_in_transit"]


def test_a_deactivated_pack_taken_out_of_its_carton_stays_deactivated(packed: Chain) -> None:
    c, m = packed, packed.msg
    assert c.send(c.maker, m.deactivate(c.world.maker, c.packs[:1], c.now, "destroyed")).ok
    assert at_plant(c, m.disaggregate, c.cartons[0], c.packs[:1]).ok
    assert where(c.ctx, AUTHORITY, c.packs[0]).status == "deactivated"


def test_recalling_an_unpacking_of_all_children_puts_them_back(packed: Chain) -> None:
    c, m = packed, packed.msg
    unpack = m.disaggregate(c.world.maker, c.world.plant, c.cartons[0], [], c.now)
    assert c.send(c.maker, unpack).ok
    assert c.send(c.maker, m.recall(c.world.maker, unpack.event_id, c.now)).ok
    assert contents(c.ctx, AUTHORITY, c.cartons[0]).unit_count == 5
    assert where(c.ctx, AUTHORITY, c.packs[0]).parent == c.cartons[0]


def test_an_empty_carton_holds_no_packs(packed: Chain) -> None:
    c = packed
    assert at_plant(c, c.msg.disaggregate, c.cartons[0], c.packs[:5]).ok
    assert contents(c.ctx, AUTHORITY, c.cartons[0]).unit_count == 0
