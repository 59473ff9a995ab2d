"""Recording for EstimatorV2 primitives: ``instrument_estimator(estimator, store=...)``.

Works with any EstimatorV2 (qiskit's ``BackendEstimatorV2``, Aer's,
qiskit-ibm-runtime's). Each ``run(pubs, precision=...)`` becomes one job record:
one "circuit" per pub, and in ``jobs.details`` the pubs' observables counts,
parameter sets and precision, their expectation values and standard errors,
and the error-mitigation (resilience) options the job ran with. Expectation
values are kept up to ``MAX_VALUES_PER_PUB`` per pub (a large sweep is marked
truncated): the store records what ran, it is not a results archive.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from qiskit.primitives.containers.estimator_pub import EstimatorPub

from collector.errors import InvalidInput
from collector.errors import first_line as _first_line
from collector.primitive import InstrumentedPrimitive, InstrumentedPrimitiveJob
from collector.proxy import validate_shots

MAX_VALUES_PER_PUB = 256
# qiskit's BackendEstimatorV2 default; the runtime's options say "Unset" instead.
DEFAULT_PRECISION = 0.015625


def _validate_precision(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInput(field, value, "a precision > 0 (the target standard error)")
    if not math.isfinite(value):
        raise InvalidInput(field, value, "a finite precision")
    return float(value)


def _plain(value: Any, depth: int = 0) -> Any:
    """Options as JSON-able data: dataclasses and mappings as dicts, the
    runtime's ``Unset`` left out, anything else as its repr."""
    if depth > 6:
        return repr(value)
    if type(value).__name__ == "UnsetType":
        return None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        out = {str(k): _plain(v, depth + 1) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {}}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    return repr(value)


def resilience_options(estimator: Any) -> dict[str, Any]:
    """The error-mitigation options an estimator runs with, as set (the
    runtime's ``resilience_level``, ``resilience``, ``twirling``, ...)."""
    options = getattr(estimator, "options", None)
    if options is None:
        return {}
    out: dict[str, Any] = {}
    for name in ("resilience_level", "resilience", "twirling", "dynamical_decoupling"):
        plain = _plain(getattr(options, name, None))
        if plain not in (None, {}):
            out[name] = plain
    return out


def _values(array: Any) -> tuple[list[float | None], bool]:
    flat = np.asarray(array, dtype=float).reshape(-1)
    values = [float(v) if math.isfinite(v) else None for v in flat[:MAX_VALUES_PER_PUB]]
    return values, flat.size > MAX_VALUES_PER_PUB


class InstrumentedEstimator(InstrumentedPrimitive):
    """An EstimatorV2 that records every ``run`` (see the module doc)."""

    kind = "estimator"

    def run(self, pubs: Any, *, precision: float | None = None) -> InstrumentedPrimitiveJob:
        if not isinstance(pubs, (list, tuple)) or not pubs:
            raise InvalidInput("pubs", type(pubs).__name__, "a non-empty list of estimator pubs")
        if precision is not None:
            default_precision = _validate_precision(precision, "precision")
        else:
            default_precision = getattr(
                getattr(self._primitive, "options", None), "default_precision", None
            )
            if not isinstance(default_precision, int | float):  # the runtime's "Unset"
                default_precision = DEFAULT_PRECISION
        coerced = []
        for index, pub in enumerate(pubs):
            try:
                coerced.append(EstimatorPub.coerce(pub, default_precision))
            except (TypeError, ValueError) as exc:
                raise InvalidInput(
                    f"pubs[{index}]",
                    type(pub).__name__,
                    f"an estimator pub: (circuit, observables[, parameter values[, precision]]) "
                    f"({_first_line(exc)})",
                ) from exc
        described = []
        shots = 1
        total_shots = 0
        for index, pub in enumerate(coerced):
            pub_precision = _validate_precision(pub.precision, f"pubs[{index}].precision")
            # What a shot-based estimator spends to reach the precision: an
            # observable of unit norm needs ~1/precision^2 shots per parameter set.
            pub_shots = validate_shots(math.ceil(1.0 / pub_precision**2))
            shots = max(shots, pub_shots)
            total_shots += pub_shots * max(1, pub.parameter_values.size)
            described.append(
                {
                    "observables": int(pub.observables.size),
                    "parameter_sets": int(max(1, pub.parameter_values.size)),
                    "precision": pub_precision,
                }
            )
        return self._start(
            [p.circuit for p in coerced],
            shots=shots,
            total_shots=total_shots,
            submit=lambda: self._primitive.run(pubs, precision=precision),
            details={"pubs": described, "resilience": resilience_options(self._primitive)},
        )

    def _outcome(self, result: Any, job: InstrumentedPrimitiveJob) -> dict[str, Any]:
        """Expectation values and standard errors per pub; the shots the results
        report they used, when they do (billed instead of the estimate)."""
        billed_shots = 0
        for described, pub_result in zip(job.details["pubs"], result, strict=False):
            evs, cut = _values(pub_result.data.evs)
            stds, _ = _values(getattr(pub_result.data, "stds", []))
            described.update(evs=evs, stds=stds)
            if cut:
                described["truncated"] = True
            used = (getattr(pub_result, "metadata", None) or {}).get("shots")
            if isinstance(used, int) and used > 0:
                billed_shots = max(billed_shots, used)
        return {"billed_shots": billed_shots} if billed_shots else {}


def instrument_estimator(estimator: Any, **kwargs: Any) -> InstrumentedEstimator:
    """Wrap any EstimatorV2 so every ``run`` is recorded (see the module doc).
    Keywords as ``instrument_sampler``: ``store``, ``project``, ``tags``, ..."""
    return InstrumentedEstimator(estimator, **kwargs)


__all__ = ["InstrumentedEstimator", "instrument_estimator", "resilience_options"]
