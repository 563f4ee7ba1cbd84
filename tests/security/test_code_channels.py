"""What a code proves depends on how it reached the node, and its profile is the issuer's.

A signed-profile code scanned without its tag (the bare UI, or the element string without
(91)/(92)) is not authentic on its own: it is what a copied UI looks like. A code typed in
by hand is a separate channel: its state is checked and the answer says the tag was not.
The scanned (8008) stamp must be the recorded application's. Operators never choose the
profile of their own codes (issue #12).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from itptrace.access import Actor, Role, local_issuer
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer
from itptrace.codes.model import Profile
from itptrace.codes.service import UnitRequest
from itptrace.context import Context
from itptrace.errors import Forbidden
from itptrace.gs1.element import CodePayload, to_element_string, to_raw
from itptrace.sim.world import World
from itptrace.verify import exchange
from itptrace.verify.model import Place, ReasonCode, ScanInput, Verdict
from itptrace.verify.service import verify
from tests.integration.chain import build_world

INSPECTOR = Actor("inspector-njeri", Role.INSPECTOR)


def judged(ctx: Context, text: str, source: str = "online") -> tuple[Verdict, list[ReasonCode]]:
    scan = ScanInput(text, Place("KE"), ctx.clock.now(), str(uuid.uuid4()), source=source)
    found = verify(ctx, INSPECTOR, scan)
    return found.verdict, [f.code for f in found.reasons]


def test_a_signed_code_scanned_without_its_tag_is_suspicious_with_its_own_reason(
    ctx: Context, run: World, codes: dict[str, CodePayload]
) -> None:
    full = codes[run.packs[2]]
    assert judged(ctx, to_raw(full)) == (Verdict.AUTHENTIC, [])
    untagged = to_element_string(replace(full, key_id=None, tag=None))  # (01)..(235)..
    for text in (full.ui, untagged):
        assert judged(ctx, text) == (Verdict.SUSPICIOUS, [ReasonCode.TAG_MISSING])


def test_a_typed_code_has_its_state_checked_and_says_its_tag_was_not(
    ctx: Context, run: World
) -> None:
    assert judged(ctx, run.packs[3], "typed") == (Verdict.AUTHENTIC, [ReasonCode.TAG_NOT_CHECKED])
    lifecycle.deactivate_codes(ctx, local_issuer(), [run.packs[3]], "stolen")
    verdict, reasons = judged(ctx, run.packs[3], "typed")
    assert verdict is Verdict.ILLICIT and reasons == [ReasonCode.TAG_NOT_CHECKED, ReasonCode.STOLEN]


def test_a_scanned_time_stamp_unlike_the_recorded_application_is_flagged(
    ctx: Context, run: World, codes: dict[str, CodePayload]
) -> None:
    full = codes[run.packs[4]]
    scan = ScanInput(to_raw(full), Place("KE"), ctx.clock.now(), str(uuid.uuid4()))
    facts = verify(ctx, INSPECTOR, scan).facts
    assert facts is not None and facts.production_stamp is not None
    recorded = facts.production_stamp  # what the application (EUA) reported
    assert judged(ctx, to_raw(replace(full, timestamp=recorded))) == (Verdict.AUTHENTIC, [])
    other = "25010108" if recorded != "25010108" else "25010109"
    verdict, reasons = judged(ctx, to_raw(replace(full, timestamp=other)))
    assert verdict is Verdict.SUSPICIOUS and reasons == [ReasonCode.STAMP_MISMATCH]


def unit(world: World, **changes: object) -> UnitRequest:
    request = UnitRequest(world.maker, world.plant, world.machine, world.gtin, "KE", 3)
    return replace(request, **changes)  # type: ignore[arg-type]


def test_an_operator_asking_for_unsigned_codes_for_its_own_packs_is_refused(
    ctx: Context,
) -> None:
    world = build_world(ctx)
    maker = Actor("maker", Role.OPERATOR, operator_id=world.maker, tobacco_industry=True)
    with pytest.raises(Forbidden, match="issuer's policy") as refused:
        issuer.request_unit_codes(ctx, maker, unit(world, profile=Profile.EU))
    assert refused.value.code == "profile_is_issuer_policy"
    # Naming the policy's own profile, or none, is harmless; the issuer's staff may choose.
    assert issuer.request_unit_codes(ctx, maker, unit(world)).profile is Profile.SIGNED
    named = issuer.request_unit_codes(ctx, maker, unit(world, profile=Profile.SIGNED))
    assert named.key_id is not None
    chosen = issuer.request_unit_codes(ctx, local_issuer(), unit(world, profile=Profile.EU))
    assert chosen.profile is Profile.EU and chosen.key_id is None


def test_the_profile_follows_the_issuers_policy_per_operator_or_product(ctx: Context) -> None:
    world = build_world(ctx)
    maker = Actor("maker", Role.OPERATOR, operator_id=world.maker, tobacco_industry=True)
    policy = f"{world.maker}=eu"
    ctx.settings = ctx.settings.model_copy(update={"profile_policy": policy})
    assert issuer.request_unit_codes(ctx, maker, unit(world)).profile is Profile.EU
    with pytest.raises(Forbidden):
        issuer.request_unit_codes(ctx, maker, unit(world, profile=Profile.SIGNED))
    policy += f",{world.gtin}=signed"  # a product's policy wins over its operator's
    ctx.settings = ctx.settings.model_copy(update={"profile_policy": policy})
    assert issuer.request_unit_codes(ctx, maker, unit(world)).profile is Profile.SIGNED


def test_over_http_a_typed_code_is_its_own_entry_and_a_bundle_comes_without_its_key(
    ctx: Context, run: World, verify_api: tuple[TestClient, dict[str, dict[str, str]]]
) -> None:
    client, headers = verify_api
    body = {"scan": run.packs[5], "scan_id": str(uuid.uuid4()), "country": "KE"}
    scanned = client.post("/verify", json=body, headers=headers["insp"]).json()
    assert (scanned["verdict"], scanned["reasons"][0]["code"]) == ("suspicious", "tag_missing")
    typed = {**body, "scan_id": str(uuid.uuid4()), "entry": "typed"}
    answer = client.post("/verify", json=typed, headers=headers["insp"]).json()
    assert answer["verdict"] == "authentic" and answer["source"] == "typed"
    assert [r["code"] for r in answer["reasons"]] == ["tag_not_checked"]
    bundle = client.get("/verify/offline-bundle", headers=headers["insp"]).json()
    pinned = exchange.bundle_key_document(ctx, INSPECTOR)
    assert bundle["bundle_key_id"] == pinned["kid"]
    assert pinned["public_key"] not in json.dumps(bundle)
    for data in bundle["files"].values():
        assert pinned["public_key"].encode() not in base64.b64decode(data)
