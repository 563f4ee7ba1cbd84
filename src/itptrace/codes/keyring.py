"""The life of the issuer's signing keys: retirement (rotation), revocation, archive.

A key signs from its creation until it is retired (a rotation makes a new active key) or
revoked (it is compromised). Its private key file leaves the node's key directory at that
moment; whoever must keep it archives it first (``archive_key``), to a file of their
choosing. The public key stays published: a retired key's tags verify within the window the
key set gives it (``codes.keyset.verify_until``), a revoked key's are refused online and
offline (the bundle carries the revocation list). Each of these is the issuer's own right
(``Permission.ISSUER_KEY_LIFECYCLE``) and leaves an audit record, refused attempts too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from itptrace.access import Actor, Permission, authorize
from itptrace.auth import audit
from itptrace.codes.model import IssuerError
from itptrace.context import Context
from itptrace.errors import DomainError, NotFound
from itptrace.keys.store import KeyInfo

T = TypeVar("T")
OPERATION = Permission.ISSUER_KEY_LIFECYCLE


def _audited(ctx: Context, actor: Actor, params: dict[str, str], work: Callable[[], T]) -> T:
    try:
        authorize(actor, OPERATION)
        done = work()
    except DomainError as failure:
        audit.record(ctx, audit.entry_for(actor, OPERATION.value, params, failure=failure))
        raise
    audit.record(ctx, audit.entry_for(actor, OPERATION.value, params, count=1))
    return done


def _known(ctx: Context, kid: str) -> KeyInfo:
    found = next((k for k in ctx.keys.keys() if k.kid == kid), None)
    if found is None:
        raise NotFound(f"the issuer has no key {kid}", subject=kid)
    return found


def rotate_key(ctx: Context, actor: Actor) -> KeyInfo:
    """A new active key; the previous one is retired and its private key file removed."""
    return _audited(ctx, actor, {"action": "rotate"}, lambda: ctx.keys.generate(ctx.clock.now()))


def revoke_key(ctx: Context, actor: Actor, kid: str, reason: str) -> KeyInfo:
    """Revoke a key: its tags are refused from now on; a revoked active key leaves the issuer
    without one until ``rotate_key``."""
    why = reason.strip()[:200]

    def revoke() -> KeyInfo:
        if not why:
            raise IssuerError("say why the key is revoked (--reason)", code="empty_request")
        if _known(ctx, kid).revoked_at:
            raise IssuerError(f"key {kid} is already revoked", subject=kid, code="key_revoked")
        return ctx.keys.revoke(kid, ctx.clock.now(), why)

    return _audited(ctx, actor, {"action": "revoke", "kid": kid, "reason": why}, revoke)


def archive_key(ctx: Context, actor: Actor, kid: str, out: Path) -> Path:
    """Write a private key still on the node (the active one) to ``out``, mode 0600."""

    def archive() -> Path:
        info = _known(ctx, kid)
        if info.status != "active":
            raise IssuerError(
                f"key {kid} is {info.status}: its private key has left the key directory",
                subject=kid,
                code="key_not_on_node",
            )
        return ctx.keys.archive(kid, out)

    return _audited(ctx, actor, {"action": "archive", "kid": kid, "to": str(out)}, archive)
