from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_http import FakeHttp, start_fake_http

SLACK_TOKEN = "xoxb-SECRET-slack-token-4242"
PD_KEY = "R0UT1NGKEYSECRET0000000000000042"


@pytest.fixture
def fake_http() -> Iterator[FakeHttp]:
    fake = start_fake_http()
    yield fake
    fake.close()


@pytest.fixture
def secret_env(monkeypatch) -> dict[str, str]:
    env = {"QSRE_SLACK_TOKEN": SLACK_TOKEN, "QSRE_PD_ROUTING_KEY": PD_KEY}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env
