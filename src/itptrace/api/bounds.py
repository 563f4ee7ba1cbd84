"""What one caller may cost the node: quotas, anonymous refusals and photo decoding.

One ``Bounds`` per app (``create_app`` makes it, ``app.state.bounds`` holds it), built from
the node's settings; nothing here is a module global.

* ``Quotas``: each operator (an operator user's operator, so its users share one budget)
  may send ``quota_requests_per_second`` requests (a token bucket holding two seconds'
  worth) and ``quota_bytes_per_day`` bytes of request bodies per UTC day. Past either it
  is answered 429 with ``Retry-After``. Bytes are charged as they are received (the
  ``RequestGuard`` counts them), so a body without Content-Length counts too.
* ``AnonymousRefusals``: a request without a valid token is refused 401 as before, but at
  most ``anonymous_refusals_per_second`` per client address (429 beyond, nothing
  recorded), and the audit trail gets at most one record per operation and refusal code a
  minute, counting the refusals it stands for. The record holds the operation, the code
  and the count: never the caller's token, query string or address.
* ``decodes``: at most ``image_decode_concurrency`` photos are decoded at once; a request
  finding every slot taken is answered 503 at once rather than queued.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.requests import Request

from itptrace.access import Actor
from itptrace.auth import audit
from itptrace.config import Settings
from itptrace.context import Context
from itptrace.errors import DomainError

DAY = 86_400
WINDOW = 60.0  # seconds an aggregated anonymous-refusal record stands for, at most
MAX_ADDRESSES = 10_000  # client addresses remembered for the anonymous rate limit
# Where a request's scope state names the budget it spends (set by ``admit``, charged by
# the ``RequestGuard`` with the body bytes it counted).
QUOTA_KEY = "itptrace_quota"


class TooManyRequests(HTTPException):
    """429 with the seconds to wait (``Retry-After``, rounded up, at least 1)."""

    def __init__(self, detail: str, retry_after: float):
        seconds = max(1, int(retry_after + 0.999))
        super().__init__(429, detail, headers={"Retry-After": str(seconds)})


class Busy(HTTPException):
    """503: the node has no capacity for this kind of work now; try again shortly."""

    def __init__(self, detail: str, retry_after: int = 1):
        super().__init__(503, detail, headers={"Retry-After": str(retry_after)})


@dataclass
class Bucket:
    """A token bucket: ``rate`` a second, holding at most ``burst``."""

    rate: float
    burst: float
    tokens: float
    at: float

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until one is there."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


def _bucket(rate: float, now: float) -> Bucket:
    burst = max(1.0, 2 * rate)
    return Bucket(rate, burst, burst, now)


@dataclass
class Quotas:
    """Requests per second and body bytes per UTC day, per operator (module docstring)."""

    requests_per_second: float
    bytes_per_day: int
    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _buckets: dict[str, Bucket] = field(default_factory=dict)
    _bytes: dict[str, tuple[int, int]] = field(default_factory=dict)  # key: (day, used)

    @staticmethod
    def key_of(actor: Actor) -> str | None:
        """Whose budget a request spends: operators only (staff are not metered)."""
        return f"operator:{actor.operator_id}" if actor.operator_id else None

    def admit(self, key: str, declared: int) -> None:
        """Take one request of ``key``'s budget, declaring ``declared`` body bytes."""
        with self._lock:
            now = self.monotonic()
            bucket = self._buckets.setdefault(key, _bucket(self.requests_per_second, now))
            wait = bucket.take(now)
            if wait:
                raise TooManyRequests(
                    f"more than {self.requests_per_second:g} requests a second from {key}",
                    wait,
                )
            wall = self.wall()
            day, used = self._bytes.get(key, (int(wall // DAY), 0))
            if day != int(wall // DAY):
                day, used = int(wall // DAY), 0
            if used + declared > self.bytes_per_day:
                raise TooManyRequests(
                    f"{key} has sent {used} of its {self.bytes_per_day} bytes today",
                    (day + 1) * DAY - wall,
                )
            self._bytes[key] = (day, used)

    def charge(self, key: str, received: int) -> None:
        """Count ``received`` body bytes against ``key``'s budget of the day."""
        if received <= 0:
            return
        with self._lock:
            today = int(self.wall() // DAY)
            day, used = self._bytes.get(key, (today, 0))
            self._bytes[key] = (today, (used if day == today else 0) + received)


@dataclass
class _Pending:
    since: float
    failure: DomainError
    count: int = 0


@dataclass
class AnonymousRefusals:
    """Rate limit and aggregate the 401s of requests without a valid token."""

    per_second: float
    monotonic: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _buckets: dict[str, Bucket] = field(default_factory=dict)
    _pending: dict[tuple[str, str], _Pending] = field(default_factory=dict)

    def refuse(self, ctx: Context, address: str, operation: str, failure: DomainError) -> None:
        """Record (aggregated) one anonymous refusal; ``TooManyRequests`` past the rate."""
        with self._lock:
            now = self.monotonic()
            if len(self._buckets) > MAX_ADDRESSES:
                self._buckets.clear()  # forget the oldest flood rather than grow without end
            bucket = self._buckets.setdefault(address, _bucket(self.per_second, now))
            wait = bucket.take(now)
            if wait:
                raise TooManyRequests("too many requests without a valid token", wait)
            key = (operation, failure.code)
            pending = self._pending.get(key)
            if pending is not None and now - pending.since < WINDOW:
                pending.count += 1
                return
            count = 1 + (pending.count if pending is not None else 0)
            self._pending[key] = _Pending(now, failure)
        _record(ctx, operation, failure, count)

    def flush(self, ctx: Context) -> None:
        """Record the refusals counted since the last record (when the app stops)."""
        with self._lock:
            pending = [(k[0], p) for k, p in self._pending.items() if p.count]
            self._pending.clear()
        for operation, waiting in pending:
            _record(ctx, operation, waiting.failure, waiting.count)


def _record(ctx: Context, operation: str, failure: DomainError, count: int) -> None:
    # The record holds the operation, the refusal's status and code and the count: never
    # the failure's message, which may quote what the caller sent (``entry_for``).
    audit.record(ctx, audit.entry_for(None, operation, {"refusals": count}, failure=failure))


class Bounds:
    """The app's quotas, anonymous-refusal limiter and photo-decoding slots."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.quotas = Quotas(settings.quota_requests_per_second, settings.quota_bytes_per_day)
        self.anonymous = AnonymousRefusals(settings.anonymous_refusals_per_second)
        self.decodes = threading.BoundedSemaphore(settings.image_decode_concurrency)

    def admit(self, request: Request, actor: Actor) -> None:
        """Spend one request of ``actor``'s quota (429 past it); its body bytes are charged
        once received. Staff are not metered."""
        key = Quotas.key_of(actor)
        if key is None:
            return
        declared = request.headers.get("content-length", "")
        self.quotas.admit(key, int(declared) if declared.isdigit() else 0)
        setattr(request.state, QUOTA_KEY, key)

    def refuse_anonymous(
        self, ctx: Context, request: Request, operation: str, failure: DomainError
    ) -> None:
        """Record one 401 (aggregated); 429 instead when its address sends too many."""
        address = request.client.host if request.client else "unknown"
        self.anonymous.refuse(ctx, address, operation, failure)
