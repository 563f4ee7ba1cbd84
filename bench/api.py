"""HTTP throughput and latency of verify, trace and where beside their in-process rates.

Over HTTP: ``POST /verify`` (a new scan each time), ``GET /uis/{ui}/trace`` and
``GET /uis/{ui}/where`` on random packs of the demo supply chain, each at 1, 8 and 32
concurrent clients for a fixed time, against a real ``itptrace serve --workers 2`` process on
a loopback port. Beside them, in the same run and on the same server, ``GET /ping``: a
no-op endpoint (no token, no database, no thread) is the ceiling of this server and this
load generator; ``ratio/ping`` says how far each operation is below it.

In-process, on the same database and in the same run: the same service calls one after
another, a raw Ed25519 signature check (``cryptography``, the key type codes are signed
with: the least a verification costs) and a raw primary-key SELECT of a pack's UI through
the driver (the least a lookup costs). ``ratio/in-process`` is HTTP over in-process:
above 1 the two server processes win back more than HTTP, authentication and the audit
record of every pack-level read cost.

Each cell also gives ``cpu ms``: the CPU time the server's processes used per request
served (in-process: this process's per call). On a machine shared with other work the
rates fall with the CPU left to the server, its CPU per request much less; the load
average before and after is printed beside the figures. ``--seconds`` makes the cells
longer than ``--quick``'s 1 s where the machine is busy.

The load generator is ``wrk`` (one thread, a Lua script for the bodies, random packs and
tokens) when it is installed, else a bounded asyncio ``httpx`` client: far heavier, its
own cost shows as a low ``/ping`` ceiling (then compare ratios, not absolute rates). Every
cell is bounded in time (``--timeout`` and the cell length) and only talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from _common import report, scratch  # noqa: E402
from itptrace.access import Actor, Role, local_authority, local_issuer  # noqa: E402
from itptrace.auth import service as auth  # noqa: E402
from itptrace.bootstrap import build_node  # noqa: E402
from itptrace.codes import lifecycle  # noqa: E402
from itptrace.codes.model import random_serials, signed_message, unit_ui  # noqa: E402
from itptrace.codes.service import ensure_signing_key  # noqa: E402
from itptrace.config import Settings  # noqa: E402
from itptrace.context import Context  # noqa: E402
from itptrace.gs1.element import to_raw  # noqa: E402
from itptrace.queries import service as queries  # noqa: E402
from itptrace.registry.service import init_party  # noqa: E402
from itptrace.sim.scenario import run_supply_chain  # noqa: E402
from itptrace.sim.service_driver import ServiceDriver  # noqa: E402
from itptrace.verify.model import Place, ScanInput  # noqa: E402
from itptrace.verify.service import verify  # noqa: E402

CLIENTS = (1, 8, 32)
OPERATIONS = ("ping", "verify", "trace", "where")
WORKERS = 2
INSPECTOR = Actor("bench-inspector", Role.INSPECTOR)
Cell = dict[str, float]


@dataclass
class Target:
    """What the load generators send: the server, tokens, packs and scan texts."""

    url: str
    authority: str
    inspector: str
    packs: list[str]
    scans: list[str]


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by process ``root`` and its descendants.

    The machine may be shared: a rate falls when other programs take the cores, but the
    server's CPU per request does not, so each cell also reports ``cpu_ms`` per request.
    """
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    total, wanted = 0.0, {root}
    for pid in sorted(times):  # children have higher pids here, but walk up to be sure
        ancestor = pid
        while ancestor not in wanted and ancestor in parents and ancestor > 1:
            ancestor = parents[ancestor]
        if ancestor in wanted:
            total += times[pid]
    return total


def with_cpu(cell: Callable[[], Cell], server: int) -> Cell:
    """Run one cell and add the server's CPU milliseconds per request it served."""
    before = tree_cpu_seconds(server)
    figures = cell()
    used = tree_cpu_seconds(server) - before
    served = figures.pop("requests")
    return {**figures, "cpu_ms": round(1000 * used / max(served, 1), 3)}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def figures(latencies: list[float], seconds: float) -> Cell:
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
    }


def in_process(call: Callable[[], Any], seconds: float, limit: int = 1_000_000) -> Cell:
    latencies: list[float] = []
    start, cpu = time.perf_counter(), time.process_time()
    end = start + seconds
    while (began := time.perf_counter()) < end and len(latencies) < limit:
        call()
        latencies.append(time.perf_counter() - began)
    cell = figures(latencies, time.perf_counter() - start)
    used = time.process_time() - cpu
    return {**cell, "cpu_ms": round(1000 * used / max(cell.pop("requests"), 1), 3)}


def raw_ed25519(seconds: float) -> Cell:
    """Check one real signature per call: a code's signed message, the node's key type."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    messages = [
        signed_message(unit_ui("KET01", s, "9TZKUVUT"), "06009876543219")
        for s in random_serials(500, 9)
    ]
    signed = [(key.sign(m), m) for m in messages]
    it = iter(range(10**9))
    return in_process(lambda: public.verify(*signed[next(it) % len(signed)]), seconds)


def raw_lookup(ctx: Context, packs: list[str], seconds: float) -> Cell:
    """A primary-key SELECT of a pack's issued UI through the bare driver, no SQLAlchemy."""
    mark = "?" if ctx.db.dialect == "sqlite" else "%s"
    statement = f"SELECT ui, request_id, tag FROM unit_uis WHERE ui = {mark}"
    if ctx.db.dialect == "sqlite":
        conn: Any = sqlite3.connect(ctx.db.engine.url.database or "")
    else:
        conn = ctx.db.engine.raw_connection()
    rng = random.Random(3)
    try:
        cursor = conn.cursor()

        def one() -> None:
            cursor.execute(statement, (rng.choice(packs),))
            assert cursor.fetchone() is not None

        return in_process(one, seconds)
    finally:
        conn.close()


# --- wrk: a Lua script per cell, its figures printed by done() as one JSON line ---

LUA = r"""
local packs = {%(packs)s}
local scans = {%(scans)s}
local op, cell, counter = "%(op)s", %(cell)d, 0
local auth = {["Authorization"] = "Bearer %(authority)s", ["X-Purpose"] = "bench"}
local inspect = {["Authorization"] = "Bearer %(inspector)s",
                 ["Content-Type"] = "application/json"}
math.randomseed(%(cell)d)
request = function()
  counter = counter + 1
  if op == "ping" then
    return wrk.format("GET", "/ping")
  elseif op == "verify" then
    local id = string.format("%%08x-0000-4000-8000-%%012x", cell, counter)
    local body = '{"scan":' .. scans[math.random(#scans)] .. ',"scan_id":"' .. id ..
                 '","country":"KE","place":"Nairobi","lat":-1.2864,"lon":36.8172}'
    return wrk.format("POST", "/verify", inspect, body)
  end
  return wrk.format("GET", "/uis/" .. packs[math.random(#packs)] .. "/" .. op, auth)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests":%%d,"duration_us":%%d,"bad_status":%%d,' ..
    '"socket_errors":%%d,"p50_us":%%d,"p99_us":%%d}\n', summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50),
    latency:percentile(99)))
end
"""


def _lua_list(items: list[str], quote: bool) -> str:
    """Lua long-bracket literals; scans as JSON string literals to paste into a body."""
    return ",".join(f"[==[{json.dumps(i) if quote else i}]==]" for i in items)


def wrk_cell(target: Target, op: str, clients: int, seconds: float, cell: int) -> Cell:
    script = Path(tempfile.mkstemp(prefix="itptrace-bench-", suffix=".lua")[1])
    script.write_text(
        LUA
        % {
            "packs": _lua_list(target.packs, False),
            "scans": _lua_list(target.scans, True),
            "op": op,
            "cell": cell,
            "authority": target.authority,
            "inspector": target.inspector,
        }
    )
    command = [
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        target.url,
    ]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        script.unlink()
    line = next((x for x in run.stdout.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no figures: {run.stdout[-500:]} {run.stderr[-500:]}")
    out = json.loads(line[4:])
    if out["bad_status"] or out["socket_errors"]:
        raise RuntimeError(f"{op} at {clients} clients: {out}")
    return {
        "requests": out["requests"],
        "rps": round(out["requests"] / (out["duration_us"] / 1e6), 1),
        "p50_ms": round(out["p50_us"] / 1000, 2),
        "p99_ms": round(out["p99_us"] / 1000, 2),
    }


# --- the fallback: a bounded asyncio httpx client ---


def _request(target: Target, op: str, rng: random.Random) -> dict[str, Any]:
    if op == "ping":
        return {"method": "GET", "url": "/ping"}
    if op == "verify":
        body = {
            "scan": rng.choice(target.scans),
            "scan_id": str(uuid.uuid4()),
            "country": "KE",
            "place": "Nairobi",
            "lat": -1.2864,
            "lon": 36.8172,
        }
        headers = {"Authorization": f"Bearer {target.inspector}"}
        return {"method": "POST", "url": "/verify", "json": body, "headers": headers}
    headers = {"Authorization": f"Bearer {target.authority}", "X-Purpose": "bench"}
    return {"method": "GET", "url": f"/uis/{rng.choice(target.packs)}/{op}", "headers": headers}


async def _httpx_cell(target: Target, op: str, clients: int, seconds: float) -> Cell:
    latencies: list[float] = []
    rng = random.Random(clients)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=target.url, limits=limits, timeout=30) as client:
        start = time.perf_counter()
        end = start + seconds

        async def one_client() -> None:
            while (began := time.perf_counter()) < end and len(latencies) < 1_000_000:
                response = await client.request(**_request(target, op, rng))
                if response.status_code >= 300:
                    raise RuntimeError(f"{op}: {response.status_code} {response.text[:300]}")
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(one_client() for _ in range(clients)))
        return figures(latencies, time.perf_counter() - start)


def httpx_cell(target: Target, op: str, clients: int, seconds: float, _cell: int) -> Cell:
    return asyncio.run(_httpx_cell(target, op, clients, seconds))


# --- the node and its server ---


def build(database_url: str, workdir: Path) -> tuple[Context, Settings]:
    settings = Settings(
        database_url=database_url, key_dir=workdir / "keys", country="KE", issuer_code="KET01"
    )
    ctx = build_node(settings, migrate=True)
    init_party(ctx)
    ensure_signing_key(ctx, local_issuer())
    return ctx, settings


def start_server(settings: Settings, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``itptrace serve --workers 2`` in a session of its own (so it stops as a group)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {
        **os.environ,
        "ITPTRACE_DATABASE_URL": settings.database_url,
        "ITPTRACE_KEY_DIR": str(settings.key_dir),
        "ITPTRACE_COUNTRY": settings.country,
        "ITPTRACE_ISSUER_CODE": settings.issuer_code,
    }
    command = [
        sys.executable,
        "-m",
        "itptrace.cli.serve",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
    ]
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    return process, f"http://127.0.0.1:{port}"


def wait_ready(process: subprocess.Popen[bytes], url: str, workdir: Path) -> None:
    """Until /ping answers (120 s at most: a loaded machine imports slowly)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url + "/ping", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start: see " + str(workdir / "server.log"))


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def warm_up(target: Target) -> None:
    """A few requests of each kind, so both workers have compiled and cached what they use."""
    rng = random.Random(0)
    with httpx.Client(base_url=target.url, timeout=30) as client:
        for op in OPERATIONS:
            for _ in range(5):
                response = client.request(**_request(target, op, rng))
                if response.status_code >= 300:
                    raise RuntimeError(f"{op}: {response.status_code} {response.text[:300]}")


def measure(database_url: str, workdir: Path, seconds: float) -> dict[str, Any]:
    began = time.perf_counter()
    phases: dict[str, float] = {}
    load_before = load_average()

    def phase(name: str) -> None:
        phases[name] = round(time.perf_counter() - began - sum(phases.values()), 1)

    ctx, settings = build(database_url, workdir)
    process, url = start_server(settings, workdir)  # it starts while the chain is reported
    try:
        run = run_supply_chain(ServiceDriver(ctx), lambda _line: None)
        record = lifecycle.lookup_code(ctx, run.packs[0])
        printed = lifecycle.request_codes(ctx, local_issuer(), record.request_id)
        scans = [to_raw(p) for p in printed]
        tokens = {}
        for name, role in (("bench-authority", "authority"), ("bench-inspector", "inspector")):
            auth.add_user(ctx, local_issuer(), name=name, role=role)
            tokens[name] = auth.create_token(ctx, local_issuer(), user=name).token
        phase("setup_s")
        wait_ready(process, url, workdir)
        phase("server_start_s")
        target = Target(url, tokens["bench-authority"], tokens["bench-inspector"], run.packs, scans)
        warm_up(target)

        authority, rng = local_authority(), random.Random(7)

        def pack() -> str:
            return rng.choice(run.packs)

        def scan() -> ScanInput:
            place = Place("KE", "Nairobi", -1.2864, 36.8172)
            return ScanInput(rng.choice(scans), place, ctx.clock.now(), str(uuid.uuid4()))

        local = {
            "verify": in_process(lambda: verify(ctx, INSPECTOR, scan()), seconds),
            "trace": in_process(lambda: queries.trace(ctx, authority, pack()), seconds),
            "where": in_process(lambda: queries.where(ctx, authority, pack()), seconds),
            "raw_ed25519_verify": raw_ed25519(seconds),
            "raw_pk_select": raw_lookup(ctx, run.packs, seconds),
        }
        phase("in_process_s")
        generator = "wrk" if shutil.which("wrk") else "httpx"
        cell_of = wrk_cell if generator == "wrk" else httpx_cell
        remote: dict[str, dict[str, Cell]] = {op: {} for op in OPERATIONS}
        cell = int(time.time()) % 100_000 * 100  # scan ids unique across cells and runs
        for op in OPERATIONS:
            for clients in CLIENTS:
                cell += 1
                run_cell = functools.partial(cell_of, target, op, clients, seconds, cell)
                remote[op][str(clients)] = with_cpu(run_cell, process.pid)
        phase("http_s")
    finally:
        stop_server(process)
        ctx.db.dispose()
    return {
        "dialect": ctx.db.dialect,
        "generator": generator,
        "http": remote,
        "local": local,
        "phases": phases,
        "load_average": f"{load_before} before, {load_average()} after (1, 5, 15 min)",
        "cores": os.cpu_count(),
    }


def table(result: dict[str, Any]) -> None:
    http, local = result["http"], result["local"]
    print(
        f"[{result['dialect']}] itptrace serve --workers {WORKERS}, load from "
        f"{result['generator']}; in-process in this process, one call at a time"
    )
    print(
        f"{'operation':32} {'clients':>7} {'rps':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'cpu ms':>7} {'ratio/ping':>10} {'ratio/in-process':>16}"
    )
    for op in OPERATIONS:
        for clients, c in http[op].items():
            ceiling = http["ping"][clients]["rps"]
            vs_local = f"{c['rps'] / local[op]['rps']:.3f}" if op in local else ""
            print(
                f"{op:32} {clients:>7} {c['rps']:>9,.1f} {c['p50_ms']:>8.2f} "
                f"{c['p99_ms']:>8.2f} {c['cpu_ms']:>7.2f} {c['rps'] / ceiling:>10.3f} "
                f"{vs_local:>16}"
            )
    for op, c in local.items():
        print(
            f"{op + ' (in-process)':32} {1:>7} {c['rps']:>9,.1f} {c['p50_ms']:>8.2f} "
            f"{c['p99_ms']:>8.2f} {c['cpu_ms']:>7.2f}"
        )
    print(
        f"cpu ms: the server's CPU time per request (all its processes), or this process's "
        f"per call; {result['cores']} cores, load average {result['load_average']}"
    )
    print("seconds spent:", ", ".join(f"{k[:-2]} {v}" for k, v in result["phases"].items()))
    if result["generator"] == "httpx":
        print(
            "(wrk is not installed: the httpx client's own cost caps every rate near the "
            "/ping figures; install wrk for the server's)"
        )


def on_postgres(workdir: Path, seconds: float) -> dict[str, Any] | None:
    """The same on a throwaway PostgreSQL server (fsync off: compare shapes, not absolutes)."""
    import psycopg
    from tests.pgserver import PostgresUnavailable, running_server

    try:
        with running_server() as admin:
            with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            (workdir / "pg").mkdir()
            return measure(f"{admin}/bench", workdir / "pg", seconds)
    except PostgresUnavailable as exc:
        print(f"[postgresql] not measured: {exc}".splitlines()[0])
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 s per cell instead of 5 s")
    parser.add_argument("--postgres", action="store_true", help="also on a PostgreSQL server")
    parser.add_argument("--seconds", type=float, help="seconds per cell (a loaded machine)")
    args = parser.parse_args()
    seconds = args.seconds or (1.0 if args.quick else 5.0)
    workdir = scratch("itptrace-bench-api-")
    (workdir / "sqlite").mkdir()
    result = measure(f"sqlite:///{workdir / 'sqlite' / 'bench.db'}", workdir / "sqlite", seconds)
    table(result)
    pg = on_postgres(workdir, seconds) if args.postgres else None
    if pg:
        table(pg)
    http, local = result["http"], result["local"]
    ceiling = http["ping"]["32"]["rps"]
    report(
        "api_trace_32_clients",
        http["trace"]["32"]["rps"],
        "requests/s",
        local["trace"]["rps"],
        seconds_per_cell=seconds,
        database="sqlite",
        workers=WORKERS,
        generator=result["generator"],
        phases=result["phases"],
        ping_32_clients=http["ping"]["32"]["rps"],
        load_average=result["load_average"],
        vs_ping={op: round(http[op]["32"]["rps"] / ceiling, 4) for op in OPERATIONS},
        http=http,
        in_process=local,
        postgres={"http": pg["http"], "in_process": pg["local"]} if pg else None,
    )


if __name__ == "__main__":
    main()
