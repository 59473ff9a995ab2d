"""Provider adapters: one module per client library behind ``ProviderAdapter``.

``adapter_for(obj)`` picks the adapter of a backend, job, primitive or exception
by the module of its type; anything unknown gets the generic adapter.
"""

from __future__ import annotations

from typing import Any

from collector.providers.base import ProviderAdapter, ProviderTimes, module_of

GENERIC = ProviderAdapter()
_ADAPTERS: list[ProviderAdapter] = []


def register(adapter: ProviderAdapter) -> ProviderAdapter:
    """Add an adapter (first registered, first asked)."""
    _ADAPTERS.append(adapter)
    return adapter


def adapters() -> tuple[ProviderAdapter, ...]:
    _load_builtin()
    return tuple(_ADAPTERS)


def adapter_for(obj: Any) -> ProviderAdapter:
    """The adapter whose provider ``obj`` (a backend, job, primitive or exception)
    belongs to; the generic one for anything else."""
    _load_builtin()
    for adapter in _ADAPTERS:
        if adapter.matches(obj):
            return adapter
    return GENERIC


_loaded = False


def _load_builtin() -> None:
    # The adapter modules import no provider SDK at import time, so loading them
    # all is cheap and needs none of the extras.
    global _loaded
    if _loaded:
        return
    _loaded = True
    from collector.providers import aer, braket, ibm, ionq  # noqa: F401 - they register


__all__ = [
    "GENERIC",
    "ProviderAdapter",
    "ProviderTimes",
    "adapter_for",
    "adapters",
    "module_of",
    "register",
]
