"""Capture throughput in unit packs per second, and trace latency, on SQLite and PostgreSQL.

A realistic mix goes through ``capture()``: production batches of 10,000 packs, each one
document holding its application (EUA) and its aggregations into cartons of 10 packs and
cases of 50 cartons; then per pallet of 40 cases (20,000 packs) one document aggregating
the pallet (an SSCC) and dispatching it, and one arrival document from the importer. Codes
are issued first (not timed). The baseline, measured in the same run and database: the raw
insert of the very rows the capture wrote (events, event_items, ui_state, containment and
the ledger's leaves and nodes, counted from the database afterwards) into copies of the
same tables, with plain executemany on SQLite and COPY on PostgreSQL. Trace latency: p50
and p99 of ``trace()`` over 1,000 random packs at the repository size reached.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from sqlalchemy import MetaData, Table  # noqa: E402
from sqlalchemy.sql.elements import quoted_name  # noqa: E402
from tests.pgserver import PostgresUnavailable, running_server  # noqa: E402

from _common import bench_world, report, scratch  # noqa: E402
from itptrace.access import Actor, Role, local_authority, local_issuer  # noqa: E402
from itptrace.bootstrap import build_node  # noqa: E402
from itptrace.capture.model import TraceEvent  # noqa: E402
from itptrace.capture.service import capture  # noqa: E402
from itptrace.codes import lifecycle  # noqa: E402
from itptrace.codes import service as issuer  # noqa: E402
from itptrace.config import Settings  # noqa: E402
from itptrace.context import Context  # noqa: E402
from itptrace.gs1.checkdigit import gs1_check_digit  # noqa: E402
from itptrace.queries.service import trace  # noqa: E402
from itptrace.registry import service as registry  # noqa: E402
from itptrace.repository import schema  # noqa: E402
from itptrace.sim.messages import Messages  # noqa: E402
from itptrace.sim.worlds import SMALL  # noqa: E402

BATCH, PER_CARTON, PER_CASE, PER_PALLET = 10_000, 10, 50, 40
PALLET = PER_CARTON * PER_CASE * PER_PALLET  # 20,000 packs
QUICK = 100_000
WRITTEN = (schema.events, schema.event_items, schema.ui_state, schema.containment,
           schema.ledger_leaves, schema.ledger_nodes)  # fmt: skip
Document = tuple[Actor, list[TraceEvent]]


@dataclass
class Site:
    ctx: Context
    maker: str
    importer: str
    plant: str
    depot: str
    line: str
    packs: list[str]
    boxes: list[str]  # aggregated UIs: cartons, then cases


def prepare(url: str, workdir: Path, packs: int) -> Site:
    """A node with one manufacturer, one importer and every code the run will need."""
    settings = Settings(database_url=url, key_dir=workdir / "keys", country="KE",
                        issuer_code="KET01", clock="2026-01-05T08:00:00+00:00",
                        default_profile="eu")  # fmt: skip
    ctx, actor = build_node(settings, migrate=True), local_issuer()
    registry.init_party(ctx)
    _, world = bench_world(ctx, SMALL)
    units: list[str] = []
    while len(units) < packs:
        wanted = min(packs - len(units), 1_000_000)
        request = issuer.UnitRequest(
            world.maker, world.plant, world.machine, world.gtin, "UG", wanted
        )
        batch = issuer.request_unit_codes(ctx, actor, request)
        units += [c.ui for c in lifecycle.request_codes(ctx, actor, batch.request_id)]
    boxes_wanted = packs // PER_CARTON + packs // (PER_CARTON * PER_CASE)
    aggregate = issuer.AggregateRequest(world.maker, world.plant, boxes_wanted)
    batch = issuer.request_aggregate_codes(ctx, actor, aggregate)
    boxes = [c.ui for c in lifecycle.request_codes(ctx, actor, batch.request_id)]
    return Site(
        ctx, world.maker, world.importer, world.plant, world.depot, world.machine, units, boxes
    )


def documents(site: Site) -> Iterator[Document]:
    """The reports of the run, pallet by pallet, in the order a supply chain sends them."""
    msg, now = Messages("B"), site.ctx.clock.now()
    maker = Actor("maker", Role.OPERATOR, operator_id=site.maker, tobacco_industry=True)
    importer = Actor("importer", Role.OPERATOR, operator_id=site.importer)
    cartons = iter(site.boxes[: len(site.packs) // PER_CARTON])
    cases = iter(site.boxes[len(site.packs) // PER_CARTON :])
    for number, start in enumerate(range(0, len(site.packs), PALLET)):
        pallet_cases = []
        for batch in range(start, start + PALLET, BATCH):
            packs = site.packs[batch : batch + BATCH]
            doc = [msg.apply(site.maker, site.plant, site.line, packs, now)]
            batch_cartons = []
            for i in range(0, len(packs), PER_CARTON):
                batch_cartons.append(next(cartons))
                doc.append(msg.aggregate(site.maker, site.plant, batch_cartons[-1],
                                         packs[i : i + PER_CARTON], now))  # fmt: skip
            for i in range(0, len(batch_cartons), PER_CASE):
                pallet_cases.append(next(cases))
                doc.append(msg.aggregate(site.maker, site.plant, pallet_cases[-1],
                                         batch_cartons[i : i + PER_CASE], now))  # fmt: skip
            yield maker, doc
        body = f"0600987650{number:07d}"
        pallet = body + gs1_check_digit(body)
        ship = msg.dispatch(site.maker, site.plant, [pallet], now, to=site.depot)
        yield maker, [msg.aggregate(site.maker, site.plant, pallet, pallet_cases, now), ship]
        yield importer, [msg.arrive(site.importer, site.depot, [pallet], now)]


def run_capture(site: Site) -> tuple[float, int]:
    """Seconds spent inside ``capture()`` for every document, and the events accepted."""
    docs, seconds, accepted = list(documents(site)), 0.0, 0
    for actor, events in docs:
        start = time.perf_counter()
        result = capture(site.ctx, actor, events)
        seconds += time.perf_counter() - start
        assert result.ok, result.problems[:3]
        accepted += len(result.accepted)
    return seconds, accepted


def raw_baseline(ctx: Context) -> dict[str, tuple[int, float]]:
    """Per table the capture wrote: its row count and the seconds a raw insert of them takes
    into a copy of the table (same columns, keys and indexes) in the same database."""
    meta, copies = MetaData(), {}
    for table in WRITTEN:
        copy = table.to_metadata(meta, name=f"raw_{table.name}")
        for index in copy.indexes:
            index.name = quoted_name(f"raw_{index.name}", None)
        copies[table.name] = copy
    meta.create_all(ctx.db.engine)
    raw = ctx.db.engine.raw_connection()
    try:
        return {t.name: copy_rows(raw, t, copies[t.name]) for t in WRITTEN}
    finally:
        raw.close()


def copy_rows(raw: Any, table: Table, target: Table, chunk: int = 200_000) -> tuple[int, float]:
    columns = [c.name for c in table.columns]
    names = ", ".join(columns)
    postgres = ctx_is_pg(raw)
    reader = raw.cursor()
    reader.execute(f"SELECT {names} FROM {table.name}")
    rows, seconds = 0, 0.0
    writer = raw.cursor()
    marks = ", ".join("%s" if postgres else "?" for _ in columns)
    while batch := reader.fetchmany(chunk):
        start = time.perf_counter()
        if postgres:
            with writer.copy(f"COPY {target.name} ({names}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(row)
        else:
            writer.execute("BEGIN")
            writer.executemany(f"INSERT INTO {target.name} VALUES ({marks})", batch)
            writer.execute("COMMIT")
        raw.commit()
        seconds += time.perf_counter() - start
        rows += len(batch)
    return rows, seconds


def ctx_is_pg(raw: Any) -> bool:
    return type(raw.driver_connection).__module__.startswith("psycopg")


def trace_latency(site: Site, samples: int = 1_000) -> tuple[float, float]:
    """p50 and p99 of ``trace()`` in milliseconds over random packs."""
    who, took = local_authority(), []
    for ui in random.Random(7).sample(site.packs, min(samples, len(site.packs))):
        start = time.perf_counter()
        entries = trace(site.ctx, who, ui)
        took.append((time.perf_counter() - start) * 1000)
        assert len(entries) >= 6, (ui, entries)
    cuts = statistics.quantiles(took, n=100)
    return statistics.median(took), cuts[98]


def measure(label: str, url: str, workdir: Path, packs: int) -> dict[str, float]:
    start = time.perf_counter()
    site = prepare(url, workdir, packs)
    print(f"[{label}] issued {packs:,} unit and {len(site.boxes):,} aggregated UIs "
          f"in {time.perf_counter() - start:.1f} s (not timed)")  # fmt: skip
    seconds, accepted = run_capture(site)
    rate = packs / seconds
    tables = raw_baseline(site.ctx)
    rows = sum(n for n, _s in tables.values())
    raw_seconds = sum(s for _n, s in tables.values())
    p50, p99 = trace_latency(site)
    site.ctx.db.dispose()
    print(f"[{label}] capture: {packs:,} packs, {accepted:,} events in {seconds:.1f} s = "
          f"{rate:,.0f} packs/s")  # fmt: skip
    print(f"[{label}] rows written (raw insert rows/s): " + ", ".join(
        f"{k} {n:,} ({n / s:,.0f}/s)" if n else f"{k} 0"
        for k, (n, s) in tables.items()))  # fmt: skip
    print(f"[{label}] raw insert of the same {rows:,} rows: {raw_seconds:.1f} s = "
          f"{rows / raw_seconds:,.0f} rows/s = {packs / raw_seconds:,.0f} packs/s "
          f"({rows / packs:.1f} rows per pack); capture_seconds / raw_seconds = "
          f"{seconds / raw_seconds:.2f}")  # fmt: skip
    print(f"[{label}] trace over 1,000 random packs: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    return {"packs_per_s": rate, "raw_packs_per_s": packs / raw_seconds, "seconds": seconds,
            "raw_seconds": raw_seconds, "rows": rows, "events": accepted,
            "trace_p50_ms": p50, "trace_p99_ms": p99}  # fmt: skip


def postgres(packs: int, workdir: Path) -> dict[str, float] | None:
    import psycopg

    try:
        with running_server() as admin:
            with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            return measure("postgresql", f"{admin}/bench", workdir / "pg", packs)
    except PostgresUnavailable as exc:
        print(f"[postgresql] not measured: {exc}".splitlines()[0])
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK:,} packs, under a minute")
    parser.add_argument("--big", action="store_true", help="also 10,000,000 packs on SQLite")
    parser.add_argument("--packs", type=int, help="packs per database (a multiple of 20,000)")
    args = parser.parse_args()
    packs = args.packs or (QUICK if args.quick else 1_000_000)
    if packs % PALLET:
        parser.error(f"--packs must be a multiple of {PALLET:,}")
    workdir = scratch("itptrace-bench-")
    lite = measure("sqlite", f"sqlite:///{workdir / 'bench.db'}", workdir, packs)
    pg = postgres(packs, workdir)
    big = None
    if args.big and not args.quick:
        big = measure("sqlite-10M", f"sqlite:///{workdir / 'big.db'}", workdir / "big", 10**7)
    else:
        print("10,000,000-pack run skipped (pass --big, without --quick, to run it)")

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(f"targets (reported, not asserted): >= 50,000 packs/s on SQLite: "
          f"{met(lite['packs_per_s'] >= 50_000)}; trace p99 < 20 ms: SQLite "
          f"{met(lite['trace_p99_ms'] < 20)}"
          + (f", PostgreSQL {met(pg['trace_p99_ms'] < 20)}" if pg else ""))  # fmt: skip
    extra: dict[str, Any] = {
        "packs": packs, "events": lite["events"], "rows": lite["rows"],
        "capture_seconds": round(lite["seconds"], 2), "raw_seconds": round(lite["raw_seconds"], 2),
        "trace_p50_ms": round(lite["trace_p50_ms"], 2),
        "trace_p99_ms": round(lite["trace_p99_ms"], 2),
        "postgres_packs_per_s": round(pg["packs_per_s"]) if pg else None,
        "postgres_ratio": round(pg["packs_per_s"] / pg["raw_packs_per_s"], 3) if pg else None,
        "postgres_trace_p99_ms": round(pg["trace_p99_ms"], 2) if pg else None,
        "big_packs_per_s": round(big["packs_per_s"]) if big else None,
        "big_trace_p99_ms": round(big["trace_p99_ms"], 2) if big else None,
    }  # fmt: skip
    report("capture", lite["packs_per_s"], "packs/s", lite["raw_packs_per_s"], **extra)


if __name__ == "__main__":
    main()
