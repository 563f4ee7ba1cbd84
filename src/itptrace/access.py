"""Who is calling, through which door and why, and the one table of who may do what.

Every service function that reads or writes protected data takes an ``Actor``: the
principal (a user with one role, perhaps bound to an operator), the door it came through
(API, CLI, web pages, GSP) and the purpose and case reference it stated. Rights are decided
here and only here, by :data:`PERMISSIONS`, so every door gets the same answer for the same
caller. The tobacco industry reports data but never generates codes, holds keys or controls
access (ITP Art. 8.12): an actor flagged ``tobacco_industry`` is refused every permission
marked ``industry=False``, whatever role it claims.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from itptrace.errors import DomainError, Forbidden


class Role(StrEnum):
    ISSUER_ADMIN = "issuer_admin"
    AUTHORITY = "authority"
    INSPECTOR = "inspector"
    AUDITOR = "auditor"
    OPERATOR = "operator"
    GSP_PEER = "gsp_peer"


class Door(StrEnum):
    """The entry point a call came through; recorded in every audit record."""

    API = "api"
    CLI = "cli"
    WEB = "web"
    GSP = "gsp"


@dataclass(frozen=True)
class Actor:
    """The principal behind a call, the door it used, and the purpose it stated."""

    name: str
    role: Role
    operator_id: str | None = None
    tobacco_industry: bool = False
    door: Door = Door.CLI
    purpose: str | None = None
    case_ref: str | None = None

    def __post_init__(self) -> None:
        if self.role is Role.OPERATOR and not self.operator_id:
            raise ValueError("an operator actor must be bound to an economic operator")

    def stating(self, purpose: str | None, case_ref: str | None = None) -> Actor:
        """The same actor with the purpose and case reference of one request."""
        return replace(self, purpose=(purpose or "").strip() or None, case_ref=case_ref)

    def through(self, door: Door) -> Actor:
        return replace(self, door=door)


class Permission(StrEnum):
    REGISTRY_WRITE = "registry.write"
    REGISTRY_READ = "registry.read"
    ISSUER_REQUEST = "issuer.request"
    ISSUER_CODES = "issuer.codes"
    ISSUER_CANCEL = "issuer.cancel"
    ISSUER_DEACTIVATE = "issuer.deactivate"
    ISSUER_KEYS = "issuer.keys"
    ISSUER_KEY_LIFECYCLE = "issuer.key_lifecycle"
    ISSUER_PROFILE = "issuer.profile"
    CAPTURE_REPORT = "capture.report"
    CAPTURE_ON_BEHALF = "capture.on_behalf"
    QUERY_TRACE = "query.trace"
    QUERY_EVENTS = "query.events"
    QUERY_CONTENTS = "query.contents"
    QUERY_WHERE = "query.where"
    QUERY_REPORT = "query.report"
    QUERY_COMPLETENESS = "query.completeness"
    REFUSED_READ = "refused.read"
    AUDIT_READ = "audit.read"
    LEDGER_READ = "ledger.read"
    LEDGER_CHECK = "ledger.check"
    LEDGER_CHECKPOINT = "ledger.checkpoint"
    VERIFY = "verify"
    OFFLINE_BUNDLE = "verify.bundle"
    ALERTS_READ = "alerts.read"
    ALERTS_MANAGE = "alerts.manage"
    USERS_MANAGE = "users.manage"
    HEALTH = "health"


@dataclass(frozen=True)
class Rule:
    """Who holds a permission.

    ``own``: an operator holds it only for its own operator (the service names the operator
    concerned). ``industry``: whether an actor flagged tobacco_industry may hold it at all.
    ``audited``: the permission reads pack-level data, so every use leaves an audit record.
    ``purpose``: authorities must state a purpose when the node requires one.
    """

    roles: frozenset[Role]
    own: bool = False
    industry: bool = True
    audited: bool = False
    purpose: bool = False


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


_ISSUER, _AUTH, _INSP, _AUDIT, _OP = (
    Role.ISSUER_ADMIN,
    Role.AUTHORITY,
    Role.INSPECTOR,
    Role.AUDITOR,
    Role.OPERATOR,
)
# The only place a right is written. Operators are scoped to their own operator (``own``)
# here, and to the UIs they may see in the query services.
PERMISSIONS: dict[Permission, Rule] = {
    Permission.REGISTRY_WRITE: Rule(_roles(_ISSUER), industry=False),
    Permission.REGISTRY_READ: Rule(_roles(_ISSUER, _AUTH, _INSP, _AUDIT, _OP)),
    Permission.ISSUER_REQUEST: Rule(_roles(_ISSUER, _OP), own=True),
    Permission.ISSUER_CODES: Rule(_roles(_ISSUER, _OP), own=True, audited=True),
    Permission.ISSUER_CANCEL: Rule(_roles(_ISSUER, _OP), own=True),
    Permission.ISSUER_DEACTIVATE: Rule(_roles(_ISSUER, _OP), own=True),
    Permission.ISSUER_KEYS: Rule(_roles(_ISSUER), industry=False),
    # Retiring (rotating), revoking and archiving a signing key; every use is audited.
    Permission.ISSUER_KEY_LIFECYCLE: Rule(_roles(_ISSUER), industry=False),
    # Choosing a request's code profile (signed or eu) against the issuer's policy.
    Permission.ISSUER_PROFILE: Rule(_roles(_ISSUER), industry=False),
    Permission.CAPTURE_REPORT: Rule(_roles(_ISSUER, _OP), own=True),
    # Reporting in an operator's name: the issuer's staff only, when the node allows it
    # (ITPTRACE_CAPTURE_ON_BEHALF), every use audited.
    Permission.CAPTURE_ON_BEHALF: Rule(_roles(_ISSUER), industry=False, audited=True),
    Permission.QUERY_TRACE: Rule(_roles(_AUTH, _OP), audited=True, purpose=True),
    Permission.QUERY_EVENTS: Rule(_roles(_AUTH, _OP), audited=True, purpose=True),
    Permission.QUERY_CONTENTS: Rule(_roles(_AUTH, _OP), audited=True, purpose=True),
    Permission.QUERY_WHERE: Rule(_roles(_AUTH, _INSP, _OP), audited=True, purpose=True),
    Permission.QUERY_REPORT: Rule(_roles(_AUTH, _INSP, _OP), audited=True, purpose=True),
    Permission.QUERY_COMPLETENESS: Rule(_roles(_AUTH, _AUDIT), industry=False),
    Permission.REFUSED_READ: Rule(_roles(_AUTH, _AUDIT, _ISSUER, _OP), own=True, audited=True),
    Permission.AUDIT_READ: Rule(_roles(_AUDIT, _AUTH), industry=False),
    # Ledger entries reveal request ids and UIs; fsck reports only what is wrong, so the
    # issuer's staff may run it on their own node.
    Permission.LEDGER_READ: Rule(_roles(_AUDIT, _AUTH), industry=False),
    Permission.LEDGER_CHECK: Rule(_roles(_AUDIT, _AUTH, _ISSUER), industry=False),
    # Signing a checkpoint commits the node to a history: an operation of the node itself.
    Permission.LEDGER_CHECKPOINT: Rule(_roles(_ISSUER, _AUTH), industry=False),
    Permission.VERIFY: Rule(_roles(_INSP, _AUTH), industry=False, audited=True),
    Permission.OFFLINE_BUNDLE: Rule(_roles(_INSP, _AUTH), industry=False, audited=True),
    Permission.ALERTS_READ: Rule(_roles(_AUTH), industry=False, audited=True),
    Permission.ALERTS_MANAGE: Rule(_roles(_AUTH), industry=False, audited=True),
    Permission.USERS_MANAGE: Rule(_roles(_ISSUER), industry=False),
    Permission.HEALTH: Rule(frozenset(Role)),
}


class PurposeRequired(DomainError):
    code = "purpose_required"


def authorize(
    actor: Actor,
    permission: Permission,
    *,
    operator_id: str | None = None,
    purpose_required: bool = False,
) -> None:
    """Refuse unless ``actor`` holds ``permission`` (for ``operator_id``, when it is scoped).

    ``purpose_required`` is the node's setting: authorities then state why they read
    pack-level data (the purpose or a case reference).
    """
    rule = PERMISSIONS[permission]
    # The industry only ever reports as an operator: it holds no staff role (Art. 8.12).
    if actor.tobacco_industry and (not rule.industry or actor.role is not Role.OPERATOR):
        raise Forbidden(
            f"{permission} is refused to the tobacco industry (ITP Art. 8.12)",
            subject=actor.name,
            code="industry_refused",
        )
    if actor.role not in rule.roles:
        needed = sorted(rule.roles)
        which = (
            f"the {needed[0]} role" if len(needed) == 1 else "one of the roles " + ", ".join(needed)
        )
        raise Forbidden(
            f"{permission} needs {which}; {actor.name} has {actor.role}", subject=actor.name
        )
    if (
        rule.own
        and actor.role is Role.OPERATOR
        and operator_id is not None
        and operator_id != actor.operator_id
    ):
        raise Forbidden(
            f"{permission} for operator {operator_id} is refused to {actor.name}",
            subject=operator_id,
        )
    if (
        purpose_required
        and rule.purpose
        and actor.role is Role.AUTHORITY
        and not (actor.purpose or actor.case_ref)
    ):
        raise PurposeRequired(
            "this node requires a purpose (a case reference or the reason) for authority "
            "queries: send the X-Purpose header, or --purpose on the command line",
            subject="purpose",
        )


def allowed(actor: Actor, permission: Permission, operator_id: str | None = None) -> bool:
    try:
        authorize(actor, permission, operator_id=operator_id)
    except Forbidden:
        return False
    return True


def local_issuer(name: str = "local-issuer") -> Actor:
    """The node's own issuer administration at its console (CLI issuer commands)."""
    return Actor(name=name, role=Role.ISSUER_ADMIN)


def local_authority(name: str = "local-authority") -> Actor:
    """The competent authority at the node's own console (CLI queries, audited)."""
    return Actor(name=name, role=Role.AUTHORITY)
