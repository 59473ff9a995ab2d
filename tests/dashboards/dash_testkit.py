from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dashboards import build_dashboards

DATA = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class FakeSLO:
    """Stands in for slo.spec's model: only the four attributes dashboards rely on."""

    name: str
    objective: float
    description: str
    policy: str


SLOS = (
    FakeSLO("job-success", 0.999, "Jobs reach status done.", "sre-workbook"),
    FakeSLO("queue-latency", 0.99, "Jobs start within 10 minutes.", "sre-workbook-28d"),
)


def load_catalogue() -> set[str]:
    names: set[str] = set()
    for line in (DATA / "metric_catalogue.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, kind = line.split()
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


@pytest.fixture(scope="session")
def catalogue() -> set[str]:
    return load_catalogue()


@pytest.fixture(scope="session")
def schema_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((DATA / "grafana" / "dashboard.jsonschema.json").read_text())
    return jsonschema.Draft7Validator(schema)


@pytest.fixture(scope="session")
def dashboards() -> dict[str, dict[str, Any]]:
    return build_dashboards(SLOS, datasource_uid="prom-main")


def all_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def titles(dashboard: dict[str, Any]) -> set[str]:
    return {p.get("title", "") for p in all_panels(dashboard)}
