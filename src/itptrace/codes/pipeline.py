"""Signing many codes fast: chunks signed in worker processes while the caller stores them.

The private key reaches the workers through their initializer (a pipe from this process),
never through a file they open or a log. Workers import only this module and the
``cryptography`` package. Small batches are signed in-process, where starting workers would
cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from itptrace.codes.model import signed_message
from itptrace.keys.signing import make_tag

PARALLEL_THRESHOLD = 20_000

_worker_key: Ed25519PrivateKey | None = None


def _load(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("issuer keys are Ed25519")
    return key


def _init_worker(pem: bytes) -> None:
    global _worker_key
    _worker_key = _load(pem)


def _sign_chunk(codes: Sequence[str], gtin: str | None) -> list[str]:
    assert _worker_key is not None, "worker started without a key"
    return [make_tag(_worker_key, signed_message(code, gtin)) for code in codes]


def signed_chunks(
    pem: bytes | None,
    chunks: Sequence[Sequence[str]],
    gtin: str | None,
    workers: int | None = None,
) -> Iterator[list[tuple[str, str | None]]]:
    """Yield each chunk as (code, tag) pairs, in order; tags are None when ``pem`` is None."""
    total = sum(len(chunk) for chunk in chunks)
    if pem is None:
        for chunk in chunks:
            yield [(code, None) for code in chunk]
        return
    if total < PARALLEL_THRESHOLD:
        key = _load(pem)
        for chunk in chunks:
            yield list(
                zip(chunk, [make_tag(key, signed_message(c, gtin)) for c in chunk], strict=True)
            )
        return
    count = workers or os.cpu_count() or 1
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        count, mp_context=context, initializer=_init_worker, initargs=(pem,)
    ) as pool:
        # Keep a bounded window of chunks in flight so memory stays flat for huge requests.
        window = count * 3
        pending: list[Future[list[str]]] = []
        submitted = 0
        for index in range(len(chunks)):
            while submitted < len(chunks) and submitted < index + window:
                pending.append(pool.submit(_sign_chunk, chunks[submitted], gtin))
                submitted += 1
            tags = pending.pop(0).result()
            yield list(zip(chunks[index], tags, strict=True))


def sign_inline(pem: bytes, codes: Sequence[str], gtin: str | None) -> list[str]:
    key = _load(pem)
    return [make_tag(key, signed_message(code, gtin)) for code in codes]


ProgressCallback = Callable[[int], None]
