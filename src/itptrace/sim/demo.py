"""The demo scenario, run by ``make demo``: a fresh node from registry to offline checks."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from itptrace.access import local_issuer
from itptrace.bootstrap import build_context
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer
from itptrace.codes.offline import PublicKeySet, verify_offline
from itptrace.config import Settings
from itptrace.gs1 import datamatrix
from itptrace.gs1.element import parse_scan, to_element_string
from itptrace.registry import service as registry
from itptrace.sim.forgery import copied_tag, forged_variants

Say = Callable[[str], None]


@dataclass
class DemoSummary:
    unit_codes: int = 0
    aggregate_codes: int = 0
    genuine_valid: int = 0
    forged_tried: int = 0
    forged_accepted: int = 0
    symbol_modules: tuple[int, int] = (0, 0)
    files: dict[str, str] = field(default_factory=dict)


def run_demo(workdir: Path, say: Say) -> DemoSummary:
    """Build a fresh SQLite node in ``workdir`` and walk through the issuer's work."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'itptrace.db'}",
        key_dir=workdir / "keys",
        country="KE",
        issuer_code="KET01",
    )
    ctx = build_context(settings)
    actor = local_issuer()
    summary = DemoSummary()
    party = registry.init_party(ctx)
    key = issuer.ensure_signing_key(ctx, actor)
    say(f"Party {party.country}, issuer {party.issuer_code}, signing key {key.kid}")

    maker = registry.add_operator(
        ctx,
        actor,
        name="Nyota Tobacco Ltd",
        country="KE",
        roles=["manufacturer"],
        tobacco_industry=True,
    )
    plant = registry.add_facility(
        ctx,
        actor,
        operator_id=maker.id,
        name="Nairobi plant",
        type="manufacturing",
        address="Industrial Area, Nairobi",
        country="KE",
    )
    line = registry.add_machine(
        ctx, actor, facility_id=plant.id, name="Line 1", capacity_per_hour=36_000
    )
    product = registry.add_product(
        ctx,
        actor,
        gtin="06009876543219",
        operator_id=maker.id,
        brand="Savanna Gold",
        description="Savanna Gold king size, 20 cigarettes",
        category="cigarettes",
        pack_size=20,
    )
    say(
        f"registered manufacturer {maker.id}, facility {plant.id}, machine {line.id}, "
        f"product {product.gtin}"
    )

    units = issuer.request_unit_codes(
        ctx, actor, issuer.UnitRequest(maker.id, plant.id, line.id, product.gtin, "KE", 10_000)
    )
    cases = issuer.request_aggregate_codes(
        ctx, actor, issuer.AggregateRequest(maker.id, plant.id, 100)
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
    ctx.db.dispose()
    return summary
