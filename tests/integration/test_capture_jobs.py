"""Queued capture on both databases: capture's kind of job, run by the node's queue.

A job is captured by the same ``capture_document`` as the CLI and ``POST /messages``, with
its submitter's rights as they stand when it runs; its outcome commits with its events.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from itptrace.access import Actor, Role, local_issuer
from itptrace.auth import service as auth
from itptrace.capture import jobs as capture_jobs
from itptrace.capture.formats import MalformedDocument
from itptrace.capture.native import message_to_json
from itptrace.capture.service import capture_document
from itptrace.clock import FixedClock
from itptrace.context import Context
from itptrace.errors import Forbidden
from itptrace.jobs import service as jobs
from itptrace.jobs.model import Claim, Finish, JobPayloadTooLarge, LeaseLost, Outcome
from itptrace.jobs.worker import run_next
from tests.integration.chain import Chain, build_chain

LEASE = timedelta(seconds=60)


@pytest.fixture
def chain(ctx: Context) -> Chain:
    return build_chain(ctx)


@pytest.fixture
def maker(chain: Chain) -> tuple[Actor, str]:
    """The manufacturer's API user and the id of its token."""
    ctx, operator = chain.ctx, chain.world.maker
    auth.add_user(ctx, local_issuer(), name="maker", role="operator", operator_id=operator)
    token = auth.create_token(ctx, local_issuer(), user="maker", days=30)
    return auth.authenticate(ctx, token.token), token.id


def application(chain: Chain, packs: int = 2) -> dict[str, object]:
    w = chain.world
    at = chain.now - timedelta(minutes=10)
    event = chain.msg.apply(w.maker, w.plant, w.machine, chain.packs[:packs], at)
    return {"messages": [message_to_json(event)]}


def test_a_queued_report_is_captured_by_the_worker_as_its_submitter(
    chain: Chain, maker: tuple[Actor, str]
) -> None:
    actor, token = maker
    body = json.dumps(application(chain)).encode()
    queued = capture_jobs.submit(chain.ctx, actor, body, token_id=token)
    assert (queued.status, queued.user, queued.operator_id) == (
        "queued",
        "maker",
        actor.operator_id,
    )
    assert run_next(chain.ctx, chain.ctx.jobs) == queued.id
    done = capture_jobs.get_job(chain.ctx, actor, queued.id)
    assert (done.status, done.accepted, done.duplicates, done.error_count) == ("done", 1, 0, 0)
    assert done.finished_at is not None
    assert [j.id for j in capture_jobs.list_jobs(chain.ctx, actor)] == [queued.id]


def test_a_report_is_refused_at_submission_when_it_is_not_a_report(
    chain: Chain, maker: tuple[Actor, str]
) -> None:
    actor, token = maker
    for body in (b"{not json", b"\xff", b"42"):
        with pytest.raises(MalformedDocument):
            capture_jobs.submit(chain.ctx, actor, body, token_id=token)
    with pytest.raises(Forbidden):
        capture_jobs.submit(chain.ctx, Actor("customs", Role.AUTHORITY), b"[]")
    assert jobs.counts(chain.ctx) == {}


@pytest.mark.parametrize("change", ["disable", "revoke", "expire"])
def test_a_queued_report_of_a_user_disabled_or_a_token_revoked_since_captures_nothing(
    chain: Chain, maker: tuple[Actor, str], change: str
) -> None:
    actor, token = maker
    report = application(chain)
    queued = capture_jobs.submit(chain.ctx, actor, json.dumps(report), token_id=token)
    clock = chain.ctx.clock
    assert isinstance(clock, FixedClock)
    submitted_at = clock.current
    if change == "disable":
        auth.disable_user(chain.ctx, local_issuer(), "maker")
    elif change == "revoke":
        auth.revoke_token(chain.ctx, local_issuer(), token)
    else:
        clock.advance(timedelta(days=30))
    run_next(chain.ctx, chain.ctx.jobs)
    clock.current = submitted_at
    failed = capture_jobs.get_job(chain.ctx, local_issuer(), queued.id)
    assert (failed.status, failed.accepted, failed.error_count) == ("failed", 0, 1)
    reason = failed.errors[0]
    assert reason.code == {"disable": "user_disabled", "revoke": "token_revoked",
                           "expire": "token_expired"}[change]  # fmt: skip
    assert "maker" in reason.message
    # nothing was captured: the same report, sent now by the operator itself, is new
    again = capture_document(chain.ctx, chain.maker, report)
    assert (len(again.accepted), again.duplicates) == (1, [])


def test_a_run_that_lost_its_lease_stores_nothing_and_the_new_claim_captures_once(
    chain: Chain, maker: tuple[Actor, str]
) -> None:
    actor, token = maker
    report = json.dumps(application(chain))
    queued = capture_jobs.submit(chain.ctx, actor, report, token_id=token)
    first = jobs.claim(chain.ctx, ["capture"], lease=LEASE)
    assert first is not None
    assert isinstance(chain.ctx.clock, FixedClock)
    chain.ctx.clock.advance(LEASE + timedelta(seconds=1))  # the first worker stalls ...
    second = jobs.claim(chain.ctx, ["capture"], lease=LEASE)
    assert second is not None and second.job.id == queued.id

    def finisher(claim: Claim) -> Finish:
        return lambda conn, outcome: jobs.complete(chain.ctx, conn, claim, outcome)

    with pytest.raises(LeaseLost):  # ... and wakes up: its capture is rolled back
        capture_jobs.run(chain.ctx, actor, first.job, first.payload, finisher(first))
    outcome = capture_jobs.run(chain.ctx, actor, second.job, second.payload, finisher(second))
    assert outcome == Outcome(True, outcome.summary) and outcome.summary["accepted"] == 1
    done = capture_jobs.get_job(chain.ctx, actor, queued.id)
    assert (done.status, done.accepted) == ("done", 1)
    assert jobs.get_job(chain.ctx, actor, capture_jobs.KIND, queued.id).attempts == 2


def test_a_document_over_64_mib_is_not_queued(chain: Chain, maker: tuple[Actor, str]) -> None:
    actor, token = maker
    huge = '{"messages": [], "pad": "' + "x" * (64 * 1024 * 1024) + '"}'
    with pytest.raises(JobPayloadTooLarge):
        capture_jobs.submit(chain.ctx, actor, huge, token_id=token)
