"""qsre.yaml's names, paths and prices mean the same thing whatever the working
directory and whatever the backend kind; doctor catches what run/validate would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from qiskit import QuantumCircuit, transpile

from collector.clock import SystemClock
from collector.recorder import spool_recorder
from collector.store import Store
from qsre.config import EMBEDDED_DEFAULT, load_config, parse_config
from qsre.doctor import run_checks
from qsre.errors import ConfigError
from qsre.wiring import backend_proxy, validate_backend
from validators.runner import VALIDATION_PROJECT

QSRE = [sys.executable, "-m", "qsre.cli"]


def _qsre(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*QSRE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def _write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def _aer_project(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "proj" / "qsre.yaml",
        {
            "store": {"url": "sqlite:///qsre.db"},
            "backends": [
                {"name": "local-aer", "kind": "aer", "options": {"generic_noise_qubits": 3}}
            ],
            "reports": {"weekly": {"out_dir": "weekly"}},
        },
    )


def _bell() -> QuantumCircuit:
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure_all()
    return qc


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    cfg_path = _aer_project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(Path("..") / "proj" / "qsre.yaml")
    proj = (tmp_path / "proj").resolve()
    assert Store(cfg.store_url).url.endswith(str(proj / "qsre.db"))
    assert Path(cfg.file.reports.weekly.out_dir) == proj / "weekly"
    assert not (elsewhere / "qsre.db").exists()
    assert cfg_path.exists()


def test_embedded_default_keeps_paths_relative_to_the_working_directory():
    # `qsre demo` and file-less commands: the store is ./qsre.db of where you stand.
    assert load_config(EMBEDDED_DEFAULT).store_url == "sqlite:///qsre.db"


def test_jobs_from_parent_folder_sees_the_store_and_the_config_backend_name(tmp_path):
    cfg_path = _aer_project(tmp_path)
    cfg = load_config(cfg_path)
    spec = cfg.backend("local-aer")
    store = Store(cfg.store_url)
    clock = SystemClock()
    backend = spec.build(clock)
    proxy = backend_proxy(spec, backend, store=store, clock=clock, project="p")
    proxy.run(transpile(_bell(), backend), shots=100).result()
    assert spool_recorder(store).flush()
    assert (tmp_path / "proj" / "qsre.db").exists()

    done = _qsre("jobs", "-c", "proj/qsre.yaml", "--backend", "local-aer", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == 1
    assert rows[0]["backend"] == "local-aer"
    assert not (tmp_path / "qsre.db").exists()


def test_aer_backend_is_named_by_the_config():
    spec = load_config(EMBEDDED_DEFAULT).backend("local-aer")
    assert spec.build(SystemClock()).name == "local-aer"


def test_validation_jobs_are_priced_with_their_backends_pricing(tmp_path):
    cfg = load_config(EMBEDDED_DEFAULT)
    spec = cfg.backend("sim-stable")
    assert spec.pricing is not None
    store = Store(f"sqlite:///{tmp_path / 'q.db'}")
    report = validate_backend(spec, store=store, clock=SystemClock())
    assert report.backend == "sim-stable"
    assert spool_recorder(store).flush()
    jobs = store.jobs(project=VALIDATION_PROJECT)
    assert jobs
    assert {j.backend for j in jobs} == {"sim-stable"}
    # per_job 0.30 + per_shot 0.00035 x shots: at least the per-job fee on every job.
    assert all(j.cost_usd >= 0.30 for j in jobs)


def test_validation_through_a_sampler_is_priced_the_same(tmp_path):
    """IBM hardware validates through SamplerV2: those jobs cost money too, at the
    config's prices and under the config's name."""
    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    cost = {}
    for via in ("backend", "sampler"):
        data["backends"][0]["validation"] = {"via": via, "jobs": "per_suite"}
        spec = parse_config(data, "qsre.yaml").backend("sim-stable")
        store = Store(f"sqlite:///{tmp_path / f'{via}.db'}")
        validate_backend(spec, store=store, clock=SystemClock())
        assert spool_recorder(store).flush()
        jobs = store.jobs(project=VALIDATION_PROJECT)
        assert {j.backend for j in jobs} == {"sim-stable"}
        cost[via] = sum(j.cost_usd for j in jobs)
    # The same circuits and shots at the same prices (per circuit and per shot).
    assert cost["sampler"] == pytest.approx(cost["backend"]) and cost["sampler"] > 1


@pytest.mark.parametrize("text", ["", "# only a comment\n", "{}\n"])
def test_an_empty_config_is_an_error(tmp_path, text):
    path = tmp_path / "qsre.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    assert "empty file" in str(info.value)
    checks = run_checks(path, None)
    assert [c.ok for c in checks] == [False]


def test_doctor_catches_a_bad_circuit_name(tmp_path):
    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    data["validation"]["circuits"] = ["bell", "bel"]
    path = _write(tmp_path / "qsre.yaml", data)
    checks = run_checks(path, None)
    assert not checks[0].ok
    assert "validation.circuits[1]" in checks[0].detail
    assert "'bel'" in checks[0].detail
    assert "'bell'" in checks[0].detail  # what was expected


def test_doctor_catches_a_layout_the_backend_cannot_run(tmp_path):
    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    data["validation"]["layout"] = [0, 9]
    path = _write(tmp_path / "qsre.yaml", data)
    failed = {c.name: c.detail for c in run_checks(path, None) if not c.ok}
    assert "validation sim-stable" in failed
    assert "validation.layout" in failed["validation sim-stable"]


def test_doctor_catches_an_unwritable_spool_dir(tmp_path):
    # A spool dir under a regular file cannot be created, not even by root.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    data["store"] = {"url": f"sqlite:///{tmp_path / 'q.db'}", "spool_dir": str(blocker / "spool")}
    path = _write(tmp_path / "qsre.yaml", data)
    checks = {c.name: c for c in run_checks(path, None)}
    assert not checks["spool dir"].ok
    assert str(blocker / "spool") in checks["spool dir"].detail
    assert "expected a writable directory" in checks["spool dir"].detail
    assert checks["store"].ok


def test_doctor_passes_the_embedded_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    failed = [c for c in run_checks(EMBEDDED_DEFAULT, None) if not c.ok]
    assert failed == []


@pytest.mark.parametrize(
    ("mutate", "field", "expected"),
    [
        (lambda d: d["exporter"].update(colour="blue"), "exporter.colour", "['host', 'port']"),
        (lambda d: d["backends"][0].update(colour="blue"), "backends[0].colour", "'num_qubits'"),
        (lambda d: d["backends"][1].update(kind="qpu"), "backends[1].kind", "'sim', 'aer'"),
        (lambda d: d["backends"][1].pop("name"), "backends[1].name", "a value"),
        (lambda d: d["exporter"].update(port="x"), "exporter.port", "a valid integer"),
        (lambda d: d["slos"][0].update(objective=1.5), "slos[0].objective", "between 0 and 1"),
        (lambda d: d["validation"]["drift"].update(colour=1), "validation.drift", "arl0_runs"),
        (
            lambda d: d["validation"]["divergence"].update(alpha=2),
            "validation.divergence.alpha",
            "(0, 1)",
        ),
        (
            lambda d: d["alerting"]["signals"].update(colour=1),
            "alerting.signals.colour",
            "network_blips",
        ),
    ],
)
def test_messages_are_in_our_words(mutate, field, expected):
    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    mutate(data)
    with pytest.raises(ConfigError) as info:
        parse_config(data, "qsre.yaml")
    message = str(info.value)
    assert info.value.field == field
    assert expected in info.value.expected
    assert message.startswith(f"qsre.yaml: {field}: expected ")
    assert message.count("qsre.yaml") == 1  # the file is named once, not per layer
    for pydantic_words in ("Extra inputs", "Input should", "Field required", "Value error"):
        assert pydantic_words not in message


def test_pricing_errors_name_the_path_once(tmp_path):
    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    data["backends"][0]["pricing"]["per_shot"] = -1
    with pytest.raises(ConfigError) as info:
        parse_config(data, "qsre.yaml")
    message = str(info.value)
    assert message.count("backends[0].pricing") == 1
    assert message.count("qsre.yaml") == 1
    assert info.value.field == "backends[0].pricing.per_shot"


def test_daemon_schedules_record_config_names_at_config_prices(tmp_path, monkeypatch):
    from qsre.daemon import Daemon
    from validators.scheduler import ValidationScheduler

    # Runs are driven by hand below; the background scheduler would race them.
    monkeypatch.setattr(ValidationScheduler, "start", lambda self: None)
    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    data["backends"] = [b for b in data["backends"] if b["name"] in ("sim-stable", "local-aer")]
    data["validation"]["circuits"] = ["bell", "ghz"]
    data["store"] = {"url": "sqlite:///q.db"}
    cfg = load_config(_write(tmp_path / "qsre.yaml", data))
    daemon = Daemon(cfg, schedules=True)
    daemon._start_validation()
    assert daemon.validation is not None
    for name in ("sim-stable", "local-aer"):
        assert daemon.validation.run_backend(name) is not None
    store = Store(cfg.store_url)
    assert spool_recorder(store).flush()
    jobs = store.jobs(project=VALIDATION_PROJECT)
    assert {j.backend for j in jobs} == {"sim-stable", "local-aer"}
    assert all(j.cost_usd >= 0.30 for j in jobs if j.backend == "sim-stable")
    assert all(j.cost_usd == 0 for j in jobs if j.backend == "local-aer")  # no pricing
