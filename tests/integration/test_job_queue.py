"""The durable job queue on both databases: claims, outcomes, retries, leases, lanes, rights.

A test kind ``echo`` answers with its payload; its handler does whatever the test needs
(fail, refuse, wait). The node's clock stands still unless a test moves it, so leases and
retry delays run out exactly when a test says.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from itptrace.access import Actor, Permission, Role, local_issuer
from itptrace.auth import service as auth
from itptrace.clock import FixedClock
from itptrace.context import Context
from itptrace.errors import DomainError, Forbidden, NotFound
from itptrace.jobs import service as jobs
from itptrace.jobs.model import (
    Finish,
    Job,
    JobKind,
    JobKinds,
    JobPayloadTooLarge,
    JobState,
    LeaseLost,
    Outcome,
)
from itptrace.jobs.worker import Worker, run_next

Behaviour = Callable[[Context, Actor, Job, str, Finish], Outcome]
LEASE = timedelta(seconds=60)


class Echo:
    """A kind of job whose handler records each run and does what ``behaviour`` says."""

    def __init__(self, ctx: Context, **limits: Any):
        self.ctx = ctx
        self.runs: list[tuple[int, str]] = []
        self.behaviour: Behaviour = lambda ctx, actor, job, payload, finish: Outcome(
            True, {"echo": payload}
        )
        self.kind: JobKind[Context] = JobKind(
            "echo", Permission.CAPTURE_REPORT, self.handle, **limits
        )
        self.kinds: JobKinds[Context] = JobKinds()
        self.kinds.register(self.kind)

    def handle(self, ctx: Context, actor: Actor, job: Job, payload: str, finish: Finish) -> Outcome:
        self.runs.append((job.id, actor.name))
        return self.behaviour(ctx, actor, job, payload, finish)

    def submit(self, payload: str = "hello", actor: Actor | None = None, **options: Any) -> int:
        return jobs.enqueue(self.ctx, actor or local_issuer(), self.kind, payload, **options).id

    def run(self) -> int | None:
        return run_next(self.ctx, self.kinds, lease=LEASE)

    def get(self, job_id: int) -> Job:
        return jobs.get_job(self.ctx, local_issuer(), self.kind, job_id)


@pytest.fixture
def echo(ctx: Context) -> Echo:
    return Echo(ctx, max_attempts=2, retry_delay=timedelta(seconds=30))


def clock(ctx: Context) -> FixedClock:
    assert isinstance(ctx.clock, FixedClock)
    return ctx.clock


def test_a_job_is_queued_claimed_run_and_done_once(echo: Echo) -> None:
    job_id = echo.submit("hello")
    queued = echo.get(job_id)
    assert (queued.state, queued.attempts, queued.submitter.name) == ("queued", 0, "local-issuer")
    assert echo.run() == job_id
    done = echo.get(job_id)
    assert (done.state, done.attempts, done.summary, done.problems) == (
        "done",
        1,
        {"echo": "hello"},
        (),
    )
    assert done.started_at == done.finished_at == echo.ctx.clock.now()
    assert echo.run() is None and echo.runs == [(job_id, "local-issuer")]
    assert jobs.counts(echo.ctx) == {"done": 1}


def test_a_not_ok_outcome_fails_the_job_with_its_summary(echo: Echo) -> None:
    echo.behaviour = lambda *_: Outcome(False, {"refused": 3})
    job_id = echo.submit()
    echo.run()
    failed = echo.get(job_id)
    assert (failed.state, failed.summary, failed.attempts) == ("failed", {"refused": 3}, 1)


def test_an_outcome_finished_inside_the_handlers_transaction_rolls_back_with_it(
    echo: Echo,
) -> None:
    def finish_then_crash(ctx: Context, _a: Actor, _j: Job, _p: str, finish: Finish) -> Outcome:
        with ctx.db.transaction() as conn:
            finish(conn, Outcome(True, {"written": True}))
            raise RuntimeError("the disk is full")

    echo.behaviour = finish_then_crash
    job_id = echo.submit()
    echo.run()
    retried = echo.get(job_id)
    assert (retried.state, retried.summary) == ("queued", {})
    assert [p.code for p in retried.problems] == ["internal_error"]


def test_an_error_is_retried_later_until_the_attempts_are_used_up(echo: Echo) -> None:
    def crash(*_: Any) -> Outcome:
        raise RuntimeError("the GSP hub is down")

    echo.behaviour = crash
    job_id = echo.submit()
    assert echo.run() == job_id
    assert (echo.get(job_id).state, echo.get(job_id).attempts) == ("queued", 1)
    assert echo.run() is None  # not before the retry delay (30 s after the first attempt)
    clock(echo.ctx).advance(timedelta(seconds=30))
    assert echo.run() == job_id
    failed = echo.get(job_id)
    assert (failed.state, failed.attempts) == ("failed", 2)
    assert [(p.code, p.message) for p in failed.problems] == [
        ("internal_error", "the job could not be processed")
    ]
    clock(echo.ctx).advance(timedelta(hours=2))
    assert echo.run() is None and len(echo.runs) == 2


def test_a_refusal_by_the_handler_fails_the_job_at_once(echo: Echo) -> None:
    def refuse(*_: Any) -> Outcome:
        raise DomainError("the report is not JSON", subject="body", code="malformed")

    echo.behaviour = refuse
    job_id = echo.submit()
    echo.run()
    failed = echo.get(job_id)
    assert (failed.state, failed.attempts) == ("failed", 1)
    assert [(p.code, p.subject) for p in failed.problems] == [("malformed", "body")]


def test_a_job_whose_lease_ran_out_is_claimed_again_and_only_the_new_claim_counts(
    echo: Echo,
) -> None:
    job_id = echo.submit()
    first = jobs.claim(echo.ctx, ["echo"], lease=LEASE)  # ... and its worker dies
    assert first is not None and first.job.id == job_id
    assert jobs.claim(echo.ctx, ["echo"], lease=LEASE) is None  # the lease still holds
    clock(echo.ctx).advance(LEASE - timedelta(seconds=1))
    assert jobs.extend_lease(echo.ctx, first, LEASE)  # a live worker keeps its job
    clock(echo.ctx).advance(LEASE - timedelta(seconds=1))
    assert jobs.claim(echo.ctx, ["echo"], lease=LEASE) is None
    clock(echo.ctx).advance(timedelta(seconds=2))
    second = jobs.claim(echo.ctx, ["echo"], lease=LEASE)
    assert second is not None and (second.job.id, second.job.attempts) == (job_id, 2)
    with pytest.raises(LeaseLost):
        jobs.finish(echo.ctx, first, Outcome(True, {"by": "first"}))
    assert not jobs.extend_lease(echo.ctx, first, LEASE)
    jobs.finish(echo.ctx, second, Outcome(True, {"by": "second"}))
    assert echo.get(job_id).summary == {"by": "second"}


def test_a_job_abandoned_on_its_last_attempt_fails(echo: Echo) -> None:
    job_id = echo.submit()
    for _ in range(2):  # max_attempts: each worker dies holding it
        assert jobs.claim(echo.ctx, ["echo"], lease=LEASE) is not None
        clock(echo.ctx).advance(LEASE + timedelta(seconds=1))
    assert echo.run() is None
    abandoned = echo.get(job_id)
    assert (abandoned.state, [p.code for p in abandoned.problems]) == ("failed", ["job_abandoned"])


def test_jobs_of_one_lane_run_in_order_and_other_lanes_pass(echo: Echo) -> None:
    a1 = echo.submit("a1", lane="a")
    a2 = echo.submit("a2", lane="a")
    b1 = echo.submit("b1", lane="b")
    first = jobs.claim(echo.ctx, ["echo"], lease=LEASE)
    second = jobs.claim(echo.ctx, ["echo"], lease=LEASE)
    assert first is not None and second is not None
    assert (first.job.id, second.job.id) == (a1, b1)  # a2 waits for a1
    assert jobs.claim(echo.ctx, ["echo"], lease=LEASE) is None
    jobs.finish(echo.ctx, first, Outcome(True))
    third = jobs.claim(echo.ctx, ["echo"], lease=LEASE)
    assert third is not None and (third.job.id, third.payload) == (a2, "a2")


def test_a_payload_over_the_kinds_limit_is_refused_and_nothing_queued(ctx: Context) -> None:
    small = Echo(ctx, max_payload_bytes=10)
    with pytest.raises(JobPayloadTooLarge):
        small.submit("x" * 11)
    assert jobs.counts(ctx) == {}


def test_two_claimers_never_get_the_same_job(echo: Echo) -> None:
    submitted = {echo.submit(f"job {i}") for i in range(40)}
    claimed: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def claimer() -> None:
        try:
            start.wait()
            while (claim := jobs.claim(echo.ctx, ["echo"], lease=LEASE)) is not None:
                claimed.append(claim.job.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(claimed) == sorted(submitted)  # each job once, none lost


def test_two_workers_run_every_job_exactly_once(echo: Echo) -> None:
    def slow(_c: Context, _a: Actor, job: Job, payload: str, _f: Finish) -> Outcome:
        time.sleep(0.01)
        return Outcome(True, {"echo": payload})

    echo.behaviour = slow
    submitted = [echo.submit(f"job {i}") for i in range(30)]
    workers = [Worker(echo.ctx, echo.kinds, poll_seconds=0.05) for _ in range(2)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 60
    while jobs.counts(echo.ctx).get("done", 0) < len(submitted) and time.monotonic() < deadline:
        time.sleep(0.05)
    statuses = [w.status for w in workers]
    for worker in workers:
        worker.stop()
    assert statuses == ["running", "running"] and [w.status for w in workers] == ["off", "off"]
    assert jobs.counts(echo.ctx) == {"done": len(submitted)}
    assert Counter(job_id for job_id, _ in echo.runs) == Counter(submitted)


# --- the submitter's rights, checked again before a job runs ---


@pytest.fixture
def clerk(ctx: Context) -> tuple[Actor, str]:
    """A user of the API with a token (its id is what a job keeps)."""
    auth.add_user(ctx, local_issuer(), name="clerk", role="issuer_admin")
    issued = auth.create_token(ctx, local_issuer(), user="clerk", days=30)
    return Actor("clerk", Role.ISSUER_ADMIN), issued.id


def test_a_job_runs_with_its_submitters_rights_while_they_hold(
    echo: Echo, clerk: tuple[Actor, str]
) -> None:
    actor, token = clerk
    job_id = echo.submit(actor=actor, token_id=token)
    echo.run()
    assert echo.get(job_id).state == "done" and echo.runs == [(job_id, "clerk")]


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        ("disable", "user_disabled", "user clerk is disabled"),
        ("revoke", "token_revoked", "of clerk was revoked"),
        ("expire", "token_expired", "of clerk expired"),
    ],
)
def test_a_job_fails_unrun_when_its_submitter_lost_the_right_since(
    echo: Echo, clerk: tuple[Actor, str], change: str, code: str, message: str
) -> None:
    actor, token = clerk
    job_id = echo.submit(actor=actor, token_id=token)
    if change == "disable":
        auth.disable_user(echo.ctx, local_issuer(), "clerk")
    elif change == "revoke":
        auth.revoke_token(echo.ctx, local_issuer(), token)
    else:
        clock(echo.ctx).advance(timedelta(days=31))
    assert echo.run() == job_id
    failed = echo.get(job_id)
    assert failed.state == "failed" and echo.runs == []
    assert [p.code for p in failed.problems] == [code] and message in failed.problems[0].message


def test_a_job_with_a_token_of_someone_else_or_of_no_user_fails(
    echo: Echo, clerk: tuple[Actor, str]
) -> None:
    _actor, token = clerk
    stranger = echo.submit(actor=Actor("ghost", Role.ISSUER_ADMIN), token_id=token)
    auth.add_user(echo.ctx, local_issuer(), name="other", role="issuer_admin")
    borrowed = echo.submit(actor=Actor("other", Role.ISSUER_ADMIN), token_id=token)
    echo.run()
    echo.run()
    assert [p.code for p in echo.get(stranger).problems] == ["user_unknown"]
    assert [p.code for p in echo.get(borrowed).problems] == ["token_unknown"]
    assert echo.runs == []


def test_a_job_fails_when_its_submitters_role_no_longer_has_the_right(echo: Echo) -> None:
    auth.add_user(echo.ctx, local_issuer(), name="customs", role="authority")
    # recorded as a reporter, but the user behind the name is an authority now
    job_id = echo.submit(actor=Actor("customs", Role.ISSUER_ADMIN))
    echo.run()
    assert [p.code for p in echo.get(job_id).problems] == ["forbidden"] and echo.runs == []


# --- reading jobs: the caller's scope ---


def test_a_job_is_read_by_its_submitter_and_the_issuer_only(echo: Echo) -> None:
    maker = Actor("maker", Role.OPERATOR, "KET01E1")
    colleague = Actor("maker-2", Role.OPERATOR, "KET01E1")
    importer = Actor("importer", Role.OPERATOR, "KET01E2")
    mine = echo.submit(actor=maker)
    theirs = echo.submit(actor=importer)
    assert jobs.get_job(echo.ctx, colleague, echo.kind, mine).id == mine
    with pytest.raises(Forbidden):
        jobs.get_job(echo.ctx, importer, echo.kind, mine)
    with pytest.raises(Forbidden):
        jobs.get_job(echo.ctx, Actor("customs", Role.AUTHORITY), echo.kind, mine)
    with pytest.raises(NotFound):
        jobs.get_job(echo.ctx, maker, echo.kind, 999)
    other_kind: JobKind[Context] = JobKind("other", Permission.CAPTURE_REPORT, echo.handle)
    with pytest.raises(NotFound):
        jobs.get_job(echo.ctx, local_issuer(), other_kind, mine)
    assert [j.id for j in jobs.list_jobs(echo.ctx, maker, echo.kind)] == [mine]
    assert [j.id for j in jobs.list_jobs(echo.ctx, local_issuer(), echo.kind)] == [mine, theirs]
    assert [j.id for j in jobs.list_jobs(echo.ctx, local_issuer(), echo.kind, after=mine)] == [
        theirs
    ]
    assert jobs.list_jobs(echo.ctx, local_issuer(), echo.kind, state=JobState.DONE) == []
