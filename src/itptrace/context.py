"""What every service function receives: the node's database, clock, settings and keys.

Built once by ``bootstrap.build_context``; tests build their own with a fixed clock and a
throwaway database. Nothing here is created at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

from itptrace.clock import Clock
from itptrace.config import Settings
from itptrace.keys.store import KeyStore
from itptrace.repository.db import Database


@dataclass
class Context:
    settings: Settings
    db: Database
    clock: Clock
    keys: KeyStore
