"""Detection quality: every injected illicit case flagged, no legitimate scan flagged.

The seeded campaign (``sim.inspection``) scans packs where they legitimately are and
injects clones, diverted cartons, counterfeits, scans of deactivated, stolen, exported and
never-applied codes. ``bench/detection.py`` runs the same campaign with 2,000+ legitimate
scans; here a smaller one runs on both databases and reports its figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from itptrace.access import Actor, Role
from itptrace.context import Context
from itptrace.repository.schema import scans
from itptrace.sim.inspection import run_campaign
from itptrace.verify import alerts
from tests.conftest import Databases, new_node

AUTHORITY = Actor("kra", Role.AUTHORITY)


def test_every_injected_case_is_flagged_and_legitimate_scans_are_not(
    ctx: Context, capsys: pytest.CaptureFixture[str]
) -> None:
    campaign = run_campaign(ctx, seed=11, cartons=60, legitimate=300, clones=6)
    missed = [case for case in campaign.cases if not case.flagged]
    with capsys.disabled():
        print(
            f"\ndetection on {ctx.db.dialect}: {campaign.detection_rate:.1%} of "
            f"{len(campaign.cases)} injected cases flagged, false positives "
            f"{len(campaign.false_positives)}/{campaign.legitimate} "
            f"({campaign.false_positive_rate:.2%}); by kind {campaign.by_kind()}"
        )
    assert missed == []
    assert campaign.legitimate >= 300
    assert campaign.false_positive_rate <= 0.001, campaign.false_positives[:5]
    assert set(campaign.by_kind()) == {
        "clone",
        "diverted",
        "counterfeit",
        "deactivated",
        "stolen",
        "after_export",
        "unapplied",
    }
    raised = {a.type for a in alerts.list_alerts(ctx, AUTHORITY, limit=1000)}
    assert {"clone", "diversion", "counterfeit", "stolen_or_lost"} <= raised


def run_small(ctx: Context, seed: int) -> tuple[Any, ...]:
    """A small campaign's outcome, and every scan it stored with its id, time, place and
    verdict: all drawn from the seed (the issued codes are not: the issuer's CSPRNG)."""
    campaign = run_campaign(ctx, seed=seed, cartons=20, legitimate=40, clones=2)
    with ctx.db.transaction() as conn:
        stored = conn.execute(
            select(
                scans.c.scan_id, scans.c.scanned_at, scans.c.country, scans.c.place,
                scans.c.lat, scans.c.lon, scans.c.verdict,
            ).order_by(scans.c.scan_id)
        ).all()  # fmt: skip
    cases = [(c.kind, c.verdicts) for c in campaign.cases]
    return campaign.by_kind(), campaign.legitimate, campaign.false_positives, cases, stored


def test_the_campaign_is_reproducible_from_its_seed(
    ctx: Context, databases: Databases, tmp_path: Path
) -> None:
    first = run_small(ctx, seed=3)
    assert first[0]["clone"] == (2, 2) and first[1] >= 40 and len(first[4]) > 40
    kind = ctx.db.dialect
    nodes = [new_node(databases.new(kind), tmp_path / name) for name in ("again", "other")]
    try:
        again, other = run_small(nodes[0], seed=3), run_small(nodes[1], seed=4)
    finally:
        for node in nodes:
            node.db.dispose()
    assert again == first
    assert other[4] != first[4]  # another seed scans at other times and places
