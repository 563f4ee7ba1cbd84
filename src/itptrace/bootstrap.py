"""Composition root: the one place that turns settings into a working node.

``build_node(settings)`` is the answer to "what is a node": the database (engine and unit
of work), the clock, the issuer's key store, the caches the node owns and the ledger's leaf
sources, in one ``Context``. Nothing is built at import time and nothing is registered in
module globals: two nodes in one process (tests do that) share nothing.

The schema is migrated only when asked (``migrate=True``: ``itptrace init``, ``itptrace db
upgrade``, ``itptrace serve --migrate``, tests and tools); otherwise the database must
already be at the newest schema, or ``SchemaNotReady`` says which command to run.
"""

from __future__ import annotations

from itptrace.capture import jobs as capture_jobs
from itptrace.clock import clock_from_setting
from itptrace.codes.keyset import PublishedKeys
from itptrace.config import Settings, load_settings
from itptrace.context import Context
from itptrace.jobs.model import JobKinds
from itptrace.jobs.worker import Worker
from itptrace.keys.store import KeyStore
from itptrace.ledger import records, sources
from itptrace.registry.names import RegistryNames
from itptrace.repository import migrate as migrations
from itptrace.repository.db import Database, make_engine


def build_node(settings: Settings | None = None, *, migrate: bool = False) -> Context:
    """The node for ``settings`` (read from the environment if None).

    With ``migrate`` the schema is first brought to the newest revision (serialised with
    any other process migrating the same database); without it a database that is missing,
    empty or at an older schema raises ``SchemaNotReady`` (``repository.migrate``) and is
    left untouched (a missing SQLite file is not created).
    """
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    try:
        if migrate:
            migrations.upgrade(engine)
        else:
            migrations.require_current(engine)
    except BaseException:
        engine.dispose()
        raise
    db = Database(engine)
    keys = KeyStore(settings.key_dir)
    context = Context(
        settings=settings,
        db=db,
        clock=clock_from_setting(settings.clock),
        keys=keys,
        names=RegistryNames(db),
        public_keys=PublishedKeys(settings, keys),
        leaf_sources=sources.leaf_sources(sources.ISSUER_SOURCES, records.RECORD_SOURCES),
        jobs=job_kinds(),
    )
    context.worker = Worker(context)
    return context


def job_kinds() -> JobKinds[Context]:
    """Every kind of job the node runs, each registered by its capability."""
    kinds: JobKinds[Context] = JobKinds()
    capture_jobs.register(kinds)
    return kinds


def build_context(settings: Settings | None = None, *, migrate_schema: bool = True) -> Context:
    """``build_node`` under its old name, for tests and tools written before it.

    It migrates unless told not to, as it always did; new code calls ``build_node`` and
    says ``migrate=True`` where it means it.
    """
    return build_node(settings, migrate=migrate_schema)


def schema_revision(settings: Settings | None = None) -> tuple[str | None, str]:
    """(the database's schema revision or None, the newest this program knows); reads only,
    and creates nothing (a missing SQLite file stays missing)."""
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    try:
        return migrations.current_revision(engine), migrations.head()
    finally:
        engine.dispose()
