"""Backend factories for ``kind: factory`` config entries.

A ``kind: factory`` backend names ``factory: module:callable``; qsre calls it with the
entry's ``options:`` as keyword arguments and validates whatever BackendV2 it returns.
"""

from __future__ import annotations

import os
from typing import Any

from qsre.errors import ConfigError


def ibm_runtime_backend(
    name: str,
    *,
    channel: str | None = None,
    instance: str | None = None,
    token_env: str | None = None,
) -> Any:
    """An IBM Quantum backend by device name (qiskit-ibm-runtime: the ``ibm`` extra).

    Credentials are never in the config file: the API key comes from the environment
    variable named by ``token_env``, or, without one, from the account saved with
    ``QiskitRuntimeService.save_account``. IBM hardware is primitive-only
    (``backend.run()`` was removed): ``validation.via: auto`` runs the suite through
    ``SamplerV2(mode=backend)``.
    """
    try:
        from qiskit_ibm_runtime import QiskitRuntimeService
    except ImportError as exc:
        raise ConfigError(
            "factory qsre.factories:ibm_runtime_backend",
            "qiskit_ibm_runtime",
            "qiskit-ibm-runtime installed (pip install 'qsre[ibm]')",
        ) from exc
    kwargs: dict[str, Any] = {}
    if channel:
        kwargs["channel"] = channel
    if instance:
        kwargs["instance"] = instance
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise ConfigError(
                "factory qsre.factories:ibm_runtime_backend",
                "options.token_env",
                f"environment variable {token_env} set to an IBM Quantum API key",
            )
        kwargs["token"] = token
    return QiskitRuntimeService(**kwargs).backend(name)


__all__ = ["ibm_runtime_backend"]
