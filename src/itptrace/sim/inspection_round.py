"""The demo's inspection round: five scans an inspector could meet in one day."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from PIL import Image, ImageFilter

from itptrace.access import Actor, Role, local_issuer
from itptrace.codes import lifecycle
from itptrace.context import Context
from itptrace.gs1 import datamatrix
from itptrace.gs1.element import to_element_string
from itptrace.sim.world import World
from itptrace.verify.model import Place, ScanInput, Verification
from itptrace.verify.service import decode_photo, verify

Say = Callable[[str], None]
NAIROBI = Place("KE", "Nairobi CBD", -1.2864, 36.8172)
MOMBASA = Place("KE", "Mombasa port", -4.0435, 39.6682)
KISUMU = Place("KE", "Kisumu, Oginga Odinga St", -0.0917, 34.7680)
DAR = Place("TZ", "Dar es Salaam, Kariakoo market", -6.8165, 39.2804)


def inspection_round(ctx: Context, run: World, workdir: Path, say: Say) -> dict[str, str]:
    inspector = Actor("inspector-kra-07", Role.INSPECTOR)
    now = ctx.clock.now().replace(microsecond=0) - timedelta(hours=1)
    payloads = {p.ui: p for p in lifecycle.request_codes(ctx, local_issuer(), run.unit_request)}

    def scan(label: str, text: str, place: Place, at_minutes: int = 0) -> Verification:
        found = verify(
            ctx,
            inspector,
            ScanInput(
                to_element_string(payloads[text]) if text in payloads else text,
                place,
                now + timedelta(minutes=at_minutes),
                str(uuid.uuid4()),
            ),
        )
        reasons = "; ".join(f"{r.code}: {r.message}" for r in found.reasons) or "all checks passed"
        say(f"  {label}: {found.verdict.value.upper()} ({reasons})")
        return found

    say("inspection round:")
    verdicts = {
        "genuine": scan("genuine pack at the Kisumu kiosk", run.packs[0], KISUMU).verdict.value,
        "diverted": scan(
            "pack for the Kenyan market found in Dar es Salaam", run.packs[15], DAR
        ).verdict.value,
    }
    scan("a code seen in Nairobi", run.packs[25], NAIROBI)
    verdicts["clone"] = scan(
        "the same code 20 minutes later in Mombasa", run.packs[25], MOMBASA, 20
    ).verdict.value
    forged = to_element_string(payloads[run.packs[30]]).replace(run.packs[30][5:14], "Zq8Zq8Zq8")
    verdicts["counterfeit"] = scan("a code with a made-up serial", forged, NAIROBI).verdict.value
    photo = workdir / "inspected-pack.png"
    datamatrix.render_png(payloads[run.packs[1]], photo)
    Image.open(photo).rotate(15, expand=True, fillcolor="white").filter(
        ImageFilter.GaussianBlur(1)
    ).save(photo)
    text = decode_photo(photo)
    verdicts["photo"] = scan(
        f"photo {photo.name} (rotated, blurred)", text, KISUMU, 30
    ).verdict.value
    return verdicts
