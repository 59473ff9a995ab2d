"""Multi-window multi-burn-rate alert policies, loaded from data files.

A policy is a list of tiers (page first, then ticket); each tier is a list of
window pairs. A pair fires when the error ratio over BOTH its long and its short
window exceeds ``factor × (1 − objective)``. A pair is defined either by a fixed
``factor`` or by ``budget_consumed`` (fraction of the period budget spent within
the long window), from which the factor follows: budget_consumed × period / long.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from slo.errors import PolicyError
from slo.windows import parse_duration_s

POLICY_DIR = Path(__file__).with_name("policies")
DEFAULT_POLICY = "sre-workbook"
SEVERITY_ORDER = ("page", "ticket")


@dataclass(frozen=True)
class WindowPair:
    long_s: int
    short_s: int
    budget_consumed: float | None = None
    fixed_factor: float | None = None

    def factor(self, period_s: int) -> float:
        """Burn factor for an SLO whose (nominal) period is ``period_s`` seconds."""
        if self.fixed_factor is not None:
            return self.fixed_factor
        assert self.budget_consumed is not None
        # Rounded so the engine and the generated PromQL compare against the same number.
        return round(self.budget_consumed * period_s / self.long_s, 6)


@dataclass(frozen=True)
class Tier:
    severity: Literal["page", "ticket"]
    pairs: tuple[WindowPair, ...]


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    tiers: tuple[Tier, ...]

    def windows_s(self) -> tuple[int, ...]:
        """Every long and short window the policy needs, ascending."""
        return tuple(
            sorted({w for t in self.tiers for p in t.pairs for w in (p.long_s, p.short_s)})
        )


def parse_policy(data: Any, file: str) -> Policy:
    """Validate one policy document (already YAML-loaded)."""
    if not isinstance(data, dict):
        raise PolicyError(file, "<root>", "a mapping with name, description, tiers", data)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise PolicyError(file, "name", "a non-empty string", name)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise PolicyError(file, "description", "a string", description)
    tiers_raw = data.get("tiers")
    if not isinstance(tiers_raw, list) or not tiers_raw:
        raise PolicyError(file, "tiers", "a non-empty list of tiers", tiers_raw)
    tiers: list[Tier] = []
    for i, tier in enumerate(tiers_raw):
        path = f"tiers[{i}]"
        if not isinstance(tier, dict):
            raise PolicyError(file, path, "a mapping with severity and pairs", tier)
        severity = tier.get("severity")
        if severity not in SEVERITY_ORDER:
            raise PolicyError(file, f"{path}.severity", "one of page, ticket", severity)
        if any(t.severity == severity for t in tiers):
            raise PolicyError(file, f"{path}.severity", "each severity at most once", severity)
        pairs_raw = tier.get("pairs")
        if not isinstance(pairs_raw, list) or not pairs_raw:
            raise PolicyError(file, f"{path}.pairs", "a non-empty list of window pairs", pairs_raw)
        pairs = tuple(_parse_pair(p, file, f"{path}.pairs[{j}]") for j, p in enumerate(pairs_raw))
        tiers.append(Tier(severity=severity, pairs=pairs))
    # Faster tiers first: suppression of slower tiers relies on this order.
    tiers.sort(key=lambda t: SEVERITY_ORDER.index(t.severity))
    return Policy(name=name, description=description, tiers=tuple(tiers))


def _parse_pair(raw: Any, file: str, path: str) -> WindowPair:
    if not isinstance(raw, dict):
        raise PolicyError(
            file, path, "a mapping with long, short and factor or budget_consumed", raw
        )
    long_s = parse_duration_s(raw.get("long"))
    if long_s is None:
        raise PolicyError(file, f"{path}.long", "a duration like 1h", raw.get("long"))
    short_s = parse_duration_s(raw.get("short"))
    if short_s is None or short_s >= long_s:
        raise PolicyError(
            file,
            f"{path}.short",
            "a duration like 5m, shorter than the long window",
            raw.get("short"),
        )
    budget, factor = raw.get("budget_consumed"), raw.get("factor")
    if (budget is None) == (factor is None):
        raise PolicyError(file, path, "exactly one of factor or budget_consumed", raw)
    if budget is not None:
        if not _is_number(budget) or not 0 < budget <= 1:
            raise PolicyError(file, f"{path}.budget_consumed", "a number in (0, 1]", budget)
        return WindowPair(long_s=long_s, short_s=short_s, budget_consumed=float(budget))
    if not _is_number(factor) or factor <= 0:
        raise PolicyError(file, f"{path}.factor", "a positive number", factor)
    return WindowPair(long_s=long_s, short_s=short_s, fixed_factor=float(factor))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


@cache
def builtin_policies() -> dict[str, Policy]:
    """The policies shipped in slo/policies/, by name."""
    policies: dict[str, Policy] = {}
    for path in sorted(POLICY_DIR.glob("*.yaml")):
        policy = parse_policy(yaml.safe_load(path.read_text()), str(path))
        policies[policy.name] = policy
    return policies


def get_policy(name: str) -> Policy:
    """A built-in policy by name; PolicyError naming the known ones otherwise."""
    policies = builtin_policies()
    if name not in policies:
        raise PolicyError("<policies>", "policy", f"one of {', '.join(sorted(policies))}", name)
    return policies[name]
