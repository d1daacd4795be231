"""API key material: generation and hashing.

Keys carry 256 bits of randomness, so a plain SHA-256 is a sound verifier (no
slow KDF needed) and lets authentication look a key up by its hash directly.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "acc_"
SCOPES = ("read", "write", "webhooks", "admin")


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    """The part of a key that may be shown and logged to tell keys apart."""
    return key[:10]


def grants(scopes: frozenset[str] | set[str] | list[str], needed: str) -> bool:
    """Whether ``scopes`` allow an operation that needs ``needed``.

    ``admin`` allows everything; ``write`` also allows reading what it writes.
    """
    held = set(scopes)
    if "admin" in held or needed in held:
        return True
    return needed == "read" and "write" in held
