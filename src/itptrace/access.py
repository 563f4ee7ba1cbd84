"""Who is acting, and the rules of Article 8.12 that hold whatever the entry point.

Every service function that changes or reads protected data takes an ``Actor``. Roles are
checked here, in the service layer, so the CLI, the API and the GSP node get the same
answer. The tobacco industry reports data but never generates codes, holds keys or
controls access: an actor flagged ``tobacco_industry`` is refused every issuer and key
operation, whatever role it claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from itptrace.errors import Forbidden


class Role(StrEnum):
    ISSUER_ADMIN = "issuer_admin"
    AUTHORITY = "authority"
    INSPECTOR = "inspector"
    AUDITOR = "auditor"
    OPERATOR = "operator"
    GSP_PEER = "gsp_peer"


@dataclass(frozen=True)
class Actor:
    """The principal behind a call: a user with one role, perhaps bound to an operator."""

    name: str
    role: Role
    operator_id: str | None = None
    tobacco_industry: bool = False

    def __post_init__(self) -> None:
        if self.role is Role.OPERATOR and not self.operator_id:
            raise ValueError("an operator actor must be bound to an economic operator")


def require_issuer(actor: Actor, action: str) -> None:
    """Refuse ``action`` unless the actor is the independent ID issuer (Art. 8.12)."""
    if actor.tobacco_industry:
        raise Forbidden(
            f"{action} is refused: the tobacco industry may not generate codes or hold keys "
            "(ITP Art. 8.12)",
            subject=actor.name,
            code="industry_refused",
        )
    if actor.role is not Role.ISSUER_ADMIN:
        raise Forbidden(
            f"{action} needs the issuer_admin role; {actor.name} has {actor.role}",
            subject=actor.name,
        )


def require_operator_or_issuer(actor: Actor, operator_id: str, action: str) -> None:
    """Allow the issuer, or the operator acting for itself; refuse everyone else."""
    if actor.role is Role.ISSUER_ADMIN and not actor.tobacco_industry:
        return
    if actor.role is Role.OPERATOR and actor.operator_id == operator_id:
        return
    raise Forbidden(
        f"{action} for operator {operator_id} is refused to {actor.name} ({actor.role})",
        subject=operator_id,
    )


def local_issuer() -> Actor:
    """The node's own issuer administrator, used by the local CLI on the issuer's machine."""
    return Actor(name="local-issuer", role=Role.ISSUER_ADMIN)


def local_authority() -> Actor:
    """The competent authority at the node's own console (CLI queries, audited)."""
    return Actor(name="local-authority", role=Role.AUTHORITY)


_ALL = frozenset(Role)
# Who may do what. Operators are further scoped to their own operator in the services;
# the tobacco industry is refused INDUSTRY_REFUSED whatever role a user claims (Art. 8.12).
PERMISSIONS: dict[str, frozenset[Role]] = {
    "registry.write": frozenset({Role.ISSUER_ADMIN}),
    "registry.read": frozenset(
        {Role.ISSUER_ADMIN, Role.AUTHORITY, Role.INSPECTOR, Role.AUDITOR, Role.OPERATOR}
    ),
    "issuer.request": frozenset({Role.ISSUER_ADMIN, Role.OPERATOR}),
    "issuer.keys": frozenset({Role.ISSUER_ADMIN}),
    "capture.report": frozenset({Role.ISSUER_ADMIN, Role.OPERATOR}),
    "query.trace": frozenset({Role.AUTHORITY, Role.OPERATOR}),
    "query.events": frozenset({Role.AUTHORITY, Role.OPERATOR}),
    "query.contents": frozenset({Role.AUTHORITY, Role.OPERATOR}),
    "query.where": frozenset({Role.AUTHORITY, Role.INSPECTOR, Role.OPERATOR}),
    "query.report": frozenset({Role.AUTHORITY, Role.INSPECTOR, Role.OPERATOR}),
    "query.completeness": frozenset({Role.AUTHORITY, Role.AUDITOR}),
    "refused.read": frozenset({Role.AUTHORITY, Role.AUDITOR, Role.ISSUER_ADMIN, Role.OPERATOR}),
    "audit.read": frozenset({Role.AUDITOR, Role.AUTHORITY}),
    "ledger.read": frozenset({Role.AUDITOR, Role.AUTHORITY}),
    "ledger.checkpoint": frozenset({Role.ISSUER_ADMIN, Role.AUTHORITY}),
    "verify": frozenset({Role.INSPECTOR, Role.AUTHORITY}),
    "users.manage": frozenset({Role.ISSUER_ADMIN}),
    "health": _ALL,
}
INDUSTRY_REFUSED = frozenset(
    {
        "registry.write",
        "issuer.keys",
        "audit.read",
        "ledger.read",
        "ledger.checkpoint",
        "users.manage",
        "query.completeness",
        "verify",
    }
)


def require(actor: Actor, permission: str) -> None:
    """Refuse unless ``actor``'s role holds ``permission`` (and Art. 8.12 allows it)."""
    if actor.tobacco_industry and permission in INDUSTRY_REFUSED:
        raise Forbidden(
            f"{permission} is refused to the tobacco industry (ITP Art. 8.12)",
            subject=actor.name,
            code="industry_refused",
        )
    if actor.role not in PERMISSIONS[permission]:
        raise Forbidden(f"{actor.name} ({actor.role}) may not {permission}", subject=actor.name)
