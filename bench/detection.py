"""Detection quality of inspector verification: injected illicit cases flagged, and the
false-positive rate on legitimate scans, from the seeded campaign in ``sim.inspection``.

At least 2,000 legitimate scans (500 with --quick), so that a 0.1 % false-positive rate is
measurable; injected: cloned codes seen in two more cities, diverted cartons, counterfeit
codes (random serials, forged and copied tags, bare random UIs), scans of destroyed,
recalled, stolen, exported and never-applied codes. The baseline is the target: 100 % of
cases flagged, at most 0.1 % of legitimate scans flagged.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parse_args, report, scratch, timed
from itptrace.access import local_issuer
from itptrace.bootstrap import build_node
from itptrace.codes.service import ensure_signing_key
from itptrace.config import Settings
from itptrace.registry.service import init_party
from itptrace.sim.inspection import run_campaign


def main() -> None:
    args = parse_args(__doc__ or "")
    legitimate, cartons, clones = (500, 120, 10) if args.quick else (2_400, 400, 25)
    workdir = scratch("itptrace-bench-detection-")
    ctx = build_node(
        Settings(
            database_url=f"sqlite:///{workdir / 'bench.db'}",
            key_dir=workdir / "keys",
            clock="2026-01-05T08:00:00+00:00",
            country="KE",
            issuer_code="KET01",
        ),
        migrate=True,
    )
    init_party(ctx)
    ensure_signing_key(ctx, local_issuer())
    campaign, seconds = timed(
        lambda: run_campaign(
            ctx, seed=2026, cartons=cartons, legitimate=legitimate, clones=clones, say=print
        )
    )
    ctx.db.dispose()
    flagged = sum(c.flagged for c in campaign.cases)
    print(
        f"injected cases flagged: {flagged}/{len(campaign.cases)} "
        f"({campaign.detection_rate:.1%}); by kind:"
    )
    for kind, (hit, total) in sorted(campaign.by_kind().items()):
        print(f"  {kind:<14} {hit}/{total}")
    print(
        f"legitimate scans flagged: {len(campaign.false_positives)}/{campaign.legitimate} "
        f"(false-positive rate {campaign.false_positive_rate:.3%}, target <= 0.1 %)"
    )
    report(
        "detection",
        campaign.detection_rate * 100,
        "% of injected cases flagged",
        100.0,
        cases=len(campaign.cases),
        legitimate_scans=campaign.legitimate,
        false_positives=len(campaign.false_positives),
        false_positive_rate=round(campaign.false_positive_rate, 6),
        by_kind={k: list(v) for k, v in campaign.by_kind().items()},
        seconds=round(seconds, 1),
    )


if __name__ == "__main__":
    main()
