"""Recording for SamplerV2 primitives: ``instrument_sampler(sampler, store=...)``.

Works with any SamplerV2 (Aer's, Qiskit's ``BackendSamplerV2``, qiskit-ibm-runtime's):
each ``run(pubs)`` becomes one job record with the same fields as
``ExecutionProxy`` jobs (one "circuit" per pub; counts merged over a pub's
parameter sweep), the backend's calibration time and a ``backends`` row.
Wrapping a ``BackendSamplerV2`` whose backend is already an ``ExecutionProxy``
would record twice: use one or the other.
"""

from __future__ import annotations

import logging
from typing import Any

from qiskit.primitives.containers.sampler_pub import SamplerPub

from collector.errors import InvalidInput, ResultCorrupt
from collector.errors import first_line as _first_line
from collector.primitive import InstrumentedPrimitive, InstrumentedPrimitiveJob
from collector.proxy import normalize_circuits, validate_shots

log = logging.getLogger(__name__)
DEFAULT_SAMPLER_SHOTS = 1024


def pub_counts(pub_result: Any) -> tuple[dict[str, int], int]:
    """Counts of one pub result, registers concatenated, and the number of shots."""
    data = pub_result.data
    arrays = [getattr(data, name) for name in data]
    if not arrays:
        raise ResultCorrupt("sampler pub result has no classical registers")
    if len(arrays) == 1:
        bits = arrays[0]
    else:
        from qiskit.primitives.containers import BitArray

        bits = BitArray.concatenate_bits(arrays[::-1])
    counts = bits.get_counts()
    return counts, int(bits.num_shots * max(1, bits.size))


class InstrumentedSampler(InstrumentedPrimitive):
    """A SamplerV2 that records every ``run`` like ``ExecutionProxy``."""

    kind = "sampler"

    def run(self, pubs: Any, *, shots: int | None = None) -> InstrumentedPrimitiveJob:
        if not isinstance(pubs, (list, tuple)):
            raise InvalidInput("pubs", type(pubs).__name__, "a list of sampler pubs")
        if shots is not None:
            default_shots = validate_shots(shots)
        else:
            default_shots = getattr(self._primitive, "default_shots", None) or getattr(
                getattr(self._primitive, "options", None), "default_shots", None
            )
            if not isinstance(default_shots, int):  # the runtime's "Unset"
                default_shots = None
            default_shots = validate_shots(default_shots or DEFAULT_SAMPLER_SHOTS)
        coerced = []
        for index, pub in enumerate(pubs):
            try:
                coerced.append(SamplerPub.coerce(pub, default_shots))
            except (TypeError, ValueError) as exc:
                raise InvalidInput(
                    f"pubs[{index}]",
                    type(pub).__name__,
                    "a sampler pub: a circuit or (circuit, parameter values[, shots]); "
                    f"observables go to instrument_estimator ({_first_line(exc)})",
                ) from exc
        circuits = [p.circuit for p in coerced]
        normalize_circuits(circuits)
        pub_shots = [validate_shots(p.shots or default_shots) for p in coerced]
        return self._start(
            circuits,
            shots=max(pub_shots),
            total_shots=sum(p.shots * max(1, p.parameter_values.size) for p in coerced),
            submit=lambda: self._primitive.run(pubs, shots=shots),
            details={"pubs": len(coerced)},
        )

    def _outcome(self, result: Any, job: InstrumentedPrimitiveJob) -> dict[str, Any]:
        """Counts per pub; counts that do not sum to the shots are recorded with
        the discrepancy, never raised at the user."""
        counts_out = []
        discrepancy = 0
        for pub_result in result:
            counts, expected = pub_counts(pub_result)
            discrepancy += sum(counts.values()) - expected
            width = len(next(iter(counts))) if counts else 0
            counts_out.append({"fmt": "bin", "num_clbits": width, "counts": counts})
        fields: dict[str, Any] = {"shots_discrepancy": discrepancy or None}
        if self._rec.record_counts:
            fields["counts"] = counts_out
        return fields


# The job type instrument_sampler returns (kept under its earlier name).
InstrumentedJob = InstrumentedPrimitiveJob


def instrument_sampler(sampler: Any, **kwargs: Any) -> InstrumentedSampler:
    """Wrap any SamplerV2 so every ``run`` is recorded (see ``InstrumentedSampler``)."""
    return InstrumentedSampler(sampler, **kwargs)


__all__ = ["InstrumentedJob", "InstrumentedSampler", "instrument_sampler", "pub_counts"]
