"""Online verification against the repository, scans, alerts and the API, on both databases."""

from __future__ import annotations

import io
import random
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageFilter
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from itptrace.access import Actor, Role, local_issuer
from itptrace.capture.service import capture
from itptrace.clock import FixedClock
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer
from itptrace.context import Context
from itptrace.errors import Conflict, Forbidden
from itptrace.gs1.datamatrix import render_png
from itptrace.gs1.element import CodePayload, to_element_string, to_raw
from itptrace.registry import service as registry
from itptrace.repository.schema import alert_status, scans
from itptrace.sim.forgery import forged_variants
from itptrace.sim.messages import Messages
from itptrace.sim.world import World
from itptrace.verify import alerts
from itptrace.verify.model import (
    Place,
    ReasonCode,
    ScanInput,
    Verdict,
    Verification,
    VerifyError,
)
from itptrace.verify.service import decode_photo, verify

INSPECTOR = Actor("inspector-wanjiru", Role.INSPECTOR)
AUTHORITY = Actor("kra-investigations", Role.AUTHORITY)
NAIROBI = (-1.2864, 36.8172)
MOMBASA = (-4.0435, 39.6682)


def payloads(ctx: Context) -> dict[str, CodePayload]:
    return {p.ui: p for p in lifecycle.request_codes(ctx, local_issuer(), 1)}


def check(ctx: Context, code: str, country: str = "KE", **extra: Any) -> Verification:
    """Verify ``code``; a bare UI of the scenario's packs is scanned as printed, tag and
    all (the rules here are about the pack; a scan without its tag is another test's)."""
    if code.startswith("KET01") and len(code) == 22:
        found = {p.ui: p for p in lifecycle.request_codes(ctx, local_issuer(), 1)}.get(code)
        code = to_raw(found) if found is not None else code
    position = extra.pop("position", None)
    lat, lon = position if isinstance(position, tuple) else (None, None)
    scan = ScanInput(
        code,
        Place(country, None, lat, lon),
        extra.pop("at", ctx.clock.now()),
        str(extra.pop("scan_id", uuid.uuid4())),
        **extra,
    )
    return verify(ctx, INSPECTOR, scan)


def scan_count(ctx: Context) -> int:
    with ctx.db.transaction() as conn:
        return int(conn.execute(select(func.count()).select_from(scans)).scalar_one())


def test_a_genuine_pack_is_authentic_with_the_facts_an_inspector_needs(
    ctx: Context, run: World
) -> None:
    code = to_raw(payloads(ctx)[run.packs[0]])
    result = verify(
        ctx,
        INSPECTOR,
        ScanInput(
            code,
            Place("KE", "Kisumu kiosk"),
            ctx.clock.now(),
            str(uuid.uuid4()),
            observed_brand="Savanna Gold",
        ),
    )
    assert result.verdict is Verdict.AUTHENTIC and result.reasons == ()
    facts = result.facts
    assert facts is not None
    assert (facts.brand, facts.manufacturer, facts.facility) == (
        "Savanna Gold",
        "Nyota Tobacco Ltd",
        "Nairobi plant",
    )
    assert facts.intended_market == "KE" and facts.manufactured_at is not None
    assert facts.custodian == "Dunga Kiosk Traders"


def test_a_pack_of_a_discontinued_product_still_verifies_with_its_product_facts(
    ctx: Context, run: World
) -> None:
    code = to_raw(payloads(ctx)[run.packs[0]])
    gtin = payloads(ctx)[run.packs[0]].gtin or ""
    registry.deactivate_product(ctx, local_issuer(), gtin)
    result = check(ctx, code)
    assert result.verdict is Verdict.AUTHENTIC
    assert result.facts is not None and result.facts.brand == "Savanna Gold"


def test_a_resubmitted_scan_is_answered_from_the_store_and_stored_once(
    ctx: Context, run: World
) -> None:
    code, ident = run.packs[1], uuid.uuid4()
    first = check(ctx, code, scan_id=ident)
    again = check(ctx, code, scan_id=ident)
    assert scan_count(ctx) == 1
    assert again.repeated and not first.repeated
    assert again.verdict == first.verdict
    with pytest.raises(Conflict, match="different scan"):
        check(ctx, code, "UG", scan_id=ident)


def test_forged_tags_and_codes_never_issued_are_counterfeit_and_raise_an_alert(
    ctx: Context, run: World
) -> None:
    genuine = payloads(ctx)[run.packs[2]]
    forged = [
        text
        for kind, text in forged_variants(genuine, random.Random(3))
        if kind in ("changed tag", "guessed serial")
    ][::40]
    verdicts = [check(ctx, code).verdict for code in forged]
    # A tag that is not even canonical base64url cannot be read: suspicious, never authentic.
    assert Verdict.AUTHENTIC not in verdicts
    assert verdicts.count(Verdict.COUNTERFEIT) >= len(forged) * 0.9
    random_ui = check(ctx, "KET01zzzzzzzzz00000000")
    assert [r.code for r in random_ui.reasons] == [ReasonCode.NEVER_ISSUED]
    raised = alerts.list_alerts(ctx, AUTHORITY, type_="counterfeit")
    assert raised and all(a.severity == "high" for a in raised)


def test_an_issued_code_never_applied_is_illicit(ctx: Context, run: World) -> None:
    batch = issuer.request_unit_codes(
        ctx,
        local_issuer(),
        issuer.UnitRequest(run.maker, run.plant, run.machine, run.gtin, "KE", 3),
    )
    code = next(iter(lifecycle.request_codes(ctx, local_issuer(), batch.request_id)))
    result = check(ctx, to_element_string(code))
    assert result.verdict is Verdict.ILLICIT
    assert [r.code for r in result.reasons] == [ReasonCode.NEVER_APPLIED]


def test_stolen_and_recalled_codes_are_illicit_with_their_reason(ctx: Context, run: World) -> None:
    lifecycle.deactivate_codes(ctx, local_issuer(), [run.packs[3]], "stolen", "truck hijacked")
    lifecycle.deactivate_codes(ctx, local_issuer(), [run.packs[4]], "recalled")
    stolen, recalled = check(ctx, run.packs[3]), check(ctx, run.packs[4])
    assert [r.code for r in stolen.reasons] == [ReasonCode.STOLEN]
    assert [r.code for r in recalled.reasons] == [ReasonCode.RECALLED]
    assert [a.type for a in alerts.list_alerts(ctx, AUTHORITY)] == [
        "stolen_or_lost",
        "revoked_code",
    ]


def test_a_pack_reported_lost_inside_its_case_is_illicit(ctx: Context, run: World) -> None:
    importer = Actor("lake", Role.OPERATOR, operator_id=run.importer)
    event = Messages(prefix="T").deactivate(run.importer, [run.cases[2]], ctx.clock.now(), "lost")
    assert capture(ctx, importer, [event]).ok
    pack_in_case = run.packs[10 * 5 * 2]  # cases hold 5 cartons of 10 packs
    result = check(ctx, pack_in_case)
    assert [r.code for r in result.reasons] == [ReasonCode.LOST]


def test_diversion_and_export_are_told_apart(ctx: Context, run: World) -> None:
    at_the_kiosk, exported = run.packs[0], run.packs[60]  # case 1 was exported to UG
    diverted = check(ctx, at_the_kiosk, "TZ")
    assert diverted.verdict is Verdict.ILLICIT
    assert ReasonCode.DIVERTED in [r.code for r in diverted.reasons]
    assert check(ctx, exported, "UG").verdict is Verdict.AUTHENTIC
    clock = ctx.clock
    assert isinstance(clock, FixedClock)
    clock.advance(timedelta(days=4))
    back = check(ctx, exported, "KE")
    assert [r.code for r in back.reasons] == [ReasonCode.SEEN_AFTER_EXPORT]


def test_a_clone_seen_in_two_cities_within_an_hour_is_flagged_once_as_an_alert(
    ctx: Context, run: World
) -> None:
    now = ctx.clock.now()
    code = run.packs[5]
    assert (
        check(ctx, code, position=NAIROBI, at=now - timedelta(hours=1)).verdict is Verdict.AUTHENTIC
    )
    second = check(ctx, code, position=MOMBASA)
    third = check(ctx, code, position=MOMBASA, at=now + timedelta(minutes=2))
    assert second.verdict is Verdict.SUSPICIOUS
    assert [r.code for r in third.reasons] == [ReasonCode.IMPOSSIBLE_TRAVEL]
    clone_alerts = alerts.list_alerts(ctx, AUTHORITY, type_="clone")
    assert len(clone_alerts) == 1 and clone_alerts[0].ui == code
    assert clone_alerts[0].evidence["reasons"][0]["conflicts"][0]["km"] > 400


def test_the_wrong_brand_under_a_genuine_code_is_counterfeit(ctx: Context, run: World) -> None:
    result = check(ctx, run.packs[6], observed_brand="Sportsman")
    assert result.verdict is Verdict.COUNTERFEIT
    assert [r.code for r in result.reasons] == [ReasonCode.PRODUCT_MISMATCH]


def test_operators_and_the_industry_may_not_verify(ctx: Context, run: World) -> None:
    scan = ScanInput(run.packs[0], Place("KE"), ctx.clock.now(), str(uuid.uuid4()))
    for actor in (
        Actor("op", Role.OPERATOR, operator_id=run.maker, tobacco_industry=True),
        Actor("industry-inspector", Role.INSPECTOR, tobacco_industry=True),
    ):
        with pytest.raises(Forbidden):
            verify(ctx, actor, scan)
    with pytest.raises(Forbidden):
        alerts.list_alerts(ctx, INSPECTOR)


def test_a_scan_from_the_future_is_refused(ctx: Context, run: World) -> None:
    with pytest.raises(VerifyError, match="future"):
        check(ctx, run.packs[0], at=ctx.clock.now() + timedelta(hours=1))


def test_alert_status_changes_are_kept_and_scans_cannot_be_rewritten(
    ctx: Context, run: World
) -> None:
    check(ctx, run.packs[0], "TZ")
    alert = alerts.list_alerts(ctx, AUTHORITY, status="open")[0]
    alerts.set_alert_status(ctx, AUTHORITY, alert.id, "investigating", "team sent")
    closed = alerts.set_alert_status(ctx, AUTHORITY, alert.id, "closed", "seized")
    assert (closed.status.value, closed.status_by, closed.note) == (
        "closed",
        AUTHORITY.name,
        "seized",
    )
    with pytest.raises(Conflict):
        alerts.set_alert_status(ctx, AUTHORITY, alert.id, "closed")
    assert alert.id not in [a.id for a in alerts.list_alerts(ctx, AUTHORITY, status="open")]
    assert [a.id for a in alerts.list_alerts(ctx, AUTHORITY, status="closed")] == [alert.id]
    with ctx.db.transaction() as conn:
        history = conn.execute(
            select(alert_status.c.status)
            .where(alert_status.c.alert_id == alert.id)
            .order_by(alert_status.c.id)
        ).scalars()
        assert list(history) == ["open", "investigating", "closed"]
    for statement in ("UPDATE scans SET verdict = 'authentic'", "DELETE FROM alert_status"):
        with pytest.raises(DBAPIError), ctx.db.transaction() as conn:
            conn.execute(text(statement))


def photo(payload: CodePayload, path: Path) -> bytes:
    """A photo-like image of the code: rotated about 15 degrees and slightly blurred."""
    render_png(payload, path, module_px=8, quiet_zone=4)
    image = Image.open(path).convert("L").rotate(15, expand=True, fillcolor=255)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_a_photo_of_a_rotated_blurred_code_is_verified(
    ctx: Context, run: World, tmp_path: Path
) -> None:
    image = photo(payloads(ctx)[run.packs[7]], tmp_path / "code.png")
    result = check(ctx, decode_photo(image), source="image")
    assert result.verdict is Verdict.AUTHENTIC and result.ui == run.packs[7]
    with pytest.raises(VerifyError, match="no readable Data Matrix"):
        decode_photo(photo_of_nothing())


def photo_of_nothing() -> bytes:
    out = io.BytesIO()
    Image.new("L", (200, 200), 255).save(out, format="PNG")
    return out.getvalue()


def test_the_api_verifies_scans_and_photos_and_serves_alerts(
    ctx: Context,
    run: World,
    verify_api: tuple[TestClient, dict[str, dict[str, str]]],
    tmp_path: Path,
) -> None:
    client, headers = verify_api
    body = {
        "scan": to_raw(payloads(ctx)[run.packs[0]]),
        "scan_id": str(uuid.uuid4()),
        "country": "TZ",
        "lat": -6.79,
        "lon": 39.21,
    }
    answer = client.post("/verify", json=body, headers=headers["insp"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "illicit" and answer.json()["alerts"]
    again = client.post("/verify", json=body, headers=headers["insp"]).json()
    assert again["repeated"] and again["verdict"] == "illicit"
    assert client.post("/verify", json=body).status_code == 401
    image = photo(payloads(ctx)[run.packs[8]], tmp_path / "code.png")
    fields = {"scan_id": str(uuid.uuid4()), "country": "KE", "place": "Kisumu"}
    upload = client.post(
        "/verify/image",
        files={"image": ("p.png", image, "image/png")},
        data=fields,
        headers=headers["insp"],
    )
    assert upload.status_code == 200, upload.text
    assert upload.json()["verdict"] == "authentic" and upload.json()["source"] == "image"
    raw = client.post(
        "/verify/image",
        content=image,
        params={**fields, "scan_id": str(uuid.uuid4())},
        headers={**headers["insp"], "Content-Type": "image/png"},
    )
    assert raw.status_code == 200, raw.text
    assert client.get("/alerts", headers=headers["insp"]).status_code == 403
    listed = client.get("/alerts", params={"status": "open"}, headers=headers["auth"]).json()
    assert listed[0]["type"] == "diversion"
    changed = client.post(
        f"/alerts/{listed[0]['id']}/status",
        json={"status": "investigating"},
        headers=headers["auth"],
    )
    assert changed.json()["status"] == "investigating"
    bundle = client.get("/verify/offline-bundle", headers=headers["insp"]).json()
    assert set(bundle["files"]) == {"bundle.json", "revoked.bin", "bundle.sig"}
