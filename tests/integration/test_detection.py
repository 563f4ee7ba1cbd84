"""Detection quality: every injected illicit case flagged, no legitimate scan flagged.

The seeded campaign (``sim.inspection``) scans packs where they legitimately are and
injects clones, diverted cartons, counterfeits, scans of deactivated, stolen, exported and
never-applied codes. ``bench/detection.py`` runs the same campaign with 2,000+ legitimate
scans; here a smaller one runs on both databases and reports its figures.
"""

from __future__ import annotations

import pytest

from itptrace.access import Actor, Role
from itptrace.context import Context
from itptrace.sim.inspection import run_campaign
from itptrace.verify import alerts

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


def test_the_campaign_is_reproducible_from_its_seed(ctx: Context) -> None:
    first = run_campaign(ctx, seed=3, cartons=20, legitimate=40, clones=2)
    assert first.by_kind()["clone"] == (2, 2)
    assert first.legitimate >= 40
