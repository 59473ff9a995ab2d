from __future__ import annotations

# The recording HTTP server and the secrets of tests/alerts, shared (tests/ is on
# sys.path under pytest's default import mode, so tests/alerts imports as `alerts`).
from alerts.conftest import PD_KEY, SLACK_TOKEN, fake_http, secret_env

__all__ = ["PD_KEY", "SLACK_TOKEN", "fake_http", "secret_env"]
