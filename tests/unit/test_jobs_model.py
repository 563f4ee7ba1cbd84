"""The job queue's pure model: kinds and their limits, retries, who reads a job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from itptrace.access import Actor, Permission, Role
from itptrace.errors import NotFound
from itptrace.jobs.model import (
    MAX_MESSAGE,
    MAX_PROBLEMS,
    MAX_RETRY_DELAY,
    Finish,
    Job,
    JobKind,
    JobKinds,
    JobPayloadTooLarge,
    JobProblem,
    JobState,
    Outcome,
    Submitter,
    bounded,
    may_read,
)

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def echo(ctx: Any, actor: Actor, job: Job, payload: str, finish: Finish) -> Outcome:
    return Outcome(True, {"echo": payload})


def kind(name: str = "echo", **limits: Any) -> JobKind[Any]:
    return JobKind(name, Permission.CAPTURE_REPORT, echo, **limits)


def test_only_done_and_failed_are_finished() -> None:
    assert [s for s in JobState if s.finished] == [JobState.DONE, JobState.FAILED]


def test_a_submitter_keeps_the_actor_and_its_token() -> None:
    actor = Actor("maker", Role.OPERATOR, "KET01E1", tobacco_industry=True)
    submitter = Submitter.of(actor, "abc123def456")
    assert submitter.token_id == "abc123def456"
    assert submitter.actor == actor


@pytest.mark.parametrize(
    "limits",
    [{"max_attempts": 0}, {"max_payload_bytes": 0}],
)
def test_a_kind_has_positive_limits(limits: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="limits must be positive"):
        kind(**limits)


@pytest.mark.parametrize("name", ["", "a" * 33, "gsp-outbox", "capture jobs"])
def test_a_kind_is_named_with_letters_digits_and_underscores(name: str) -> None:
    with pytest.raises(ValueError, match="job kind"):
        kind(name)


def test_a_payload_is_counted_in_utf8_bytes_up_to_its_kinds_limit() -> None:
    small = kind(max_payload_bytes=4)
    small.check_payload("abcd")
    small.check_payload("éé")  # 4 bytes
    with pytest.raises(JobPayloadTooLarge, match="at most 4 bytes, not 5") as refused:
        small.check_payload("abcde")
    assert refused.value.code == "job_payload_too_large" and refused.value.subject == "echo"
    with pytest.raises(JobPayloadTooLarge, match="not 6"):
        small.check_payload("ééé")


def test_the_retry_delay_doubles_with_each_attempt_up_to_an_hour() -> None:
    retried = kind(retry_delay=timedelta(seconds=10))
    delays = [retried.retry_at(NOW, attempts) - NOW for attempts in (1, 2, 3, 4)]
    assert delays == [timedelta(seconds=s) for s in (10, 20, 40, 80)]
    assert retried.retry_at(NOW, 30) - NOW == MAX_RETRY_DELAY


def test_kinds_are_registered_once_by_name() -> None:
    kinds: JobKinds[Any] = JobKinds()
    capture, outbox = kinds.register(kind("capture")), kinds.register(kind("gsp_outbox"))
    kinds.register(capture)  # the same kind again changes nothing
    assert kinds.names == ["capture", "gsp_outbox"] and list(kinds) == [capture, outbox]
    assert kinds.get("capture") is capture and "gsp_outbox" in kinds
    with pytest.raises(ValueError, match="registered already"):
        kinds.register(kind("capture", max_attempts=5))
    with pytest.raises(NotFound, match="no job kind webhook"):
        kinds.get("webhook")


MAKER = Submitter("maker-1", Role.OPERATOR, "KET01E1", tobacco_industry=True)


@pytest.mark.parametrize(
    ("reader", "allowed"),
    [
        (Actor("maker-1", Role.OPERATOR, "KET01E1", True), True),  # the submitter
        (Actor("maker-2", Role.OPERATOR, "KET01E1", True), True),  # its operator's colleague
        (Actor("importer", Role.OPERATOR, "KET01E2"), False),  # another operator
        (Actor("admin", Role.ISSUER_ADMIN), True),  # the independent issuer
        (Actor("admin", Role.ISSUER_ADMIN, tobacco_industry=True), False),  # Art. 8.12
        (Actor("customs", Role.AUTHORITY), False),
    ],
)
def test_a_job_is_read_by_its_submitter_its_operator_and_the_issuer(
    reader: Actor, allowed: bool
) -> None:
    assert may_read(reader, MAKER, Permission.CAPTURE_REPORT) is allowed


def test_a_job_keeps_a_bounded_number_of_short_problems() -> None:
    many = [JobProblem("internal_error", "x" * 2 * MAX_MESSAGE, "s") for _ in range(150)]
    kept = bounded(many)
    assert len(kept) == MAX_PROBLEMS
    assert {len(p.message) for p in kept} == {MAX_MESSAGE}
    assert bounded([]) == ()
