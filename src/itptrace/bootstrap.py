"""Composition root: the one place that turns settings into a working node.

``build_node(settings)`` is the answer to "what is a node": the database (engine and unit
of work), the clock, the issuer's key store, the caches the node owns and the ledger's leaf
sources, in one ``Context``. Nothing is built at import time and nothing is registered in
module globals: two nodes in one process (tests do that) share nothing.
"""

from __future__ import annotations

from itptrace.clock import clock_from_setting
from itptrace.codes.keyset import PublishedKeys
from itptrace.config import Settings, load_settings
from itptrace.context import Context
from itptrace.keys.store import KeyStore
from itptrace.ledger import records, sources
from itptrace.registry.names import RegistryNames
from itptrace.repository import migrate as migrations
from itptrace.repository.db import Database, make_engine


def build_node(settings: Settings | None = None, *, migrate: bool = True) -> Context:
    """The node for ``settings`` (read from the environment if None), its schema brought
    up to date unless ``migrate`` is False."""
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)
    if migrate:
        migrations.upgrade(engine)
    db = Database(engine)
    keys = KeyStore(settings.key_dir)
    return Context(
        settings=settings,
        db=db,
        clock=clock_from_setting(settings.clock),
        keys=keys,
        names=RegistryNames(db),
        public_keys=PublishedKeys(settings, keys),
        leaf_sources=sources.leaf_sources(sources.ISSUER_SOURCES, records.RECORD_SOURCES),
    )


def build_context(settings: Settings | None = None, *, migrate_schema: bool = True) -> Context:
    """``build_node`` under its old name, for tests and tools written before it."""
    return build_node(settings, migrate=migrate_schema)
