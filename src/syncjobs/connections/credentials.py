"""Credential stores: token sets encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

``CredentialStore`` (the protocol, defined with the accounts' protocols in ``store``), the
``TokenCipher`` that seals token sets (with the newest of several keys, opening with any),
and its two stores: in SQL and in memory. ``rotate_tokens`` re-seals every stored token set
with the newest key, a batch at a time, never overwriting a row rewritten meanwhile.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Engine, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import utcnow
from ..errors import ConfigurationError
from ..providers.types import TokenSet
from ..schema.tables import Tables
from .store import CredentialStore, RotationReport

__all__ = [
    "CredentialStore",
    "InMemoryCredentialStore",
    "RotationReport",
    "SQLCredentialStore",
    "TokenCipher",
    "generate_key",
]


def generate_key() -> str:
    """Return a new random key for ``SYNCJOBS_ENCRYPTION_KEY``."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(value: str | None, variable: str = "SYNCJOBS_ENCRYPTION_KEY") -> list[Fernet]:
    """Return the Fernet keys of a comma-separated list (newest first); one-line errors."""
    names = [part.strip() for part in (value or "").split(",")]
    if names == [""]:
        return []
    keys: list[Fernet] = []
    for index, name in enumerate(names, start=1):
        try:
            keys.append(Fernet(name.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            where = f"key {index} of {len(names)} in {variable}" if len(names) > 1 else variable
            raise ConfigurationError(
                f"{where} is not a valid Fernet key (32 url-safe base64 bytes, keys separated "
                "by commas, newest first): make one with `syncjobs keygen`"
            ) from None
    return keys


class TokenCipher:
    """Seals token sets for storage; refuses plaintext unless development mode allows it."""

    def __init__(self, key: str | None, *, allow_plaintext: bool = False) -> None:
        self._fernet: MultiFernet | None = None
        keys = parse_keys(key)
        if keys:
            self._fernet = MultiFernet(keys)
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
                "stored tokens cannot be decrypted with any key of SYNCJOBS_ENCRYPTION_KEY: "
                "was a key removed before `syncjobs keys rotate` finished?"
            ) from None

    def reseal(self, scheme: str, secret: str) -> tuple[str, str]:
        """Return (scheme, secret) sealed with the newest key (plaintext gets encrypted)."""
        if self._fernet is None:
            raise ConfigurationError("rotating tokens needs SYNCJOBS_ENCRYPTION_KEY")
        if scheme == "plain":
            return "fernet", self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")
        self.open(scheme, secret)  # the same one-line errors as loading
        return "fernet", self._fernet.rotate(secret.encode("ascii")).decode("ascii")


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

    def rotate_tokens(
        self, *, batch_size: int = 100, progress: Callable[[int, int], None] | None = None
    ) -> RotationReport:
        """Re-seal every token set with the newest key; compare-and-set on the old secret."""
        cr = self.tables.credentials
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(cr)).scalar_one()
        rotated = skipped = 0
        after = ""
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(cr.c.account_id, cr.c.scheme, cr.c.secret)
                    .where(cr.c.account_id > after)
                    .order_by(cr.c.account_id)
                    .limit(batch_size)
                ).all()
            if not rows:
                return RotationReport(rotated=rotated, skipped=skipped)
            resealed = [(row, self.cipher.reseal(row[1], row[2])) for row in rows]
            with self.engine.begin() as conn:
                for (account_id, scheme, secret), (new_scheme, new_secret) in resealed:
                    same = and_(
                        cr.c.account_id == account_id, cr.c.scheme == scheme, cr.c.secret == secret
                    )
                    done = conn.execute(
                        update(cr).where(same).values(scheme=new_scheme, secret=new_secret)
                    ).rowcount
                    rotated, skipped = rotated + done, skipped + (1 - done)
            after = rows[-1][0]
            if progress is not None:
                progress(rotated + skipped, max(total, rotated + skipped))


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

    def rotate_tokens(
        self, *, batch_size: int = 100, progress: Callable[[int, int], None] | None = None
    ) -> RotationReport:
        """Re-seal every token set with the newest key; compare-and-set on the old secret."""
        with self._lock:
            names = sorted(self.sealed)
        rotated = skipped = 0
        for start in range(0, len(names), batch_size):
            for account_id in names[start : start + batch_size]:
                with self._lock:
                    found = self.sealed.get(account_id)
                if found is None:
                    skipped += 1
                    continue
                scheme, secret = self.cipher.reseal(found[0], found[1])
                with self._lock:
                    if self.sealed.get(account_id) == found:
                        self.sealed[account_id] = (scheme, secret, found[2])
                        rotated += 1
                    else:
                        skipped += 1
            if progress is not None:
                progress(rotated + skipped, len(names))
        return RotationReport(rotated=rotated, skipped=skipped)
