"""Signed checkpoints: C2SP tlog-checkpoint notes signed as C2SP signed notes (Ed25519).

Pure: the standard library and ``cryptography`` only. A checkpoint note looks like::

    itptrace.KE.KET01/ledger            origin: which log this is
    1234                                tree size, decimal
    3q2+7w...=                          root hash, standard padded base64 (32 bytes)
                                        blank line
    — itptrace.KE.KET01/ledger AbCd...  em dash, key name, base64(key ID || signature)

The signed message is the note text: the three lines with their newlines, excluding the
blank separator line. The key ID is ``SHA-256(key name || 0x0A || 0x01 || public key)[:4]``
(signature type 0x01 = Ed25519), so it commits to both the name and the key. A verifier
ignores signature lines from other keys, but rejects the note if the known key's
signature is bad or absent. Extension lines after the root hash are accepted and ignored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from itptrace.errors import DomainError

ED25519 = b"\x01"
EM_DASH = "\u2014"
MAX_SIGNATURES = 16
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,19})$")
# Anything but control characters; key names additionally exclude spaces and "+".
_KEY_NAME = re.compile(r"^[^\s+\x00-\x1f]+$")


class CheckpointError(DomainError):
    """A checkpoint note is malformed or its signature does not verify."""

    code = "bad_checkpoint"


class UnknownSigner(CheckpointError):
    """The note carries no signature by the key it was checked with."""


class Checkpoint(NamedTuple):
    origin: str
    size: int
    root: bytes


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def b64_strict(text: str) -> bytes:
    """Decode canonical standard base64 (padded); raise CheckpointError otherwise."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"not base64: {text[:20]!r}") from None
    if b64(raw) != text:
        raise CheckpointError(f"not canonical base64: {text[:20]!r}")
    return raw


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte C2SP key ID of an Ed25519 key under ``name``."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519 + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """The key in the ``name+hexid+base64(0x01 || key)`` form used by note verifiers."""
    return f"{name}+{key_id(name, public_key).hex()}+{b64(ED25519 + public_key)}"


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    """The name and raw public key of a :func:`verifier_key` string, its ID checked."""
    parts = text.strip().split("+", 2)  # base64 may itself contain "+"
    if len(parts) != 3 or not _KEY_NAME.match(parts[0]):
        raise CheckpointError("a verifier key is name+hexid+base64key")
    name, hex_id, encoded = parts
    raw = b64_strict(encoded)
    if len(raw) != 33 or raw[:1] != ED25519:
        raise CheckpointError("the verifier key is not an Ed25519 key")
    if key_id(name, raw[1:]).hex() != hex_id:
        raise CheckpointError("the verifier key's ID does not match its name and key")
    return name, raw[1:]


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The unsigned note text of a checkpoint (ends with a newline)."""
    if not origin or "\n" in origin or not origin.isprintable():
        raise CheckpointError(f"bad checkpoint origin {origin!r}")
    if size < 0 or len(root) != 32:
        raise CheckpointError("a checkpoint needs a size >= 0 and a 32-byte root")
    return f"{origin}\n{size}\n{b64(root)}\n"


def sign_checkpoint(checkpoint: Checkpoint, key_name: str, key: Ed25519PrivateKey) -> str:
    """The signed note for ``checkpoint``, signed by ``key`` under ``key_name``."""
    if not _KEY_NAME.match(key_name):
        raise CheckpointError(f"bad key name {key_name!r}: no spaces or '+'")
    text = checkpoint_text(*checkpoint)
    public = key.public_key().public_bytes_raw()
    signature = key_id(key_name, public) + key.sign(text.encode("utf-8"))
    return f"{text}\n{EM_DASH} {key_name} {b64(signature)}\n"


def _split_note(note: str) -> tuple[str, list[str]]:
    if any(ch < " " and ch != "\n" for ch in note):
        raise CheckpointError("a note may contain no control characters but newlines")
    if not note.endswith("\n"):
        raise CheckpointError("a note ends with a newline")
    text, separator, signatures = note.rpartition("\n\n")
    if not separator or not text:
        raise CheckpointError("a note has text, a blank line, then signature lines")
    lines = signatures.split("\n")[:-1]
    if not lines or len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"a note carries 1 to {MAX_SIGNATURES} signature lines")
    return text + "\n", lines


def parse_checkpoint_text(text: str) -> Checkpoint:
    """Origin, size and root of unsigned checkpoint text; extension lines are ignored."""
    lines = text.split("\n")[:-1]
    if len(lines) < 3 or not lines[0] or not _DECIMAL.match(lines[1]):
        raise CheckpointError("a checkpoint is origin, decimal size and base64 root lines")
    root = b64_strict(lines[2])
    if len(root) != 32:
        raise CheckpointError("a checkpoint root hash has 32 bytes")
    return Checkpoint(lines[0], int(lines[1]), root)


def verify_checkpoint(note: str, public_key: bytes, key_name: str | None = None) -> Checkpoint:
    """Check the note's signature by ``public_key`` and return what it signs.

    Signature lines of other keys are skipped; the note is refused when no line is from
    this key (under ``key_name`` if given) or when such a line does not verify.
    Raises CheckpointError with a one-line reason.
    """
    text, lines = _split_note(note)
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    found = False
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or not _KEY_NAME.match(parts[1]):
            raise CheckpointError(f"malformed signature line {line[:40]!r}")
        name, raw = parts[1], b64_strict(parts[2])
        if key_name is not None and name != key_name:
            continue
        if len(raw) < 4 or raw[:4] != key_id(name, public_key):
            continue
        try:
            verifier.verify(raw[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise CheckpointError(f"the signature of {name} does not verify") from None
        found = True
    if not found:
        raise UnknownSigner("the note carries no signature by the given key")
    return parse_checkpoint_text(text)


def verify_with_any(note: str, verifier_keys: list[str]) -> Checkpoint:
    """Verify ``note`` with the first of several verifier keys that signed it.

    For a key set with retired keys: a note signed by any listed key is accepted. A bad
    signature by a listed key is refused even if another listed key also signed.
    """
    if not verifier_keys:
        raise CheckpointError("no verifier key given")
    for text in verifier_keys:
        name, public = parse_verifier_key(text)
        try:
            return verify_checkpoint(note, public, name)
        except UnknownSigner:
            continue
    raise UnknownSigner("the note carries no signature by any of the given keys")
