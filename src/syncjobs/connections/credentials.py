"""Credential stores: token sets encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

``CredentialStore`` (the protocol, defined with the accounts' protocols in ``store``), the
``TokenCipher`` that seals token sets, and its two stores: in SQL and in memory.
"""

from __future__ import annotations

import threading
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import utcnow
from ..errors import ConfigurationError
from ..providers.types import TokenSet
from ..schema.tables import Tables
from .store import CredentialStore

__all__ = [
    "CredentialStore",
    "InMemoryCredentialStore",
    "SQLCredentialStore",
    "TokenCipher",
    "generate_key",
]


def generate_key() -> str:
    """Return a new random key for ``SYNCJOBS_ENCRYPTION_KEY``."""
    return Fernet.generate_key().decode("ascii")


class TokenCipher:
    """Seals token sets for storage; refuses plaintext unless development mode allows it."""

    def __init__(self, key: str | None, *, allow_plaintext: bool = False) -> None:
        self._fernet: Fernet | None = None
        if key:
            try:
                self._fernet = Fernet(key.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raise ConfigurationError(
                    "SYNCJOBS_ENCRYPTION_KEY is not a valid Fernet key (32 url-safe base64 "
                    "bytes): make one with `syncjobs keygen`"
                ) from None
        self.allow_plaintext = allow_plaintext

    @property
    def encrypts(self) -> bool:
        """True when tokens are encrypted."""
        return self._fernet is not None

    def seal(self, tokens: TokenSet) -> tuple[str, str]:
        """Return (scheme, secret) to store."""
        payload = tokens.model_dump_json()
        if self._fernet is not None:
            return "fernet", self._fernet.encrypt(payload.encode("utf-8")).decode("ascii")
        if self.allow_plaintext:
            return "plain", payload
        raise ConfigurationError(
            "refusing to store tokens unencrypted: set SYNCJOBS_ENCRYPTION_KEY (make one with "
            "`syncjobs keygen`), or SYNCJOBS_ALLOW_PLAINTEXT_TOKENS=true for development only"
        )

    def open(self, scheme: str, secret: str) -> TokenSet:
        """Return the token set stored as (scheme, secret)."""
        if scheme == "plain":
            return TokenSet.model_validate_json(secret)
        if scheme != "fernet" or self._fernet is None:
            raise ConfigurationError(
                f"stored tokens use {scheme!r} but no matching SYNCJOBS_ENCRYPTION_KEY is set"
            )
        try:
            return TokenSet.model_validate_json(self._fernet.decrypt(secret.encode("ascii")))
        except InvalidToken:
            raise ConfigurationError(
                "stored tokens cannot be decrypted: SYNCJOBS_ENCRYPTION_KEY changed?"
            ) from None


class SQLCredentialStore:
    """Token sets in the ``credentials`` table, sealed by a TokenCipher."""

    def __init__(self, engine: Engine, tables: Tables, cipher: TokenCipher) -> None:
        self.engine, self.tables, self.cipher = engine, tables, cipher

    def save_tokens(self, account_id: str, tokens: TokenSet) -> None:
        """Store (replace) an account's tokens."""
        scheme, secret = self.cipher.seal(tokens)
        cr = self.tables.credentials
        ins = (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(cr)
        stmt = ins.values(account_id=account_id, scheme=scheme, secret=secret, updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(
            index_elements=[cr.c.account_id],
            set_={
                "scheme": stmt.excluded.scheme,
                "secret": stmt.excluded.secret,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def load_tokens(self, account_id: str) -> TokenSet | None:
        """Return an account's tokens, or None."""
        cr = self.tables.credentials
        with self.engine.connect() as conn:
            row = conn.execute(
                select(cr.c.scheme, cr.c.secret).where(cr.c.account_id == account_id)
            ).first()
        return self.cipher.open(row[0], row[1]) if row is not None else None

    def delete_tokens(self, account_id: str) -> None:
        """Forget an account's tokens."""
        cr = self.tables.credentials
        with self.engine.begin() as conn:
            conn.execute(delete(cr).where(cr.c.account_id == account_id))


class InMemoryCredentialStore:
    """Token sets in a dict, sealed like the SQL store (so tests see what is stored)."""

    def __init__(self, cipher: TokenCipher) -> None:
        self.cipher = cipher
        self.sealed: dict[str, tuple[str, str, datetime]] = {}
        self._lock = threading.Lock()

    def save_tokens(self, account_id: str, tokens: TokenSet) -> None:
        """Store (replace) an account's tokens."""
        scheme, secret = self.cipher.seal(tokens)
        with self._lock:
            self.sealed[account_id] = (scheme, secret, utcnow())

    def load_tokens(self, account_id: str) -> TokenSet | None:
        """Return an account's tokens, or None."""
        with self._lock:
            found = self.sealed.get(account_id)
        return self.cipher.open(found[0], found[1]) if found else None

    def delete_tokens(self, account_id: str) -> None:
        """Forget an account's tokens."""
        with self._lock:
            self.sealed.pop(account_id, None)
