"""Composition root: the one place that turns settings into a working node."""

from __future__ import annotations

from itptrace.clock import clock_from_setting
from itptrace.config import Settings, load_settings
from itptrace.context import Context
from itptrace.keys.store import KeyStore
from itptrace.ledger import records as ledger_records
from itptrace.repository import migrate
from itptrace.repository.db import Database, make_engine


def build_context(settings: Settings | None = None, *, migrate_schema: bool = True) -> Context:
    """Engines, clock and key store for ``settings`` (read from the environment if None)."""
    settings = settings or load_settings()
    ledger_records.register()
    engine = make_engine(settings.database_url)
    if migrate_schema:
        migrate.upgrade(engine)
    return Context(
        settings=settings,
        db=Database(engine),
        clock=clock_from_setting(settings.clock),
        keys=KeyStore(settings.key_dir),
    )
