"""The ID issuer: unit and aggregated UI requests, keys, cancellation and deactivation.

Only this service makes codes and only the issuer's keys sign them (ITP Art. 8.12).
Economic operators may *request* codes for their own facilities; they never sign, never
hold keys and never choose serials. A request is all-or-nothing: either every code of it is
stored with its request record, or nothing is.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission, allowed, authorize
from itptrace.codes import keyring, store
from itptrace.codes.model import (
    PRODUCT_CODE_ALPHABET,
    PRODUCT_CODE_LENGTH,
    IssuerError,
    Profile,
    aggregate_ui,
    check_guess_limit,
    random_serials,
    unit_ui,
)
from itptrace.codes.pipeline import sign_inline, signed_chunks
from itptrace.context import Context
from itptrace.countries import checked_country
from itptrace.errors import Forbidden
from itptrace.keys.store import KeyInfo
from itptrace.ledger import service as ledger
from itptrace.registry import service as registry
from itptrace.registry.model import OperatorRole

if TYPE_CHECKING:
    from sqlalchemy import Connection

CHUNK = 10_000


@dataclass(frozen=True)
class UnitRequest:
    operator_id: str
    facility_id: str
    machine_id: str
    gtin: str
    intended_market: str
    quantity: int
    route: str = ""
    importer_id: str | None = None
    profile: Profile | None = None


@dataclass(frozen=True)
class AggregateRequest:
    operator_id: str
    facility_id: str
    quantity: int
    profile: Profile | None = None


@dataclass(frozen=True)
class IssuedBatch:
    request_id: int
    kind: str
    quantity: int
    profile: Profile
    key_id: str | None
    gtin: str | None
    product_code: str | None
    expires_at: datetime


def _check_quantity(ctx: Context, quantity: int) -> None:
    limit = ctx.settings.max_request_quantity
    if quantity <= 0 or quantity > limit:
        raise IssuerError(
            f"quantity must be between 1 and {limit}, got {quantity}", code="bad_quantity"
        )


def _check_capacity(ctx: Context, machine_id: str, per_hour: int, quantity: int) -> None:
    """A request covers at most ``request_capacity_hours`` of the machine's declared output:
    codes beyond what the line can mark are codes that can be put on other packs."""
    hours = ctx.settings.request_capacity_hours
    most = int(per_hour * hours)
    if quantity > most:
        raise IssuerError(
            f"machine {machine_id} marks {per_hour} packs an hour: a request covers at most "
            f"{hours:g} hours of it ({most} codes), not {quantity}",
            subject=machine_id,
            code="quantity_above_capacity",
        )


def _check_facility_of(ctx: Context, operator_id: str, facility_id: str) -> None:
    registry.require_operator(ctx, operator_id)
    facility = registry.require_facility(ctx, facility_id)
    if facility.operator_id != operator_id:
        raise IssuerError(
            f"facility {facility_id} does not belong to operator {operator_id}",
            subject=facility_id,
            code="facility_not_of_operator",
        )


def _signing_key(ctx: Context, profile: Profile) -> tuple[str | None, bytes | None]:
    if profile is Profile.EU:
        return None, None
    kid = ctx.keys.active_kid()
    if kid is None:
        raise IssuerError("the issuer has no signing key yet: run 'itptrace init'", code="no_key")
    return kid, ctx.keys.private_key_pem(kid)


def issuer_profile(ctx: Context, operator_id: str, gtin: str | None) -> Profile:
    """The issuer's profile policy for a request: by product, then operator, then default."""
    policy = ctx.settings.profile_policies
    chosen = (gtin and policy.get(gtin)) or policy.get(operator_id) or ctx.settings.default_profile
    return Profile(chosen)


def _profile(actor: Actor, asked: Profile | None, policy: Profile) -> Profile:
    """The profile a request gets: the policy, unless the issuer's own staff chose another
    (an operator naming another profile is refused, never silently obeyed)."""
    if asked is None or asked is policy:
        return policy
    if not allowed(actor, Permission.ISSUER_PROFILE):
        raise Forbidden(
            f"the code profile is the issuer's policy ({policy.value} for this request); "
            f"{actor.name} may not ask for {asked.value}",
            subject="profile",
            code="profile_is_issuer_policy",
        )
    return asked


def _product_code(conn: Connection, combination: dict[str, str], now: datetime) -> str:
    existing = store.find_product_code(conn, combination)
    if existing is not None:
        return existing
    while True:
        code = "".join(secrets.choice(PRODUCT_CODE_ALPHABET) for _ in range(PRODUCT_CODE_LENGTH))
        if store.get_product_code(conn, code) is None:
            store.insert_product_code(conn, code, combination, now)
            return code


def _store_codes(
    ctx: Context,
    conn: Connection,
    kind: str,
    request_id: int,
    build: Callable[[str], str],
    quantity: int,
    signing: tuple[str | None, bytes | None],
    gtin: str | None,
    progress: Callable[[int], None] | None,
) -> None:
    """Generate unique codes, sign them in parallel and insert them chunk by chunk."""
    seen: set[str] = set()
    codes: list[str] = []
    while len(codes) < quantity:
        for serial in random_serials(quantity - len(codes), ctx.settings.serial_length):
            code = build(serial)
            if code not in seen:
                seen.add(code)
                codes.append(code)
    chunks = [codes[i : i + CHUNK] for i in range(0, quantity, CHUNK)]
    pem = signing[1]
    for pairs in signed_chunks(pem, chunks, gtin):
        _insert_chunk(ctx, conn, kind, request_id, pairs, build, pem, gtin, seen)
        if progress is not None:
            progress(len(pairs))


def _insert_chunk(
    ctx: Context,
    conn: Connection,
    kind: str,
    request_id: int,
    pairs: list[tuple[str, str | None]],
    build: Callable[[str], str],
    pem: bytes | None,
    gtin: str | None,
    seen: set[str],
) -> None:
    # A clash with a code issued by an earlier request is astronomically rare (1 in 10^4 of
    # the code space at most is ever used); when it happens, only the clashing codes are
    # drawn again, inside a savepoint so the rest of the request is untouched.
    while True:
        try:
            with conn.begin_nested():
                store.insert_codes(conn, kind, request_id, pairs)
            return
        except Exception as exc:  # IntegrityError, named loosely to keep SQL out of view
            if "IntegrityError" not in type(exc).__name__:
                raise
        taken = store.existing_codes(conn, kind, [code for code, _ in pairs])
        replaced: list[str] = []
        while len(replaced) < len(taken):
            code = build(random_serials(1, ctx.settings.serial_length)[0])
            if code not in seen:
                seen.add(code)
                replaced.append(code)
        fresh = iter(replaced)
        codes = [next(fresh) if code in taken else code for code, _ in pairs]
        tags = sign_inline(pem, codes, gtin) if pem is not None else [None] * len(codes)
        pairs = list(zip(codes, tags, strict=True))


def _request_values(
    ctx: Context,
    actor: Actor,
    kind: str,
    profile: Profile,
    kid: str | None,
    quantity: int,
    **fields: Any,
) -> dict[str, Any]:
    now = ctx.clock.now()
    return {
        "kind": kind,
        "quantity": quantity,
        "profile": profile.value,
        "key_id": kid,
        "requested_by": actor.name,
        "requested_at": now,
        "expires_at": now + timedelta(days=ctx.settings.code_expiry_days),
        **fields,
    }


def request_unit_codes(
    ctx: Context, actor: Actor, request: UnitRequest, progress: Callable[[int], None] | None = None
) -> IssuedBatch:
    """Issue ``request.quantity`` unit-level UIs (EU message ISU), signed unless profile eu."""
    authorize(actor, Permission.ISSUER_REQUEST, operator_id=request.operator_id)
    _check_quantity(ctx, request.quantity)
    _check_facility_of(ctx, request.operator_id, request.facility_id)
    machine = registry.require_machine(ctx, request.machine_id, request.facility_id)
    _check_capacity(ctx, machine.id, machine.capacity_per_hour, request.quantity)
    product = registry.require_product(ctx, request.gtin)
    market = checked_country(request.intended_market)
    if request.importer_id:
        importer = registry.require_operator(ctx, request.importer_id)
        if OperatorRole.IMPORTER not in importer.roles:
            raise IssuerError(
                f"operator {importer.id} is not registered as an importer",
                subject=importer.id,
                code="not_an_importer",
            )
    policy = issuer_profile(ctx, request.operator_id, product.gtin)
    profile = _profile(actor, request.profile, policy)
    kid, pem = _signing_key(ctx, profile)
    combination = {
        "facility_id": request.facility_id,
        "machine_id": request.machine_id,
        "gtin": product.gtin,
        "intended_market": market,
        "route": request.route.strip(),
        "importer_id": request.importer_id or "",
    }
    with ctx.db.transaction() as conn:
        check_guess_limit(
            store.issued_unit_count(conn),
            request.quantity,
            ctx.settings.serial_length,
            ctx.settings.guess_probability_limit,
        )
        pcode = _product_code(conn, combination, ctx.clock.now())
        values = _request_values(
            ctx,
            actor,
            "unit",
            profile,
            kid,
            request.quantity,
            operator_id=request.operator_id,
            facility_id=request.facility_id,
            machine_id=request.machine_id,
            gtin=product.gtin,
            product_code=pcode,
            intended_market=market,
            route=combination["route"],
            importer_id=request.importer_id,
        )
        request_id = store.insert_request(conn, values)
        issuer = ctx.settings.issuer_code
        _store_codes(
            ctx,
            conn,
            "unit",
            request_id,
            lambda s: unit_ui(issuer, s, pcode),
            request.quantity,
            (kid, pem),
            product.gtin,
            progress,
        )
        ledger.record_issuance(conn, request_id, ctx.clock.now())
    return IssuedBatch(
        request_id,
        "unit",
        request.quantity,
        profile,
        kid,
        product.gtin,
        pcode,
        values["expires_at"],
    )


def request_aggregate_codes(
    ctx: Context,
    actor: Actor,
    request: AggregateRequest,
    progress: Callable[[int], None] | None = None,
) -> IssuedBatch:
    """Issue aggregated UIs (EU message ISA): issuer code + serial + facility id."""
    authorize(actor, Permission.ISSUER_REQUEST, operator_id=request.operator_id)
    _check_quantity(ctx, request.quantity)
    _check_facility_of(ctx, request.operator_id, request.facility_id)
    policy = issuer_profile(ctx, request.operator_id, None)
    profile = _profile(actor, request.profile, policy)
    kid, pem = _signing_key(ctx, profile)
    with ctx.db.transaction() as conn:
        values = _request_values(
            ctx,
            actor,
            "aggregate",
            profile,
            kid,
            request.quantity,
            operator_id=request.operator_id,
            facility_id=request.facility_id,
        )
        request_id = store.insert_request(conn, values)
        issuer, facility = ctx.settings.issuer_code, request.facility_id
        _store_codes(
            ctx,
            conn,
            "aggregate",
            request_id,
            lambda s: aggregate_ui(issuer, s, facility),
            request.quantity,
            (kid, pem),
            None,
            progress,
        )
        ledger.record_issuance(conn, request_id, ctx.clock.now())
    return IssuedBatch(
        request_id, "aggregate", request.quantity, profile, kid, None, None, values["expires_at"]
    )


def ensure_signing_key(ctx: Context, actor: Actor) -> KeyInfo:
    """The active key, made on first use (``itptrace init``)."""
    authorize(actor, Permission.ISSUER_KEYS)
    kid = ctx.keys.active_kid()
    if kid is not None:
        return next(k for k in ctx.keys.keys() if k.kid == kid)
    return ctx.keys.generate(ctx.clock.now())


def rotate_key(ctx: Context, actor: Actor) -> KeyInfo:
    """A new active key; the older one is retired (see ``codes.keyring``), audited."""
    return keyring.rotate_key(ctx, actor)


def sign_codes(ctx: Context, actor: Actor, codes: list[str], gtin: str | None) -> list[str]:
    """Sign codes with the active key: an issuer-only operation, never the industry's."""
    authorize(actor, Permission.ISSUER_KEYS)
    kid, pem = _signing_key(ctx, Profile.SIGNED)
    assert pem is not None and kid is not None
    return sign_inline(pem, codes, gtin)
