"""The issuer's keys: Ed25519 signing and the key store, below every capability.

``signing`` holds the pure primitives (tags, key ids, encodings); ``store`` keeps the
private keys in 0600 files and publishes the public key set. Only the issuer service signs.
"""
