"""The node's cache of registry names: what a hot reader (verification) shows about a pack.

A scan shows the manufacturer's and custodian's names, the facility's name and country and
the product's brand and description; reading them from the registry for every scan would
cost more queries than the scan's own facts. ``RegistryNames`` keeps them, one object per
node (``ctx.names``, built by ``bootstrap.build_node``), never in a module global.

Why it stays right:

* it holds only fields that never change once registered (names, countries, brands,
  descriptions; not ``active``), so a registry write made by another node process cannot
  make an entry wrong;
* a miss is never remembered: a facility registered after a scan that did not find it is
  found by the next scan, whichever process registered it;
* every registry write of this node calls :meth:`RegistryNames.invalidate` after its
  transaction commits (the registry service does), so a registry row changed through this
  node is seen at once even if such a field becomes editable one day;
* a value read before an invalidation is not stored after it (``_generation``), so a
  reader racing a write on another thread cannot put the old value back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from itptrace.registry import store
from itptrace.repository.db import Database

V = TypeVar("V")

DEFAULT_SIZE = 4096


class RegistryNames:
    """Facility (country, name), operator name and product (brand, description) by id."""

    def __init__(self, db: Database, size: int = DEFAULT_SIZE):
        self._db = db
        self._lock = threading.Lock()
        self._generation = 0
        # At most ``size`` entries each; the oldest entry goes first when one is full.
        self._size = size
        self._facilities: dict[str, object] = {}
        self._operators: dict[str, object] = {}
        self._products: dict[str, object] = {}

    def invalidate(self) -> None:
        """Forget everything; call it after any registry write has committed."""
        with self._lock:
            self._generation += 1
            for table in (self._facilities, self._operators, self._products):
                table.clear()

    def __len__(self) -> int:
        """How many entries are held (for tests and diagnostics)."""
        with self._lock:
            return len(self._facilities) + len(self._operators) + len(self._products)

    def _get(self, table: dict[str, object], key: str, load: Callable[[], V | None]) -> V | None:
        with self._lock:
            if key in table:
                return table[key]  # type: ignore[return-value]
            generation = self._generation
        value = load()  # outside the lock: a database read
        if value is None:
            return None  # misses are not remembered (see the module docstring)
        with self._lock:
            if generation == self._generation:
                if len(table) >= self._size:
                    del table[next(iter(table))]
                table[key] = value
        return value

    def _facility(self, facility_id: str) -> tuple[str, str] | None:
        with self._db.reading() as conn:
            found = store.get_facility(conn, facility_id)
        return (found.country, found.name) if found else None

    def _operator(self, operator_id: str) -> str | None:
        with self._db.reading() as conn:
            found = store.get_operator(conn, operator_id)
        return found.name if found else None

    def _product(self, gtin: str) -> tuple[str, str] | None:
        with self._db.reading() as conn:
            found = store.get_product(conn, gtin)
        return (found.brand, found.description) if found else None

    def facility(self, facility_id: str | None) -> tuple[str, str] | None:
        """(country, name) of a registered facility, active or not; None if unknown."""
        if not facility_id:
            return None
        return self._get(self._facilities, facility_id, lambda: self._facility(facility_id))

    def facility_country(self, facility_id: str | None) -> str | None:
        found = self.facility(facility_id)
        return found[0] if found else None

    def facility_name(self, facility_id: str | None) -> str | None:
        found = self.facility(facility_id)
        return found[1] if found else None

    def operator_name(self, operator_id: str | None) -> str | None:
        if not operator_id:
            return None
        return self._get(self._operators, operator_id, lambda: self._operator(operator_id))

    def product(self, gtin: str | None) -> tuple[str | None, str | None]:
        """(brand, description) of a registered product; (None, None) if unknown."""
        if not gtin:
            return None, None
        found = self._get(self._products, gtin, lambda: self._product(gtin))
        return found if found else (None, None)
