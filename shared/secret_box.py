"""Encryption at rest for secrets Accords must be able to read back.

Webhook signing secrets cannot be hashed like api keys: the worker needs them
in clear to sign. They are sealed with AES-256-GCM under a key derived (HKDF-
SHA256) from ``ACCORDS_SECRET_KEY``, so a database dump alone does not reveal
them. AES-GCM rather than Fernet because it takes associated data: each
ciphertext is bound to its row (the endpoint id), so a secret copied from one
row into another by someone who can write the database fails to open instead
of silently signing for the wrong endpoint.

Development and tests run without configuration, so they fall back to a fixed,
public key; production refuses to seal or open anything without a real one.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.errors import DomainError
from shared.settings import Settings

_FORMAT = "v1"
_NONCE_BYTES = 12
# Public on purpose: it protects nothing and is used only outside production.
_DEVELOPMENT_KEY = "accords-development-secret-key-not-for-production"


class SecretKeyMissing(DomainError):
    status = 503
    type_slug = "secret-key-missing"
    title = "Secret key not configured"


class SecretUnreadable(Exception):
    """A sealed secret does not open with the configured key."""


def key_material(settings: Settings, *, missing: str) -> str:
    """``ACCORDS_SECRET_KEY``, or the public development key outside production.

    Every key Accords derives (sealing webhook secrets, signing unsubscribe
    tokens) comes from this, each under its own label.
    """
    if settings.secret_key:
        return settings.secret_key
    if settings.environment in ("development", "test"):
        return _DEVELOPMENT_KEY
    raise SecretKeyMissing(missing)


class SecretBox:
    """Seals and opens short secrets with AES-256-GCM."""

    def __init__(self, key_material: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"accords secret box v1"
        ).derive(key_material.encode("utf-8"))
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(
            key_material(
                settings,
                missing="Webhook secrets are encrypted at rest; "
                "set ACCORDS_SECRET_KEY to enable webhooks.",
            )
        )

    def seal(self, clear: str, *, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, clear.encode("utf-8"), context.encode("utf-8"))
        return f"{_FORMAT}:" + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, *, context: str) -> str:
        version, _, payload = sealed.partition(":")
        if version != _FORMAT:
            raise SecretUnreadable(f"unknown sealed-secret format {version!r}")
        raw = base64.urlsafe_b64decode(payload)
        try:
            clear = self._aead.decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")
            )
        except InvalidTag as exc:
            raise SecretUnreadable("the secret does not open with ACCORDS_SECRET_KEY") from exc
        return clear.decode("utf-8")
