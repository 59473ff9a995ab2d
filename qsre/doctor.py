"""`qsre doctor`: is this config usable? Never prints secret values."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from collector.clock import SystemClock


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def run_checks(config_path: Path | None, db: str | None) -> list[Check]:
    from qsre.config import load_config

    checks: list[Check] = []
    try:
        cfg = load_config(config_path)
    except Exception as exc:  # noqa: BLE001 - reported as a failed check
        return [Check("config", False, str(exc))]
    checks.append(
        Check("config", True, f"{cfg.source}: {len(cfg.backends)} backends, {len(cfg.slos)} SLOs")
    )
    url = db or cfg.store_url
    try:
        from collector.store import Store
        from slo.alert_state import AlertStateStore

        store = Store(url)
        AlertStateStore(store)
        checks.append(Check("store", True, f"{store!r} reachable and migrated"))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("store", False, f"{url}: {exc}"))
    for r in cfg.file.alerting.receivers:
        for attr in ("token_env", "routing_key_env", "bearer_token_env"):
            var = getattr(r, attr)
            if var:
                present = bool(os.environ.get(var))
                checks.append(
                    Check(
                        f"receiver {r.name}",
                        present,
                        f"${var} is {'set' if present else 'NOT set'}",
                    )
                )
    weekly_slack = cfg.file.reports.weekly.slack
    if weekly_slack is not None:
        present = bool(os.environ.get(weekly_slack.token_env))
        checks.append(
            Check(
                "weekly report slack",
                present,
                f"${weekly_slack.token_env} is {'set' if present else 'NOT set'}",
            )
        )
    clock = SystemClock()
    for spec in cfg.backends:
        try:
            backend = spec.build(clock)
            checks.append(
                Check(
                    f"backend {spec.name}",
                    True,
                    f"{type(backend).__name__}, {backend.num_qubits} qubits",
                )
            )
        except Exception as exc:  # noqa: BLE001
            checks.append(Check(f"backend {spec.name}", False, str(exc)))
    return checks
