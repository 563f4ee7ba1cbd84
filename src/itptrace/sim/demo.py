"""The demo scenario, run by ``make demo``: a fresh node from registry to trace and report."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from itptrace.access import local_authority, local_issuer
from itptrace.bootstrap import build_node
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer
from itptrace.codes.offline import PublicKeySet, verify_offline
from itptrace.config import Settings
from itptrace.context import Context
from itptrace.gs1 import datamatrix
from itptrace.gs1.element import parse_scan, to_element_string
from itptrace.ledger import audit as ledger_audit
from itptrace.ledger import service as ledger
from itptrace.ledger.checkpoint import verify_with_any
from itptrace.ledger.merkle import verify_inclusion
from itptrace.queries.report import report
from itptrace.queries.service import trace
from itptrace.queries.wording import Glossary, report_lines, trace_line
from itptrace.registry import service as registry
from itptrace.sim.forgery import copied_tag, forged_variants
from itptrace.sim.http_demo import HttpSummary, http_driver, running_node, show_access
from itptrace.sim.inspection_round import inspection_round
from itptrace.sim.scenario import names_of, run_supply_chain
from itptrace.sim.world import World

Say = Callable[[str], None]


@dataclass
class DemoSummary:
    unit_codes: int = 0
    aggregate_codes: int = 0
    genuine_valid: int = 0
    forged_tried: int = 0
    forged_accepted: int = 0
    events: int = 0
    trace_length: int = 0
    report_completeness: float = 0.0
    events_proven: int = 0
    http: HttpSummary = field(default_factory=HttpSummary)
    inspection: dict[str, str] = field(default_factory=dict)
    symbol_modules: tuple[int, int] = (0, 0)
    files: dict[str, str] = field(default_factory=dict)


def _issue_and_verify(
    ctx: Context, run: World, workdir: Path, say: Say, summary: DemoSummary
) -> None:
    actor = local_issuer()
    units = issuer.request_unit_codes(
        ctx, actor, issuer.UnitRequest(run.maker, run.plant, run.machine, run.gtin, "KE", 10_000)
    )
    cases = issuer.request_aggregate_codes(
        ctx, actor, issuer.AggregateRequest(run.maker, run.plant, 100)
    )
    codes = list(lifecycle.request_codes(ctx, actor, units.request_id))
    summary.unit_codes, summary.aggregate_codes = len(codes), cases.quantity
    say(
        f"issued {len(codes)} signed unit UIs (request {units.request_id}, product code "
        f"{units.product_code}) and {cases.quantity} aggregated UIs"
    )
    keys_path = workdir / "public-keys.json"
    keys_path.write_text(json.dumps(lifecycle.export_public_keys(ctx), indent=2))
    png = workdir / "pack.png"
    datamatrix.render_png(codes[0], png)
    decoded = parse_scan(datamatrix.decode_image(png)[0])
    summary.symbol_modules = datamatrix.symbol_size(codes[0])
    summary.files = {"keys": str(keys_path), "png": str(png)}
    say(
        f"Data Matrix {summary.symbol_modules[0]}x{summary.symbol_modules[1]} modules -> {png}; "
        f"decoded back {'identical' if decoded == codes[0] else 'DIFFERENT'}"
    )
    say(f"  {to_element_string(codes[0])}")
    keyset = PublicKeySet.load(keys_path)
    summary.genuine_valid = sum(verify_offline(to_element_string(c), keyset).valid for c in codes)
    rng = random.Random(7)
    forgeries = [text for c in codes[:3] for _, text in forged_variants(c, rng)]
    forgeries += [copied_tag(codes[i], codes[i + 1]) for i in range(0, 200, 2)]
    summary.forged_tried = len(forgeries)
    summary.forged_accepted = sum(verify_offline(text, keyset).valid for text in forgeries)
    say(
        f"offline verification: {summary.genuine_valid}/{len(codes)} genuine codes valid; "
        f"{summary.forged_accepted}/{summary.forged_tried} forged codes accepted"
    )


def _show_trace_and_report(
    ctx: Context, run: World, pack: str, say: Say, summary: DemoSummary
) -> None:
    entries = trace(ctx, local_authority(), pack)
    summary.trace_length = len(entries)
    glossary = Glossary(names_of(run))
    say(f"trace of pack {pack} (each code explained the first time it appears):")
    for e in entries:
        say(f"  {trace_line(e, glossary)}")
    result = report(ctx, local_authority(), pack)
    summary.report_completeness = result.completeness
    say(f"Article 8.4.1 report of {pack}: {result.completeness:.0%} complete")
    for item in result.items:
        for line in report_lines(item, glossary):
            say(line)


def _show_ledger(ctx: Context, pack: str, say: Say, summary: DemoSummary) -> None:
    admin, auditor = local_issuer(), local_authority()
    stored = ledger.make_checkpoint(ctx, admin)
    say("latest signed ledger checkpoint:")
    for line in stored.note.rstrip("\n").split("\n"):
        say(f"  {line}")
    head = verify_with_any(stored.note, ledger.verifier_keys(ctx))
    leaves = {e.ref: e.seq for e in ledger.entries(ctx, auditor, 0, head.size) if e.kind == "event"}
    events = [str(e.seq) for e in trace(ctx, auditor, pack)]
    proven = 0
    for ref in events:
        proof = ledger_audit.prove(ctx, auditor, leaves[ref], head.size)
        proven += verify_inclusion(proof.leaf_hash, proof.seq, head.size, proof.path, head.root)
    summary.events_proven = proven
    say(
        f"inclusion of the {len(events)} events of pack {pack} in the checkpoint of "
        f"{head.size} leaves: {proven}/{len(events)} proofs verify"
    )


def run_demo(workdir: Path, say: Say) -> DemoSummary:
    """Build a fresh SQLite node in ``workdir`` and walk through issuing, capture and queries."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'itptrace.db'}",
        key_dir=workdir / "keys",
        country="KE",
        issuer_code="KET01",
    )
    ctx = build_node(settings, migrate=True)
    summary = DemoSummary()
    party = registry.init_party(ctx)
    key = issuer.ensure_signing_key(ctx, local_issuer())
    say(f"Party {party.country}, issuer {party.issuer_code}, signing key {key.kid}")
    with running_node(ctx) as url, httpx.Client(base_url=url, timeout=60) as http:
        say(f"node serving at {url}; every report below goes to it over HTTP")
        driver = http_driver(ctx, http, say)
        run = run_supply_chain(driver, say)
        summary.events = run.events
        say(
            f"{run.events} events accepted over HTTP from manufacturer {run.maker}, importer "
            f"{run.importer} and retailer {run.retailer}, each with its own token"
        )
        summary.http = show_access(ctx, http, run, driver, say)
    say("node stopped")
    _issue_and_verify(ctx, run, workdir, say, summary)
    _show_trace_and_report(ctx, run, run.packs[0], say, summary)
    _show_ledger(ctx, run.packs[0], say, summary)
    summary.inspection = inspection_round(ctx, run, workdir, say)
    ctx.db.dispose()
    return summary
