"""Shared pieces of the access tests: a cheap argon2id hasher (the defaults
cost ~50 ms a hash; the behaviour under test does not depend on the cost),
a spying one, and a fixed clock."""

from __future__ import annotations

from datetime import datetime, timezone

from argon2 import PasswordHasher

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery staple"


def cheap_hasher() -> PasswordHasher:
    """argon2id with the smallest parameters: fast tests, the same code path."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class SpyingHasher(PasswordHasher):
    """A cheap hasher that remembers each hash it verified against."""

    def __init__(self, time_cost: int = 1, memory_cost: int = 8) -> None:
        super().__init__(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002 (argon2's name)
        self.verified.append(hash if isinstance(hash, str) else hash.decode())
        return super().verify(hash, password)
