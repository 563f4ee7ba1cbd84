"""The ID issuer on SQLite and PostgreSQL: requests, refusals, uniqueness, lifecycle."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from itptrace.access import Actor, Role
from itptrace.clock import FixedClock
from itptrace.codes import lifecycle, model
from itptrace.codes import service as issuer_service
from itptrace.codes.lifecycle import CodeState
from itptrace.codes.model import IssuerError, Profile
from itptrace.codes.offline import PublicKeySet, verify_offline
from itptrace.codes.service import AggregateRequest, UnitRequest
from itptrace.context import Context
from itptrace.errors import Conflict, DomainError, Forbidden, NotFound
from itptrace.gs1.element import to_element_string
from itptrace.repository.schema import code_requests, unit_uis
from itptrace.sim.world import World
from tests.integration.chain import build_world


def unit_request(world: World, quantity: int = 100, **changes: object) -> UnitRequest:
    fields: dict[str, object] = {
        "operator_id": world.maker,
        "facility_id": world.plant,
        "machine_id": world.machine,
        "gtin": world.gtin,
        "intended_market": "KE",
        "quantity": quantity,
    }
    fields.update(changes)
    return UnitRequest(**fields)  # type: ignore[arg-type]


def stored_rows(ctx: Context) -> tuple[int, int]:
    with ctx.db.transaction() as conn:
        requests = conn.execute(select(func.count()).select_from(code_requests)).scalar_one()
        codes = conn.execute(select(func.count()).select_from(unit_uis)).scalar_one()
    return int(requests), int(codes)


def keyset(ctx: Context) -> PublicKeySet:
    return PublicKeySet.from_json(lifecycle.export_public_keys(ctx))


def test_issued_unit_codes_are_unique_well_formed_and_verify_offline(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 500))
    codes = list(lifecycle.request_codes(ctx, issuer, batch.request_id))
    assert len(codes) == 500 == len({c.ui for c in codes})
    layout = model.UiLayout("KET01", 9)
    assert all(layout.split_unit(c.ui) == ("KET01", c.ui[5:14], batch.product_code) for c in codes)
    keys = keyset(ctx)
    assert all(verify_offline(to_element_string(c), keys).valid for c in codes)


def test_a_unit_code_leads_to_facility_machine_product_and_market(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(
        ctx,
        issuer,
        unit_request(
            world,
            3,
            intended_market="UG",
            importer_id=world.importer,
            route="Nairobi-Malaba-Kampala",
        ),
    )
    ui = next(lifecycle.request_codes(ctx, issuer, batch.request_id)).ui
    record = lifecycle.lookup_code(ctx, ui)
    assert (record.facility_id, record.machine_id, record.gtin) == (
        world.plant,
        world.machine,
        world.gtin,
    )
    assert (record.intended_market, record.importer_id, record.route) == (
        "UG",
        world.importer,
        "Nairobi-Malaba-Kampala",
    )
    assert record.state is CodeState.ISSUED


def test_the_same_production_combination_reuses_its_product_code(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    first = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 2))
    second = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 2))
    other = issuer_service.request_unit_codes(
        ctx, issuer, unit_request(world, 2, intended_market="UG")
    )
    assert first.product_code == second.product_code != other.product_code


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"quantity": 0}, IssuerError, "quantity must be between 1 and"),
        ({"quantity": 2_000_001}, IssuerError, "quantity must be between 1 and"),
        ({"facility_id": "KET01FNOPE00"}, NotFound, "unknown facility"),
        ({"machine_id": "KET01MNOPE00"}, NotFound, "unknown machine"),
        ({"intended_market": "QQ"}, DomainError, "unknown country"),
        ({"gtin": "06009876543210"}, DomainError, "check digit"),
    ],
)
def test_a_bad_unit_request_is_refused_and_stores_nothing(
    ctx: Context, issuer: Actor, changes: dict[str, object], error: type[DomainError], message: str
) -> None:
    world = build_world(ctx)
    with pytest.raises(error, match=message):
        issuer_service.request_unit_codes(ctx, issuer, unit_request(world, **changes))
    assert stored_rows(ctx) == (0, 0)


def test_a_machine_of_another_facility_is_refused(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    from itptrace.registry import service as registry

    other_plant = registry.add_facility(
        ctx,
        issuer,
        operator_id=world.maker,
        name="Plant 2",
        type="manufacturing",
        address="Mombasa",
        country="KE",
    )
    with pytest.raises(DomainError, match="is not at facility"):
        issuer_service.request_unit_codes(
            ctx, issuer, unit_request(world, facility_id=other_plant.id)
        )
    assert stored_rows(ctx) == (0, 0)


def test_an_operator_requests_codes_only_for_its_own_facilities(ctx: Context) -> None:
    world = build_world(ctx)
    maker = Actor("maker", Role.OPERATOR, operator_id=world.maker, tobacco_industry=True)
    batch = issuer_service.request_unit_codes(ctx, maker, unit_request(world, 5))
    assert batch.quantity == 5 and batch.key_id is not None
    importer = Actor("importer", Role.OPERATOR, operator_id=world.importer)
    with pytest.raises(Forbidden):
        issuer_service.request_unit_codes(ctx, importer, unit_request(world, 5))
    with pytest.raises(IssuerError, match="does not belong"):
        issuer_service.request_unit_codes(
            ctx, maker, unit_request(world, 5, facility_id=world.depot)
        )


@pytest.mark.parametrize(
    "actor",
    [
        Actor("maker", Role.OPERATOR, operator_id="KET01EANY000", tobacco_industry=True),
        Actor("industry-admin", Role.ISSUER_ADMIN, tobacco_industry=True),
        Actor("customs", Role.AUTHORITY),
        Actor("inspector", Role.INSPECTOR),
    ],
    ids=["industry-operator", "industry-flagged-admin", "authority", "inspector"],
)
def test_no_one_but_the_independent_issuer_signs_or_handles_keys(
    ctx: Context, actor: Actor
) -> None:
    before = [k.kid for k in ctx.keys.keys()]
    with pytest.raises(Forbidden):
        issuer_service.rotate_key(ctx, actor)
    with pytest.raises(Forbidden):
        issuer_service.sign_codes(ctx, actor, ["KET01aaaaaaaaa00000000"], "06009876543219")
    with pytest.raises(Forbidden):
        issuer_service.ensure_signing_key(ctx, actor)
    assert [k.kid for k in ctx.keys.keys()] == before


def test_the_guess_probability_limit_refuses_an_over_large_total(
    database_url: str, tmp_path: Path
) -> None:
    from itptrace.access import local_issuer
    from itptrace.bootstrap import build_node
    from itptrace.registry.service import init_party
    from tests.conftest import make_settings

    small = build_node(make_settings(database_url, tmp_path, serial_length=4), migrate=True)
    init_party(small)
    issuer_service.ensure_signing_key(small, local_issuer())
    world = build_world(small)
    # 62**4 = 14,776,336 serials; 1/10,000 of that allows 1,477 codes in all.
    issuer_service.request_unit_codes(
        small, local_issuer(), unit_request(world, 1_400, profile=Profile.EU)
    )
    with pytest.raises(IssuerError, match="at most 77 more"):
        issuer_service.request_unit_codes(
            small, local_issuer(), unit_request(world, 100, profile=Profile.EU)
        )
    assert stored_rows(small) == (1, 1_400)
    small.db.dispose()


def test_the_database_refuses_a_second_copy_of_an_issued_ui(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 1))
    ui = next(lifecycle.request_codes(ctx, issuer, batch.request_id)).ui
    with pytest.raises(IntegrityError), ctx.db.transaction() as conn:
        conn.execute(insert(unit_uis).values(ui=ui, request_id=batch.request_id, tag=None))


def test_a_serial_that_clashes_with_an_earlier_code_is_drawn_again(
    ctx: Context, issuer: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(ctx)
    real = model.random_serials
    calls = iter(range(1_000))

    def first_serial_fixed(count: int, length: int) -> list[str]:
        # The first draw of each request starts with the same serial, so the second
        # request clashes with the first; redraws are genuinely random.
        return (
            ["AAAAAAAAA", *real(count - 1, length)]
            if next(calls) in (0, 1)
            else real(count, length)
        )

    monkeypatch.setattr(issuer_service, "random_serials", first_serial_fixed)
    first = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 3))
    second = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 3))
    codes = [
        c.ui for b in (first, second) for c in lifecycle.request_codes(ctx, issuer, b.request_id)
    ]
    assert len(codes) == len(set(codes)) == 6
    assert stored_rows(ctx) == (2, 6)


def test_eu_profile_codes_carry_no_tag_and_need_online_verification(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(
        ctx, issuer, unit_request(world, 3, profile=Profile.EU)
    )
    code = next(lifecycle.request_codes(ctx, issuer, batch.request_id))
    assert code.tag is None and batch.key_id is None
    assert verify_offline(to_element_string(code), keyset(ctx)).reason.value == "no_tag"


def test_aggregated_uis_carry_the_facility_identifier(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_aggregate_codes(
        ctx, issuer, AggregateRequest(world.maker, world.plant, 10)
    )
    codes = list(lifecycle.request_codes(ctx, issuer, batch.request_id))
    assert len(codes) == 10 and all(c.ui.endswith(world.plant) and len(c.ui) <= 100 for c in codes)
    assert lifecycle.lookup_code(ctx, codes[0].ui).kind == "aggregate"


def test_unused_codes_expire_after_the_configured_period(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 1))
    ui = next(lifecycle.request_codes(ctx, issuer, batch.request_id)).ui
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(timedelta(days=182))
    assert lifecycle.lookup_code(ctx, ui).state is CodeState.ISSUED
    ctx.clock.advance(timedelta(days=2))
    assert lifecycle.lookup_code(ctx, ui).state is CodeState.EXPIRED


def test_a_request_can_be_cancelled_only_within_its_window(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    early = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 1))
    late = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 1))
    lifecycle.cancel_request(ctx, issuer, early.request_id, "wrong market")
    ui = next(lifecycle.request_codes(ctx, issuer, early.request_id)).ui
    assert lifecycle.lookup_code(ctx, ui).state is CodeState.CANCELLED
    with pytest.raises(Conflict):
        lifecycle.cancel_request(ctx, issuer, early.request_id, "again")
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(timedelta(days=1, minutes=1))  # Monday 08:00 -> Tuesday 08:01
    with pytest.raises(IssuerError, match="window closed"):
        lifecycle.cancel_request(ctx, issuer, late.request_id, "too late")


def test_deactivation_records_its_reason_and_keeps_the_issuance(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 2))
    first, second = (c.ui for c in lifecycle.request_codes(ctx, issuer, batch.request_id))
    assert lifecycle.deactivate_codes(ctx, issuer, [first], "stolen", "truck hijacked") == 1
    record = lifecycle.lookup_code(ctx, first)
    assert (record.state, record.deactivation_reason) == (CodeState.DEACTIVATED, "stolen")
    with pytest.raises(Conflict):
        lifecycle.deactivate_codes(ctx, issuer, [second, first], "lost")
    assert lifecycle.lookup_code(ctx, second).state is CodeState.ISSUED
    with pytest.raises(DomainError, match="unknown deactivation reason"):
        lifecycle.deactivate_codes(ctx, issuer, [second], "misplaced")
    stranger = Actor("importer", Role.OPERATOR, operator_id=world.importer)
    with pytest.raises(Forbidden):
        lifecycle.deactivate_codes(ctx, stranger, [second], "lost")


def test_codes_signed_before_a_key_rotation_still_verify(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    old = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 2))
    new_key = issuer_service.rotate_key(ctx, issuer)
    new = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 2))
    assert new.key_id == new_key.kid != old.key_id
    keys = keyset(ctx)
    for batch in (old, new):
        codes = list(lifecycle.request_codes(ctx, issuer, batch.request_id))
        assert len(codes) == 2
        assert all(verify_offline(to_element_string(c), keys).valid for c in codes)
    statuses = {k["kid"]: k["status"] for k in lifecycle.export_public_keys(ctx)["keys"]}
    assert statuses == {old.key_id: "retired", new.key_id: "active"}


def test_private_keys_stay_in_owner_only_files_and_out_of_the_export(ctx: Context) -> None:
    kid = ctx.keys.active_kid()
    assert kid is not None
    key_file = ctx.settings.key_dir / f"{kid}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(ctx.settings.key_dir.stat().st_mode) == 0o700
    exported = str(lifecycle.export_public_keys(ctx))
    assert "PRIVATE" not in exported and key_file.read_text().splitlines()[1] not in exported


def test_a_large_request_is_signed_in_parallel_and_every_code_verifies(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 25_000))
    codes = list(lifecycle.request_codes(ctx, issuer, batch.request_id))
    keys = keyset(ctx)
    assert len({c.ui for c in codes}) == 25_000
    assert all(verify_offline(to_element_string(c), keys).valid for c in codes[::97])
