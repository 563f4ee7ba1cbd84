"""Durable jobs, pure: the states a job moves through, the ``Job`` value, what a handler is.

A job is work a caller asked for that runs later in the background, with the caller's
rights: a queued capture, a message for the GSP outbox, a webhook. Nothing here knows a
kind of job: a capability registers a ``JobKind`` (its name, the right it needs, its
handler and limits) in the node's ``JobKinds`` and the queue runs it.

    queued --claimed--> running --outcome ok------------------------> done
                           |    --outcome not ok, or refused---------> failed
                           |    --error, attempts left--> queued (after a delay)
                           |    --error, no attempt left-------------> failed
                           '--lease expired (its worker died): claimed again (an attempt)

A claim is a lease: the worker holding it renews it while it works, and only the holder
of the lease may record the outcome. A job whose worker died is claimed again once the
lease has run out, until its attempts are used up. Jobs of one ``lane`` (a capture job's
operator, say) run one at a time, oldest first, however many workers there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from itptrace.access import Actor, Permission, Role, allowed
from itptrace.errors import DomainError, NotFound

C = TypeVar("C", contravariant=True)
K = TypeVar("K")
MIB = 1024 * 1024
MAX_PROBLEMS = 100  # queue-level problems kept with a job
MAX_MESSAGE = 500  # characters of a problem's message kept
MAX_RETRY_DELAY = timedelta(hours=1)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED)


class JobPayloadTooLarge(DomainError):
    """A job's payload is over its kind's limit (nothing is queued)."""

    code = "job_payload_too_large"


class LeaseLost(Exception):
    """The claim's lease ran out and the job was claimed again (or finished): this run's
    outcome is not recorded, and whatever it wrote with it is rolled back."""


@dataclass(frozen=True)
class Submitter:
    """Who asked for a job: the actor as it was then, and the token it came with (None for
    the node's own principals, such as the local console)."""

    name: str
    role: Role
    operator_id: str | None = None
    tobacco_industry: bool = False
    token_id: str | None = None

    @classmethod
    def of(cls, actor: Actor, token_id: str | None = None) -> Submitter:
        return cls(actor.name, actor.role, actor.operator_id, actor.tobacco_industry, token_id)

    @property
    def actor(self) -> Actor:
        """The actor as recorded at submission (its rights are checked again before a run)."""
        return Actor(self.name, self.role, self.operator_id, self.tobacco_industry)


@dataclass(frozen=True)
class JobProblem:
    """Why the queue failed a job (refused rights, an error, lost attempts)."""

    code: str
    message: str
    subject: str | None = None

    @classmethod
    def of(cls, error: DomainError) -> JobProblem:
        return cls(error.code, error.message, error.subject)


@dataclass(frozen=True)
class Outcome:
    """What a handler reports: whether the job succeeded, and a summary of its own kind
    (JSON-able: counts, ids, the events a capture refused)."""

    ok: bool
    summary: dict[str, Any] = field(default_factory=dict)
    problems: tuple[JobProblem, ...] = ()


@dataclass(frozen=True)
class Job:
    """A job as its submitter (and the issuer) see it; the payload is not part of it."""

    id: int
    kind: str
    state: JobState
    submitter: Submitter
    received_at: datetime
    attempts: int
    max_attempts: int
    lane: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    problems: tuple[JobProblem, ...] = ()


@dataclass(frozen=True)
class Claim:
    """A running job held by one worker: its payload, and the lease only it may finish."""

    job: Job
    payload: str
    lease: str
    lease_until: datetime


class Finish(Protocol):
    """Records a job's outcome inside the handler's own transaction, so that the outcome
    commits or rolls back with what the handler wrote. ``conn`` is that transaction's
    connection (typed loosely so this model stays free of SQL). Raises ``LeaseLost``."""

    def __call__(self, conn: Any, outcome: Outcome) -> None: ...


class Handler(Protocol[C]):
    """Runs one job of its kind for ``actor``: the submitter, its rights checked just now.

    Returns the outcome. A handler that writes in a transaction of its own calls ``finish``
    inside it, so the job is applied exactly once; otherwise the queue records the returned
    outcome. A ``DomainError`` fails the job with its reason; any other exception is retried
    while attempts remain.
    """

    def __call__(self, ctx: C, actor: Actor, job: Job, payload: str, finish: Finish) -> Outcome: ...


@dataclass(frozen=True)
class JobKind(Generic[K]):
    """A kind of job: ``permission`` (in ``access.PERMISSIONS``) is needed to submit it, to
    read it and, checked again when it runs, for it to run at all."""

    name: str
    permission: Permission
    handler: Handler[K]
    max_payload_bytes: int = 1 * MIB
    max_attempts: int = 3
    retry_delay: timedelta = timedelta(seconds=5)

    def __post_init__(self) -> None:
        if not (0 < len(self.name) <= 32 and self.name.replace("_", "").isalnum()):
            raise ValueError(f"job kind {self.name!r}: 1 to 32 letters, digits or _")
        if self.max_attempts < 1 or self.max_payload_bytes < 1:
            raise ValueError(f"job kind {self.name}: limits must be positive")

    def check_payload(self, payload: str) -> None:
        """Refuse a payload over this kind's limit (counted in UTF-8 bytes)."""
        size = len(payload) if payload.isascii() else len(payload.encode("utf-8"))
        if size > self.max_payload_bytes:
            raise JobPayloadTooLarge(
                f"a {self.name} job takes at most {self.max_payload_bytes} bytes, not {size}",
                subject=self.name,
            )

    def retry_at(self, now: datetime, attempts: int) -> datetime:
        """When a job that failed its ``attempts``-th attempt may run again: the delay
        doubles with each attempt, up to an hour."""
        delay: timedelta = self.retry_delay * (2 ** max(attempts - 1, 0))
        return now + min(delay, MAX_RETRY_DELAY)


class JobKinds(Generic[K]):
    """The kinds of job a node runs, by name: each capability registers its own."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind[K]] = {}

    def register(self, kind: JobKind[K]) -> JobKind[K]:
        known = self._kinds.get(kind.name)
        if known is not None and known != kind:
            raise ValueError(f"job kind {kind.name} is registered already")
        self._kinds[kind.name] = kind
        return kind

    def get(self, name: str) -> JobKind[K]:
        kind = self._kinds.get(name)
        if kind is None:
            raise NotFound(f"no job kind {name} on this node", subject=name)
        return kind

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[JobKind[K]]:
        return iter(self._kinds.values())

    @property
    def names(self) -> list[str]:
        return sorted(self._kinds)


def sees_all(actor: Actor, permission: Permission) -> bool:
    """Whoever holds the kind's permission for any operator (the independent issuer)."""
    return allowed(actor, permission) and actor.role is not Role.OPERATOR


def may_read(actor: Actor, submitter: Submitter, permission: Permission) -> bool:
    """A job is read by its submitter and by whoever holds the kind's permission for the
    submitter's operator (its users, and the issuer): the permission table decides."""
    if submitter.name == actor.name:
        return True
    return allowed(actor, permission, submitter.operator_id or "")


def bounded(problems: tuple[JobProblem, ...] | list[JobProblem]) -> tuple[JobProblem, ...]:
    """The problems stored with a job: the first ``MAX_PROBLEMS``, messages shortened."""
    return tuple(
        JobProblem(p.code[:64], p.message[:MAX_MESSAGE], p.subject[:200] if p.subject else None)
        for p in problems[:MAX_PROBLEMS]
    )
