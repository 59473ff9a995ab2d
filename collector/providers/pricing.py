"""Default list prices per provider, as data (``pricing.yaml`` beside this module),
read and validated once. A backend's own ``pricing:`` in the configuration always
wins; these are what an adapter's ``default_pricing`` offers when there is none."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from collector.cost import Pricing, PricingError

PRICE_LIST = "pricing.yaml"


@dataclass(frozen=True, slots=True)
class PriceRule:
    """One line of the price list: a pattern on the backend's identity, its prices
    and where the numbers were read."""

    provider: str
    match: re.Pattern[str]
    pricing: Pricing
    source: str


def _parse(document: Any, where: str) -> dict[str, tuple[PriceRule, ...]]:
    if not isinstance(document, dict):
        raise PricingError(f"{where}: expected a mapping of provider -> list of rules")
    out: dict[str, tuple[PriceRule, ...]] = {}
    for provider, rules in document.items():
        if not isinstance(rules, list):
            raise PricingError(f"{where}: {provider}: expected a list of rules, got {rules!r}")
        parsed = []
        for index, rule in enumerate(rules):
            at = f"{where}: {provider}[{index}]"
            if not isinstance(rule, dict) or set(rule) != {"match", "source", "pricing"}:
                raise PricingError(f"{at}: expected exactly the keys match, source, pricing")
            if not isinstance(rule["source"], str) or not rule["source"].strip():
                raise PricingError(f"{at}.source: expected where the prices were read")
            try:
                pattern = re.compile(str(rule["match"]))
            except re.error as exc:
                raise PricingError(f"{at}.match={rule['match']!r}: not a regex ({exc})") from exc
            parsed.append(
                PriceRule(
                    provider,
                    pattern,
                    Pricing.from_config(rule["pricing"], f"{at}.pricing"),
                    rule["source"],
                )
            )
        out[str(provider)] = tuple(parsed)
    return out


@functools.cache
def price_list() -> dict[str, tuple[PriceRule, ...]]:
    """The packaged price list, parsed once (a malformed file raises ``PricingError``
    naming the entry)."""
    text = resources.files(__package__).joinpath(PRICE_LIST).read_text(encoding="utf-8")
    return _parse(yaml.safe_load(text), f"collector/providers/{PRICE_LIST}")


def list_price(provider: str, *identities: str | None) -> PriceRule | None:
    """The first rule of ``provider`` whose pattern is found in one of the backend's
    identities (its name, its device ARN, ...), or None."""
    names = [name for name in identities if name]
    for rule in price_list().get(provider, ()):
        if any(rule.match.search(name) for name in names):
            return rule
    return None


__all__ = ["PriceRule", "list_price", "price_list"]
