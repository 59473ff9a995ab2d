"""Retry policy for transient failures: exponential backoff with full jitter inside a
retry budget. Only ``transient`` errors are retried: an auth error never is, and a
timed-out job might still run (resubmitting could run and bill it twice)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    multiplier: float = 2.0
    budget_s: float = 120.0
    retry_on: tuple[str, ...] = ("transient",)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.budget_s < 0:
            raise ValueError("RetryPolicy delays and budget must be >= 0 seconds")

    def should_retry(self, error_class: str, attempts: int, slept_s: float) -> bool:
        return (
            error_class in self.retry_on
            and attempts < self.max_attempts
            and slept_s < self.budget_s
        )

    def delay_s(self, attempts: int, rng: random.Random, slept_s: float) -> float:
        """Backoff before attempt ``attempts + 1`` (full jitter), capped by what is
        left of the budget."""
        cap = min(self.max_delay_s, self.base_delay_s * self.multiplier ** (attempts - 1))
        return min(rng.uniform(0, cap), max(0.0, self.budget_s - slept_s))
