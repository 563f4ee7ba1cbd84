"""A Bloom filter of UIs, for the offline bundle: compact, no false negatives.

For ``n`` entries and a target false-positive rate ``p`` the filter takes
``m = ceil(-n ln p / (ln 2)^2)`` bits and ``k = round(m / n * ln 2)`` hash functions; its
actual rate is ``(1 - exp(-k n / m)) ** k``, reported in the bundle. At p = 0.1 % that is
about 14.4 bits (1.8 bytes) per UI and k = 10. Positions come from SHA-256 of a salt and the
UI by double hashing: ``h1 + i * h2 mod m`` (Kirsch and Mitzenmacher).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass


def size_for(count: int, rate: float) -> tuple[int, int]:
    """(bits, hashes) for ``count`` entries at false-positive rate ``rate``."""
    if not 0 < rate < 1:
        raise ValueError("the false-positive rate must lie between 0 and 1")
    n = max(count, 1)
    bits = max(64, math.ceil(-n * math.log(rate) / math.log(2) ** 2))
    hashes = max(1, round(bits / n * math.log(2)))
    # Rounding the hash count can overshoot the target a little; grow the filter until it holds.
    while false_positive_rate(bits, hashes, n) > rate:
        bits += max(8, bits // 1000)
    return bits, hashes


def false_positive_rate(bits: int, hashes: int, count: int) -> float:
    """The probability that a UI not in the filter is reported as in it."""
    if count == 0:
        return 0.0
    return float((1 - math.exp(-hashes * count / bits)) ** hashes)


@dataclass
class BloomFilter:
    bits: int
    hashes: int
    salt: bytes
    data: bytearray
    count: int = 0

    @classmethod
    def build(cls, uis: Iterable[str], rate: float, salt: bytes) -> BloomFilter:
        entries = list(dict.fromkeys(uis))
        bits, hashes = size_for(len(entries), rate)
        bloom = cls(bits, hashes, salt, bytearray((bits + 7) // 8))
        for ui in entries:
            bloom.add(ui)
        return bloom

    def _positions(self, ui: str) -> list[int]:
        digest = hashlib.sha256(self.salt + ui.encode("utf-8")).digest()
        h1 = int.from_bytes(digest[:8], "big")
        h2 = int.from_bytes(digest[8:16], "big") | 1
        return [(h1 + i * h2) % self.bits for i in range(self.hashes)]

    def add(self, ui: str) -> None:
        for position in self._positions(ui):
            self.data[position >> 3] |= 1 << (position & 7)
        self.count += 1

    def __contains__(self, ui: str) -> bool:
        data = self.data
        return all(data[p >> 3] & (1 << (p & 7)) for p in self._positions(ui))

    @property
    def false_positive_rate(self) -> float:
        return false_positive_rate(self.bits, self.hashes, self.count)
