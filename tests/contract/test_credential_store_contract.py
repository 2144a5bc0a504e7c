"""Credential stores: keys rotate (open with any key, seal with the newest), never losing a row."""

from __future__ import annotations

from typing import Any

import pytest

from syncjobs.connections.credentials import (
    InMemoryCredentialStore,
    SQLCredentialStore,
    TokenCipher,
    generate_key,
)
from syncjobs.errors import ConfigurationError
from syncjobs.providers.types import TokenSet

A, B = generate_key(), generate_key()


class Stores:
    """Builds credential stores that share one storage, each with its own keys."""

    def __init__(self, kind: str, request: pytest.FixtureRequest) -> None:
        self.kind = kind
        self.repo: Any = None if kind == "memory" else request.getfixturevalue(f"{kind}_repo")
        self.memory: InMemoryCredentialStore | None = None

    def with_keys(self, keys: str, cipher: TokenCipher | None = None) -> Any:
        cipher = cipher or TokenCipher(keys)
        if self.repo is not None:
            return SQLCredentialStore(self.repo.engine, self.repo.tables, cipher)
        if self.memory is None:
            self.memory = InMemoryCredentialStore(cipher)
        self.memory.cipher = cipher
        return self.memory


@pytest.fixture(params=["memory", "sqlite", "pg"])
def stores(request: pytest.FixtureRequest) -> Stores:
    return Stores(request.param, request)


def tokens(n: int) -> TokenSet:
    return TokenSet(access_token=f"at-{n}", refresh_token=f"rt-{n}")


def test_rotation_reseals_every_token_with_the_newest_key(stores: Stores) -> None:
    old = stores.with_keys(A)
    for n in range(7):
        old.save_tokens(f"acc-{n}", tokens(n))
    both = stores.with_keys(f"{B}, {A}")
    assert both.load_tokens("acc-3") == tokens(3)  # readable with the older key
    seen: list[tuple[int, int]] = []
    report = both.rotate_tokens(batch_size=3, progress=lambda d, t: seen.append((d, t)))
    assert (report.rotated, report.skipped) == (7, 0)
    assert seen == [(3, 7), (6, 7), (7, 7)]
    only_new = stores.with_keys(B)
    assert [only_new.load_tokens(f"acc-{n}") for n in range(7)] == [tokens(n) for n in range(7)]
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        stores.with_keys(A).load_tokens("acc-0")


def test_new_tokens_are_sealed_with_the_newest_key(stores: Stores) -> None:
    stores.with_keys(f"{B},{A}").save_tokens("acc", tokens(1))
    assert stores.with_keys(B).load_tokens("acc") == tokens(1)


def test_a_row_rewritten_during_rotation_keeps_the_newer_tokens(stores: Stores) -> None:
    stores.with_keys(A).save_tokens("acc-a", tokens(1))
    stores.with_keys(A).save_tokens("acc-b", tokens(2))

    class WorkerMeanwhile(TokenCipher):
        """Rewrites acc-a (as a worker refreshing its tokens would) after it was read."""

        fired = False

        def reseal(self, scheme: str, secret: str) -> tuple[str, str]:
            if not self.fired:
                self.fired = True
                rotating.save_tokens("acc-a", tokens(99))
            return super().reseal(scheme, secret)

    rotating = stores.with_keys("", WorkerMeanwhile(f"{B},{A}"))
    report = rotating.rotate_tokens(batch_size=10)
    assert (report.rotated, report.skipped) == (1, 1)
    only_new = stores.with_keys(B)
    assert only_new.load_tokens("acc-a") == tokens(99)  # not the stale tokens(1)
    assert only_new.load_tokens("acc-b") == tokens(2)


def test_rotation_encrypts_tokens_stored_in_plaintext(stores: Stores) -> None:
    stores.with_keys("", TokenCipher(None, allow_plaintext=True)).save_tokens("acc", tokens(5))
    assert stores.with_keys(A).rotate_tokens().rotated == 1
    assert stores.with_keys(A, TokenCipher(A)).load_tokens("acc") == tokens(5)


def test_an_empty_store_rotates_nothing(stores: Stores) -> None:
    report = stores.with_keys(f"{B},{A}").rotate_tokens()
    assert (report.rotated, report.skipped) == (0, 0)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("not-a-key", "SYNCJOBS_ENCRYPTION_KEY is not"),
        (f"{A},nope", "key 2 of 2 in SYNCJOBS_ENCRYPTION_KEY"),
        (f"{A},", "key 2 of 2 in SYNCJOBS_ENCRYPTION_KEY"),
        ("clé", "SYNCJOBS_ENCRYPTION_KEY is not"),
    ],
)
def test_a_malformed_key_is_one_line_naming_the_variable(value: str, named: str) -> None:
    with pytest.raises(ConfigurationError, match=named) as caught:
        TokenCipher(value)
    assert "\n" not in str(caught.value) and value not in str(caught.value)
