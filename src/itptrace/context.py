"""What every service function receives: the node's database, clock, settings and keys.

Built once by ``bootstrap.build_context``; tests build their own with a fixed clock and a
throwaway database. Nothing here is created at import time. The node also owns the kinds
of job it runs (each capability registers its own) and the worker that runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from itptrace.clock import Clock
from itptrace.config import Settings
from itptrace.jobs.model import JobKinds
from itptrace.keys.store import KeyStore
from itptrace.repository.db import Database
from itptrace.repository.group_commit import GroupCommit

if TYPE_CHECKING:
    from itptrace.jobs.worker import Worker


@dataclass
class Context:
    settings: Settings
    db: Database
    clock: Clock
    keys: KeyStore
    jobs: JobKinds[Context] = field(default_factory=JobKinds)
    worker: Worker | None = None  # started by the API app's lifespan (``itptrace serve``)
    # Small durable writes of concurrent requests (audit records) committed together.
    group_commit: GroupCommit = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.group_commit = GroupCommit(self.db)
