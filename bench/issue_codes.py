"""Issue signed unit UIs (generate, sign, store) against raw signing and raw inserts.

Baselines, measured in the same run on the same machine: the raw Ed25519 signing rate of
the same library in one process, and the raw executemany insert rate of the same rows into
a table of the same shape in the same SQLite database.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from _common import bench_node, bench_world, parse_args, report, scratch, timed
from itptrace.access import local_issuer
from itptrace.codes import service as issuer
from itptrace.codes.model import random_serials, signed_message, unit_ui
from itptrace.keys.signing import make_tag


def raw_signing_rate(samples: int) -> float:
    key = Ed25519PrivateKey.generate()
    messages = [
        signed_message(unit_ui("KET01", s, "9TZKUVUT"), "06009876543219")
        for s in random_serials(samples, 9)
    ]
    _, seconds = timed(lambda: [make_tag(key, m) for m in messages])
    return samples / seconds


def raw_insert_rate(database: Path, rows: list[tuple[str, int, str]]) -> float:
    import sqlite3

    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE raw_uis (ui VARCHAR(50) PRIMARY KEY, request_id INTEGER NOT NULL, "
        "tag VARCHAR(100))"
    )
    conn.execute("CREATE INDEX ix_raw_uis_request ON raw_uis (request_id)")

    def insert() -> None:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO raw_uis VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")

    _, seconds = timed(insert)
    conn.close()
    return len(rows) / seconds


def main() -> None:
    args = parse_args(__doc__ or "")
    count = 100_000 if args.quick else 1_000_000
    workdir = scratch("itptrace-bench-")
    ctx = bench_node(workdir)
    actor = local_issuer()
    _, world = bench_world(ctx)
    request = issuer.UnitRequest(world.maker, world.plant, world.machine, world.gtin, "KE", count)

    batch, seconds = timed(lambda: issuer.request_unit_codes(ctx, actor, request))
    rate = count / seconds
    sign_rate = raw_signing_rate(min(count, 100_000))
    tag = "A" * 86
    rows = [
        (unit_ui("KET01", s, "9TZKUVUT"), batch.request_id, tag) for s in random_serials(count, 9)
    ]
    insert_rate = raw_insert_rate(workdir / "bench.db", rows)
    ctx.db.dispose()

    print(f"issued {count:,} signed unit UIs in {seconds:.1f} s: {rate:,.0f} codes/s")
    print(
        f"raw Ed25519 signing, one process: {sign_rate:,.0f} signatures/s "
        f"(ratio {rate / sign_rate:.2f})"
    )
    print(
        f"raw SQLite executemany insert of the same rows: {insert_rate:,.0f} rows/s "
        f"(ratio {rate / insert_rate:.2f})"
    )
    report(
        "issue_codes",
        rate,
        "codes/s",
        sign_rate,
        codes=count,
        seconds=round(seconds, 2),
        raw_insert_rows_per_s=round(insert_rate),
        ratio_to_raw_insert=round(rate / insert_rate, 3),
    )


if __name__ == "__main__":
    main()
