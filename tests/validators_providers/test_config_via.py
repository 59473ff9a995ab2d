"""``validation.via`` / ``validation.jobs`` in qsre.yaml, and the default config's IBM
example, uncommented as a user would, working as written (offline: the runtime
service is replaced by one that hands out the offline IBMBackend)."""

from __future__ import annotations

import json
import warnings

import pytest
import qiskit_ibm_runtime
import yaml
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from typer.testing import CliRunner

from collector.clock import SystemClock
from qsre.cli import app
from qsre.config import EMBEDDED_DEFAULT, load_factory, parse_config
from qsre.errors import ConfigError
from qsre.factories import ibm_runtime_backend

from .ibm_offline import offline_ibm_backend


def uncommented_ibm_example() -> str:
    """The embedded default config with its commented IBM backend entry enabled."""
    lines = EMBEDDED_DEFAULT.read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("  # - name: ibm_"))
    lines[i] = "  " + lines[i][len("  # ") :]
    i += 1
    while lines[i].startswith("  #   "):
        lines[i] = "  " + lines[i][len("  # ") :]
        i += 1
    return "\n".join(lines) + "\n"


class StubRuntimeService:
    """Stands in for ``QiskitRuntimeService``: records how it was built and hands out
    an offline IBMBackend (a real one: its run() raises, its SamplerV2 works)."""

    made: list[dict] = []

    def __init__(self, **kwargs) -> None:
        StubRuntimeService.made.append(kwargs)

    def backend(self, name: str):
        backend, _, _ = offline_ibm_backend(FakeManilaV2())
        backend.name = name  # the device the config asked for
        return backend


@pytest.fixture
def runtime_service(monkeypatch):
    StubRuntimeService.made = []
    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", StubRuntimeService)
    return StubRuntimeService


def test_defaults_and_per_backend_override():
    cfg = parse_config(yaml.safe_load(EMBEDDED_DEFAULT.read_text()), "default")
    assert (cfg.file.validation.via, cfg.file.validation.jobs) == ("auto", "per_suite")
    assert all(b.validation.via == "auto" for b in cfg.backends)

    ibm = parse_config(yaml.safe_load(uncommented_ibm_example()), "example").backend("ibm_brisbane")
    assert ibm.kind == "factory"
    assert load_factory(ibm.section.factory) is ibm_runtime_backend
    assert (ibm.validation.via, ibm.validation.jobs) == ("sampler", "per_suite")
    assert ibm.validation.schedule.interval_minutes == 360
    # Keys the backend does not set come from the top-level section, thresholds included.
    assert ibm.validation.divergence == cfg.file.validation.divergence
    assert ibm.validation.shots == cfg.file.validation.shots


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"via": "primitive"}, "validation.via"),
        ({"jobs": "batched"}, "validation.jobs"),
    ],
)
def test_bad_values_name_the_field(section, field):
    with pytest.raises(ConfigError) as err:
        parse_config({"validation": section}, "qsre.yaml")
    assert err.value.field == field


def test_ibm_example_validates_through_the_sampler(runtime_service, monkeypatch, tmp_path):
    monkeypatch.setenv("QISKIT_IBM_TOKEN", "offline-token")
    config = tmp_path / "qsre.yaml"
    config.write_text(uncommented_ibm_example())
    spec = parse_config(yaml.safe_load(config.read_text()), str(config)).backend("ibm_brisbane")
    backend = spec.build(SystemClock())
    assert runtime_service.made == [{"token": "offline-token"}]  # by reference, from the env
    assert backend.name == "ibm_brisbane"

    db = f"sqlite:///{tmp_path / 'qsre.db'}"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        result = CliRunner().invoke(
            app,
            [
                "validate",
                "--backend",
                "ibm_brisbane",
                "--config",
                str(config),
                "--db",
                db,
                "--json",
            ],
        )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["backend"] == "ibm_brisbane"
    assert [c["circuit"] for c in report["circuits"]] == spec.validation.circuits
    assert all(c["verdict"] != "error" for c in report["circuits"]), report
    assert report["diverged"] is False
    assert len({c["job_id"] for c in report["circuits"]}) == 1


def test_missing_token_env_is_a_config_error(runtime_service, monkeypatch):
    monkeypatch.delenv("QISKIT_IBM_TOKEN", raising=False)
    with pytest.raises(ConfigError) as err:
        ibm_runtime_backend("ibm_brisbane", token_env="QISKIT_IBM_TOKEN")
    assert err.value.field == "options.token_env"
    assert runtime_service.made == []
