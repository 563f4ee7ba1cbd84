"""Ed25519 tags: made by the issuer's private key, checked by anyone with the public key.

Tags travel as unpadded base64url (86 characters for 64 bytes). Decoding is strict: the
last character of 86 carries 4 unused bits, so a lenient decoder would accept several
spellings of one signature; only the canonical spelling verifies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

TAG_LENGTH = 86


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode_strict(text: str) -> bytes | None:
    """Decode canonical unpadded base64url; None for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if b64url_encode(raw) == text else None


def key_id_for(public_raw: bytes) -> str:
    """A short, stable key id: the first 4 bytes of SHA-256 of the raw public key, in hex."""
    return hashlib.sha256(public_raw).hexdigest()[:8]


def public_raw(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def make_tag(key: Ed25519PrivateKey, message: bytes) -> str:
    return b64url_encode(key.sign(message))


def tag_is_valid(public: bytes, message: bytes, tag: str) -> bool:
    """True only for a canonical tag that is a valid signature of ``message``."""
    if len(tag) != TAG_LENGTH:
        return False
    signature = b64url_decode_strict(tag)
    if signature is None or len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
