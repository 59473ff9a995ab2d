"""Run the reference suite on a backend through the execution proxy and judge it.

One suite run on one backend:

1. the reference circuits, compiled by :func:`validators.reference.transpile_reference`
   (the same compiled circuits the noisy prediction used), run on the backend itself
   and are recorded (project ``qsre-validation``, tag ``purpose=validation``):

   - *how* (``via``): ``backend`` submits through :class:`collector.proxy.ExecutionProxy`
     (``backend.run``); ``sampler`` runs pubs through a SamplerV2 (the provider
     adapter's ``sampler_for(backend)``, IBM's ``SamplerV2(mode=backend)``) recorded by
     :func:`collector.sampler.instrument_sampler`, for primitive-only hardware whose
     ``backend.run()`` was removed (IBM devices); ``auto`` picks ``sampler`` exactly
     when the adapter says ``supports_backend_run(backend)`` is False;
   - *how many jobs* (``jobs``): ``per_suite`` (the default) submits the whole suite as
     one job (one per distinct shot count on ``backend.run``, tag ``circuits=<names>``);
     ``per_circuit`` submits each circuit as its own job (tag ``circuit=<name>``), so a
     failing circuit is an error row of its own. Per-suite is the default because a
     job's fixed cost dominates everywhere but on small simulators: queue wait and
     per-task fees on hardware, and ~1.1 s per ``run()`` on FakeBrisbane whatever the
     circuit (Aer serialises the fake backend's whole 127-qubit noise model for every
     job): ``qsre validate`` on FakeBrisbane took 18.4 s with per-circuit jobs and
     9.1 s with one (bench/validate_brisbane.py, 2 busy cores);
2. counts are compared with the exact ideal distribution (Hellinger fidelity, TVD),
   with the backend's noisy prediction (:func:`validators.drift.check_divergence`;
   not evaluated without calibration, never DIVERGED) and fed to the backend's
   persisted :class:`validators.drift.DriftDetector`; the counts are also
   readout-mitigated from the backend's reported readout calibration
   (:mod:`validators.mitigation`, no extra jobs) and the mitigated distribution's
   fidelity to the ideal one is kept beside the raw one;
3. one ``validation_runs`` row per circuit and the detector state are written in one
   transaction, and a frozen :class:`ValidationReport` is returned.

Baseline policy. The detector's calibration id is the calibration the baseline was
learned under, not every new calibration timestamp: a recalibration restarts the
baseline only once the detector has latched DRIFT (the recalibration is where the
new state is accepted). A routine recalibration that reports the same device keeps
the baseline (restarting would leave the detector learning for ``baseline_runs`` of
every calibration period), and a recalibration that *reports* worse errors is
exactly the drift the detector is for: the CUSUM judges the device against its
pre-change baseline, and the evidence records how much the reported calibration
moved the predicted distributions (``reported_change_tvd``).

Version context. Each run records qiskit / qiskit-aer / provider versions and the
transpiler settings. A DRIFT or DIVERGED finding whose onset is within
``VERSION_COINCIDENCE_RUNS`` runs of a version change says
"firmware/compiler regression" in its evidence.
"""

from __future__ import annotations

import importlib.metadata
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import qiskit
import qiskit_aer
from qiskit.providers import BackendV2

from collector.calibration import calibration_timestamp
from collector.classify import classify_exception
from collector.clock import Clock, SystemClock
from collector.providers import adapter_for
from collector.proxy import ExecutionProxy
from collector.recorder import Recorder
from collector.sampler import instrument_sampler, pub_counts
from collector.store import Store
from validators.circuits import (
    TRANSPILE_OPTIMIZATION_LEVEL,
    ReferenceCircuit,
    SuiteConfig,
    build_suite,
)
from validators.distance import hellinger_fidelity, total_variation_distance
from validators.drift import (
    DivergenceConfig,
    DivergenceResult,
    DriftConfig,
    DriftDetector,
    DriftResult,
    check_divergence,
)
from validators.errors import DetectorStateError
from validators.mitigation import MitigationResult, measured_qubits, mitigate, readout_calibration
from validators.reference import (
    calibration_fingerprint,
    has_calibration,
    predicted_distribution,
    transpile_reference,
)
from validators.store import DetectorStateRecord, ValidationRunRecord, ValidationStore
from validators.verdict import (
    BackendVerdict,
    Verdict,
    VersionChange,
    combine,
    version_change,
    worst,
)

log = logging.getLogger(__name__)

VALIDATION_PROJECT = "qsre-validation"
RUNNER_STATE_VERSION = 1
# A finding whose onset is this close (in suite runs) to a version change is
# attributed to the change.
VERSION_COINCIDENCE_RUNS = 2

ProxyFactory = Callable[[BackendV2, dict[str, Any]], BackendV2]
# A proxy factory may also have ``sampler_options(backend) -> dict``: the keyword
# arguments (pricing, quotas, backend_name) the sampler path records with, so that a
# suite validated through a sampler costs what it costs through ``backend.run``.
# backend -> an (uninstrumented) SamplerV2 that runs on it; the runner records it.
SamplerFactory = Callable[[BackendV2], Any]
VIA_CHOICES = ("auto", "backend", "sampler")
JOBS_CHOICES = ("per_suite", "per_circuit")
SuiteLike = SuiteConfig | Mapping[str, Any] | Sequence[ReferenceCircuit] | None


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of one suite run on one backend (``qsre validate --json``)."""

    backend: str
    run_id: str
    ran_at: datetime
    verdict: str  # worst row verdict; 'error' only when every circuit failed
    rows: tuple[ValidationRunRecord, ...]
    calibration_at: datetime | None = None
    likely_cause: str = ""
    versions: dict[str, Any] = field(default_factory=dict)
    backend_verdict: BackendVerdict | None = field(default=None, compare=False, repr=False)

    @property
    def drift(self) -> bool:
        return any(r.drift for r in self.rows)

    @property
    def diverged(self) -> bool | None:
        values = [r.diverged for r in self.rows if r.diverged is not None]
        return any(values) if values else None

    def row(self, circuit: str) -> ValidationRunRecord:
        for r in self.rows:
            if r.circuit == circuit:
                return r
        raise KeyError(f"no circuit {circuit!r} in run {self.run_id} of {self.backend}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe."""
        return {
            "backend": self.backend,
            "run_id": self.run_id,
            "ran_at": self.ran_at.isoformat(),
            "verdict": self.verdict,
            "drift": self.drift,
            "diverged": self.diverged,
            "calibration_at": self.calibration_at.isoformat() if self.calibration_at else None,
            "likely_cause": self.likely_cause,
            "versions": self.versions,
            "circuits": [r.to_dict() for r in self.rows],
            "findings": self.backend_verdict.to_dict() if self.backend_verdict else None,
        }


@lru_cache(maxsize=64)
def _distribution_version(module: str) -> tuple[str | None, str | None]:
    top = module.split(".")[0]
    try:
        dists = importlib.metadata.packages_distributions().get(top) or [top]
        return dists[0], importlib.metadata.version(dists[0])
    except importlib.metadata.PackageNotFoundError:
        return top, None


def version_context(backend: Any) -> dict[str, Any]:
    """Versions and settings that can change a backend's results without the device
    changing: SDK, simulator, provider package, backend version, transpiler."""
    package, version = _distribution_version(type(backend).__module__)
    return {
        "qiskit": qiskit.__version__,
        "qiskit-aer": qiskit_aer.__version__,
        "provider": {
            "package": package,
            "version": version,
            "backend_version": str(getattr(backend, "backend_version", None)),
        },
        "transpiler": {
            "optimization_level": TRANSPILE_OPTIMIZATION_LEVEL,
            "seed_transpiler": 0,
        },
    }


def _row_verdict(drift: Verdict, divergence: Verdict) -> str:
    return worst([drift, divergence]).value


class ValidationRunner:
    """Runs the suite on backends and persists the results (see the module doc).

    ``suite``: a :class:`SuiteConfig` (or its mapping form; built per backend for its
    qubit count), a prebuilt list of reference circuits, or None for the default
    suite. ``proxy_factory(backend, tags)`` builds the recording proxy (to add
    pricing, quotas or a retry policy); by default a plain ``ExecutionProxy`` on the
    validation store's event store, recording through ``recorder`` (default: the
    process-wide spool recorder of that store).

    ``via`` (``auto``/``backend``/``sampler``, or a mapping from backend name to one of
    those, ``auto`` for names it lacks) and ``jobs`` (``per_suite``/``per_circuit``):
    see the module doc. ``sampler_factory(backend)`` builds the SamplerV2 of the
    sampler path (default: the provider adapter's ``sampler_for``); the runner
    records it with ``instrument_sampler``.
    """

    def __init__(
        self,
        vstore: ValidationStore | Store | str,
        suite: SuiteLike = None,
        *,
        clock: Clock | None = None,
        drift_config: DriftConfig | None = None,
        divergence_config: DivergenceConfig | None = None,
        proxy_factory: ProxyFactory | None = None,
        project: str = VALIDATION_PROJECT,
        recorder: Recorder | None = None,
        via: str | Mapping[str, str] = "auto",
        jobs: str = "per_suite",
        sampler_factory: SamplerFactory | None = None,
    ) -> None:
        for value in [via] if isinstance(via, str) else via.values():
            if value not in VIA_CHOICES:
                raise ValueError(f"validation via={value!r}: expected one of {VIA_CHOICES}")
        if jobs not in JOBS_CHOICES:
            raise ValueError(f"validation jobs={jobs!r}: expected one of {JOBS_CHOICES}")
        self.via = via
        self.jobs = jobs
        self._sampler_factory = sampler_factory
        self.vstore = vstore if isinstance(vstore, ValidationStore) else ValidationStore(vstore)
        self.clock = clock or SystemClock()
        self.drift_config = drift_config
        self.divergence_config = divergence_config or DivergenceConfig()
        self.project = project
        self._proxy_factory = proxy_factory
        self._recorder = recorder
        self._suite_spec = suite
        self._suites: dict[tuple[str, int], list[ReferenceCircuit]] = {}
        self._proxies: dict[tuple[int, str], BackendV2] = {}
        self._samplers: dict[tuple[int, str], Any] = {}
        # backend -> (updated_at, state dict, detector): skips re-parsing the detector
        # state when nobody else wrote it since our last run.
        self._cache: dict[str, tuple[datetime, dict[str, Any], DriftDetector]] = {}

    # ------------------------------------------------------------ setup
    def suite_for(self, backend: BackendV2) -> list[ReferenceCircuit]:
        spec = self._suite_spec
        if spec is not None and not isinstance(spec, SuiteConfig | Mapping):
            return list(spec)
        key = (backend.name, int(backend.num_qubits))
        if key not in self._suites:
            self._suites[key] = build_suite(spec or SuiteConfig(), backend.num_qubits)
        return self._suites[key]

    def via_for(self, backend: BackendV2) -> str:
        """``backend`` or ``sampler``: how the suite runs on ``backend`` (module doc)."""
        via = self.via if isinstance(self.via, str) else self.via.get(backend.name, "auto")
        if via != "auto":
            return via
        try:
            supported = adapter_for(backend).supports_backend_run(backend)
        except Exception as exc:  # noqa: BLE001 - an adapter must not stop validation
            log.warning("provider adapter of %s failed (%s); using backend.run", backend.name, exc)
            supported = True
        return "backend" if supported else "sampler"

    def _sampler(self, backend: BackendV2, tags: dict[str, str]) -> Any:
        key = (id(backend), ",".join(f"{k}={v}" for k, v in sorted(tags.items())))
        cached = self._samplers.get(key)
        if cached is not None and cached[0] is backend:
            return cached[1]
        inner = (
            self._sampler_factory(backend)
            if self._sampler_factory is not None
            else adapter_for(backend).sampler_for(backend)
        )
        options: dict[str, Any] = {"backend_name": backend.name}
        sampler_options = getattr(self._proxy_factory, "sampler_options", None)
        if sampler_options is not None:
            options.update(sampler_options(backend))
        sampler = instrument_sampler(
            inner,
            store=self.vstore.store,
            project=self.project,
            tags=tags,
            clock=self.clock,
            recorder=self._recorder,
            **options,
        )
        self._samplers[key] = (backend, sampler)
        return sampler

    def _job_groups(
        self, backend: BackendV2, suite: Sequence[ReferenceCircuit], via: str
    ) -> list[list[ReferenceCircuit]]:
        if self.jobs == "per_circuit":
            return [[ref] for ref in suite]
        if via == "sampler":
            return [list(suite)] if suite else []  # pubs carry their own shots
        by_shots: dict[int, list[ReferenceCircuit]] = {}
        for ref in suite:
            by_shots.setdefault(ref.shots, []).append(ref)  # backend.run takes one shots value
        limit = getattr(backend, "max_circuits", None)
        size = limit if isinstance(limit, int) and limit > 0 else len(suite) or 1
        return [
            group[i : i + size] for group in by_shots.values() for i in range(0, len(group), size)
        ]

    def _execute(
        self, backend: BackendV2, suite: Sequence[ReferenceCircuit]
    ) -> tuple[dict[str, dict[str, int]], dict[str, str | None], dict[str, dict[str, Any]]]:
        """Run the suite on the backend itself (never on a simulation of ours): counts,
        qsre job ids and errors per circuit name."""
        via = self.via_for(backend)
        counts: dict[str, dict[str, int]] = {}
        job_ids: dict[str, str | None] = {}
        errors: dict[str, dict[str, Any]] = {}
        runnable = []
        for ref in suite:
            try:
                transpile_reference(ref, backend)
            except Exception as exc:  # noqa: BLE001 - e.g. a layout the coupling map splits
                job_ids[ref.name] = None
                errors[ref.name] = {
                    "error_class": classify_exception(exc),
                    "error": f"{type(exc).__name__}: {exc}"[:1000],
                    "stage": "compile",
                    "via": via,
                }
                continue
            runnable.append(ref)
        for group in self._job_groups(backend, runnable, via):
            names = [ref.name for ref in group]
            tags = (
                {"purpose": "validation", "circuit": names[0]}
                if self.jobs == "per_circuit"
                else {"purpose": "validation", "circuits": ",".join(names)}
            )
            # Cached by transpile_reference: the circuits compiled above.
            compiled = [transpile_reference(ref, backend) for ref in group]
            job = None
            try:
                if via == "sampler":
                    job = self._sampler(backend, tags).run(
                        [(c, None, ref.shots) for c, ref in zip(compiled, group, strict=True)]
                    )
                    result = job.result()
                    raw = [pub_counts(result[i])[0] for i in range(len(group))]
                else:
                    run_input = compiled if self.jobs == "per_suite" else compiled[0]
                    job = self._proxy(backend, tags).run(run_input, shots=group[0].shots)
                    result = job.result()
                    raw = [result.get_counts(i) for i in range(len(group))]
                for ref, got in zip(group, raw, strict=True):
                    counts[ref.name] = {str(k).replace(" ", ""): int(v) for k, v in got.items()}
                    job_ids[ref.name] = getattr(job, "qsre_job_id", None)
            except Exception as exc:  # noqa: BLE001 - a failed job is an error row per circuit
                error = {
                    "error_class": classify_exception(exc),
                    "error": f"{type(exc).__name__}: {exc}"[:1000],
                    "stage": "submit" if job is None else "result",
                    "via": via,
                }
                for ref in group:
                    counts.pop(ref.name, None)
                    job_ids[ref.name] = getattr(job, "qsre_job_id", None)
                    errors[ref.name] = dict(error)
        return counts, job_ids, errors

    def _proxy(self, backend: BackendV2, tags: dict[str, str]) -> BackendV2:
        key = (id(backend), ",".join(f"{k}={v}" for k, v in sorted(tags.items())))
        proxy = self._proxies.get(key)
        if proxy is None or getattr(proxy, "wrapped", backend) is not backend:
            if self._proxy_factory is not None:
                proxy = self._proxy_factory(backend, tags)
            else:
                proxy = ExecutionProxy(
                    backend,
                    store=self.vstore.store,
                    project=self.project,
                    tags=tags,
                    clock=self.clock,
                    recorder=self._recorder,
                )
            self._proxies[key] = proxy
        return proxy

    # ------------------------------------------------------------ state
    def _load(self, backend: str) -> tuple[dict[str, Any], DriftDetector]:
        record = self.vstore.load_state(backend)
        cached = self._cache.get(backend)
        if record is not None and cached is not None and cached[0] == record.updated_at:
            return cached[1], cached[2]
        state: dict[str, Any] = {}
        detector: DriftDetector | None = None
        if record is not None and record.detector_state.get("version") == RUNNER_STATE_VERSION:
            state = dict(record.detector_state)
            try:
                detector = DriftDetector.from_dict(state["drift"])
            except (DetectorStateError, KeyError) as exc:
                log.warning("validation state of %s unreadable (%s); relearning", backend, exc)
                state, detector = {}, None
        config = self.drift_config
        if detector is not None and config is not None and detector.config != config:
            log.info("drift config of %s changed; learning a new baseline", backend)
            state, detector = {}, None
        if detector is None:
            detector = DriftDetector(self.drift_config)
        return state, detector

    # ------------------------------------------------------------ run
    def run(self, backend: BackendV2) -> ValidationReport:
        """One suite run on ``backend``; never raises for job failures (error rows)."""
        name = backend.name
        ran_at = self.clock.now()
        run_id = str(uuid.uuid4())
        suite = self.suite_for(backend)
        cal_at = calibration_timestamp(backend)
        calibrated = has_calibration(backend)
        versions = version_context(backend)

        predictions: dict[str, dict[str, float] | None] = {}
        fingerprint = calibration_fingerprint(backend) if calibrated else ""
        for ref in suite:
            if calibrated:
                try:
                    predictions[ref.name] = predicted_distribution(
                        ref, backend, cal_at, fingerprint
                    )
                except Exception as exc:  # noqa: BLE001 - no prediction: not evaluated
                    log.warning("prediction of %s on %s failed: %s", ref.name, name, exc)
                    predictions[ref.name] = None
            else:
                predictions[ref.name] = None
        counts, job_ids, errors = self._execute(backend, suite)

        state, detector = self._load(name)
        run_index = int(state.get("run_index", 0)) + 1
        cal_iso = cal_at.isoformat() if cal_at else None

        # Baseline epoch: see the module doc.
        epoch = state.get("epoch", cal_iso) if state else cal_iso
        reported_change: dict[str, float] = {}
        previous_cal = state.get("calibration_at") if state else None
        previous_pred = state.get("predicted") or {}
        if state and cal_iso != previous_cal:
            for circuit, new in predictions.items():
                old = previous_pred.get(circuit)
                if old and new:
                    reported_change[circuit] = total_variation_distance(old, new)
            if detector.drifted_circuits:
                epoch = cal_iso

        drift_result: DriftResult | None = None
        if counts:
            drift_result = detector.update(counts, calibration_id=epoch)
        divergence = check_divergence(
            counts, {c: predictions.get(c) for c in counts}, self.divergence_config
        )

        # Version change and the onsets it may explain.
        vc_now = version_change(state.get("versions"), versions) if state else VersionChange()
        if vc_now.changed:
            state["version_change"] = {"run_index": run_index, "changes": vc_now.to_dict()}
        div_since = state.get("divergence_since_run")
        if divergence.verdict == Verdict.DIVERGED:
            div_since = div_since or run_index
        elif counts and divergence.verdict != Verdict.NOT_EVALUATED:
            div_since = None
        onsets = [div_since] if div_since else []
        if drift_result is not None and drift_result.drift_since_run is not None:
            # drift_since_run counts detector updates; map it onto suite runs.
            onsets.append(run_index - (detector.run_index - drift_result.drift_since_run))
        coincident = VersionChange()
        stored_vc = state.get("version_change")
        if stored_vc and any(
            abs(o - stored_vc["run_index"]) <= VERSION_COINCIDENCE_RUNS for o in onsets
        ):
            coincident = VersionChange(
                tuple(
                    (c["key"], c["previous"], c["current"]) for c in stored_vc["changes"]["changes"]
                )
            )
        findings = (*(drift_result.evidence() if drift_result else ()), *divergence.evidence())
        verdict = combine(name, findings, coincident)
        cause = verdict.likely_cause
        if coincident.changed and cause:
            cause = f"firmware/compiler regression ({coincident.describe()})"

        mitigation = self._mitigate(backend, suite, counts)
        rows = self._rows(
            suite=suite,
            backend=name,
            run_id=run_id,
            ran_at=ran_at,
            cal_at=cal_at,
            counts=counts,
            predictions=predictions,
            errors=errors,
            job_ids=job_ids,
            drift_result=drift_result,
            divergence=divergence,
            reported_change=reported_change,
            cause=cause,
            versions=versions,
            mitigation=mitigation,
        )
        new_state = {
            "version": RUNNER_STATE_VERSION,
            "drift": detector.to_dict(),
            "run_index": run_index,
            "epoch": epoch,
            "calibration_at": cal_iso,
            "predicted": {c: p for c, p in predictions.items() if p is not None},
            "versions": versions,
            "version_change": state.get("version_change"),
            "divergence_since_run": div_since,
        }
        updated_at = ran_at
        cached = self._cache.get(name)
        if cached is not None and cached[0] >= updated_at:
            # Two runs in one clock tick (virtual time): keep updated_at strictly rising
            # so the cache check above can tell our write from someone else's.
            updated_at = cached[0] + timedelta(microseconds=1)
        self.vstore.record_run(
            rows,
            DetectorStateRecord(
                backend=name,
                detector_state=new_state,
                updated_at=updated_at,
                baseline_calibration_at=datetime.fromisoformat(epoch) if epoch else None,
            ),
        )
        self._cache[name] = (updated_at, new_state, detector)
        evaluated = [r.verdict for r in rows if r.verdict != "error"]
        overall = worst(Verdict(v) for v in evaluated).value if evaluated else "error"
        return ValidationReport(
            backend=name,
            run_id=run_id,
            ran_at=ran_at,
            verdict=overall,
            rows=tuple(rows),
            calibration_at=cal_at,
            likely_cause=cause,
            versions=versions,
            backend_verdict=verdict,
        )

    def _rows(
        self,
        *,
        suite: Sequence[ReferenceCircuit],
        backend: str,
        run_id: str,
        ran_at: datetime,
        cal_at: datetime | None,
        counts: Mapping[str, Mapping[str, int]],
        predictions: Mapping[str, Mapping[str, float] | None],
        errors: Mapping[str, Mapping[str, Any]],
        job_ids: Mapping[str, str | None],
        drift_result: DriftResult | None,
        divergence: DivergenceResult,
        reported_change: Mapping[str, float],
        cause: str,
        versions: dict[str, Any],
        mitigation: Mapping[str, MitigationResult],
    ) -> list[ValidationRunRecord]:
        drift_by = {c.circuit: c for c in (drift_result.circuits if drift_result else ())}
        div_by = {c.circuit: c for c in divergence.circuits}
        rows = []
        for ref in suite:
            common = {
                "run_id": run_id,
                "backend": backend,
                "circuit": ref.name,
                "family": ref.family,
                "ran_at": ran_at,
                "shots": ref.shots,
                "job_id": job_ids.get(ref.name),
                "calibration_at": cal_at,
                "versions": versions,
            }
            if ref.name in errors:
                rows.append(
                    ValidationRunRecord(**common, verdict="error", evidence=dict(errors[ref.name]))
                )
                continue
            measured = counts[ref.name]
            d = drift_by.get(ref.name)
            g = div_by[ref.name]
            drift_v = d.verdict if d is not None else Verdict.NOT_EVALUATED
            evaluated_div = g.verdict != Verdict.NOT_EVALUATED
            evidence: dict[str, Any] = {
                "drift": d.to_dict() if d is not None else None,
                "divergence": g.to_dict(),
                "prediction": "backend calibration" if predictions.get(ref.name) else None,
            }
            if drift_result is not None:
                evidence["drift_backend"] = {
                    "status": drift_result.status,
                    "verdict": drift_result.verdict.value,
                    "cusum": drift_result.cusum,
                    "threshold": drift_result.threshold,
                    "drift_since_run": drift_result.drift_since_run,
                }
            if ref.name in reported_change:
                evidence["reported_change_tvd"] = reported_change[ref.name]
            mitigated = mitigation.get(ref.name)
            if mitigated is not None:
                evidence["readout_mitigation"] = {
                    "method": "mthree",
                    "qubits": list(mitigated.qubits),
                    "calibration": list(mitigated.sources),
                }
            row_verdict = _row_verdict(drift_v, g.verdict)
            if cause and row_verdict in ("drift", "diverged"):
                evidence["likely_cause"] = cause
            rows.append(
                ValidationRunRecord(
                    **common,
                    verdict=row_verdict,
                    fidelity=hellinger_fidelity(measured, ref.ideal_probabilities),
                    tvd_ideal=total_variation_distance(measured, ref.ideal_probabilities),
                    fidelity_mitigated=mitigated.fidelity_mitigated if mitigated else None,
                    divergence_tvd=g.tvd if evaluated_div else None,
                    divergence_p=g.p_value if evaluated_div else None,
                    drift_statistic=d.cusum if d is not None and d.z is not None else None,
                    drift_threshold=d.threshold if d is not None else None,
                    drift=drift_v == Verdict.DRIFT,
                    diverged=(g.verdict == Verdict.DIVERGED) if evaluated_div else None,
                    evidence=evidence,
                )
            )
        return rows

    def _mitigate(
        self,
        backend: BackendV2,
        suite: Sequence[ReferenceCircuit],
        counts: Mapping[str, Mapping[str, int]],
    ) -> dict[str, MitigationResult]:
        """Readout-mitigated fidelity of each measured circuit (validators.mitigation),
        from the backend's reported readout calibration: no extra jobs. Empty when the
        backend reports none. Never raises: a failure leaves the column null."""
        measured: dict[str, tuple[int, ...]] = {}
        for ref in suite:
            if ref.name in counts:
                try:
                    measured[ref.name] = measured_qubits(transpile_reference(ref, backend))
                except Exception as exc:  # noqa: BLE001 - see the docstring
                    log.warning("measured qubits of %s unknown: %s", ref.name, exc)
        try:
            # Only the qubits the suite measured: reading a 127-qubit device's whole
            # calibration every run would cost more than mitigating.
            wanted = {q for qubits in measured.values() for q in qubits}
            calibration = readout_calibration(backend, wanted) if wanted else None
        except Exception as exc:  # noqa: BLE001 - mitigation is extra evidence, not the run
            log.warning("readout calibration of %s unreadable: %s", backend.name, exc)
            return {}
        if calibration is None:
            return {}
        out: dict[str, MitigationResult] = {}
        for ref in suite:
            qubits = measured.get(ref.name)
            if qubits is None or not calibration.covers(qubits):
                continue
            try:
                out[ref.name] = mitigate(
                    counts[ref.name], qubits, calibration, ref.ideal_probabilities
                )
            except Exception as exc:  # noqa: BLE001 - see the docstring
                log.warning(
                    "readout mitigation of %s on %s failed: %s", ref.name, backend.name, exc
                )
        return out


def run_validation(
    backend: BackendV2,
    *,
    store: ValidationStore | Store | str,
    suite: SuiteLike = None,
    clock: Clock | None = None,
    drift_config: DriftConfig | None = None,
    divergence_config: DivergenceConfig | None = None,
    proxy_factory: ProxyFactory | None = None,
    recorder: Recorder | None = None,
    via: str | Mapping[str, str] = "auto",
    jobs: str = "per_suite",
    sampler_factory: SamplerFactory | None = None,
) -> ValidationReport:
    """One-shot suite run (``qsre validate``); for repeated runs keep a
    :class:`ValidationRunner`, which caches proxies, suites and detector state."""
    runner = ValidationRunner(
        store,
        suite,
        clock=clock,
        drift_config=drift_config,
        divergence_config=divergence_config,
        proxy_factory=proxy_factory,
        recorder=recorder,
        via=via,
        jobs=jobs,
        sampler_factory=sampler_factory,
    )
    return runner.run(backend)


__all__ = [
    "VALIDATION_PROJECT",
    "ValidationReport",
    "ValidationRunner",
    "run_validation",
    "version_context",
]
