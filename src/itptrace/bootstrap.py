"""Composition root: the one place that turns settings into a working node."""

from __future__ import annotations

from itptrace.capture import jobs as capture_jobs
from itptrace.clock import clock_from_setting
from itptrace.config import Settings, load_settings
from itptrace.context import Context
from itptrace.jobs.model import JobKinds
from itptrace.jobs.worker import Worker
from itptrace.keys.store import KeyStore
from itptrace.ledger import records as ledger_records
from itptrace.repository import migrate
from itptrace.repository.db import Database, make_engine


def build_context(settings: Settings | None = None, *, migrate_schema: bool = True) -> Context:
    """Engines, clock, key store, kinds of job and job worker (not started) for ``settings``
    (read from the environment if None)."""
    settings = settings or load_settings()
    ledger_records.register()
    engine = make_engine(settings.database_url)
    if migrate_schema:
        migrate.upgrade(engine)
    context = Context(
        settings=settings,
        db=Database(engine),
        clock=clock_from_setting(settings.clock),
        keys=KeyStore(settings.key_dir),
        jobs=job_kinds(),
    )
    context.worker = Worker(context)
    return context


def job_kinds() -> JobKinds[Context]:
    """Every kind of job the node runs, each registered by its capability."""
    kinds: JobKinds[Context] = JobKinds()
    capture_jobs.register(kinds)
    return kinds
