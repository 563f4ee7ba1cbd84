"""The node object: what every service function receives.

One ``Context`` is one node: its settings, database, clock and issuer key store, and what
the node owns on top of them: the registry names cache (``names``), the parsed public key
set (``public_keys``) and the ledger's leaf sources (``leaf_sources``). It is built by
``bootstrap.build_node`` and nowhere else; tests build theirs the same way with a fixed
clock and a throwaway database. Nothing here is created at import time, and no capability
keeps state of its own in module globals: caches live here, with the node, and are
invalidated by the services that change what they hold. The node also owns
the kinds of job it runs and the worker that runs them, and commits small durable writes
of concurrent requests together (``group_commit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from itptrace.repository.group_commit import GroupCommit

# Only for the annotations: at run time the node knows no capability, so that no capability
# depends on another through it (the layers contract in pyproject.toml checks this).
if TYPE_CHECKING:
    from itptrace.clock import Clock
    from itptrace.codes.keyset import PublishedKeys
    from itptrace.config import Settings
    from itptrace.jobs.model import JobKinds
    from itptrace.jobs.worker import Worker
    from itptrace.keys.store import KeyStore
    from itptrace.ledger.sources import LeafSource
    from itptrace.registry.names import RegistryNames
    from itptrace.repository.db import Database


@dataclass
class Context:
    settings: Settings
    db: Database
    clock: Clock
    keys: KeyStore
    # Facility, operator and product names for hot readers; registry writes invalidate it.
    names: RegistryNames
    # The issuer's public key set, parsed once per key-ring change.
    public_keys: PublishedKeys
    # How fsck and audits recompute each kind of ledger leaf from its record.
    leaf_sources: Mapping[str, LeafSource]
    # The kinds of job the node runs, each registered by its capability (bootstrap).
    jobs: JobKinds[Context]
    worker: Worker | None = None  # started by the API app's lifespan (``itptrace serve``)
    # Small durable writes of concurrent requests (audit records) committed together.
    group_commit: GroupCommit = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.group_commit = GroupCommit(self.db)
