"""push_dashboards against a real HTTP server on 127.0.0.1 standing in for Grafana."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dashboards import PushError, push_dashboards

TOKEN = "glsa_secret_token_value_123"


class FakeGrafana:
    """Records requests; answers from a scripted list of statuses (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict, dict]] = []
        self.lock = threading.Lock()

    def handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    fake.requests.append(
                        {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                    )
                    status, payload, headers = (
                        fake.script.pop(0) if fake.script else (200, None, {})
                    )
                if payload is None:
                    uid = body["dashboard"]["uid"]
                    payload = {"status": "success", "uid": uid, "url": f"/d/{uid}", "version": 3}
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        return Handler


@pytest.fixture
def grafana() -> Iterator[tuple[FakeGrafana, str]]:
    fake = FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pushes_every_dashboard_with_bearer_token_and_folder(grafana, dashboards):
    fake, url = grafana
    results = push_dashboards(dashboards, url + "/", TOKEN, folder_uid="qsre-folder")
    assert [r.uid for r in results] == [d["uid"] for d in dashboards.values()]
    assert all(r.status == "success" and r.version == 3 for r in results)
    assert len(fake.requests) == len(dashboards)
    for req, (name, dash) in zip(fake.requests, dashboards.items(), strict=True):
        assert req["path"] == "/api/dashboards/db"
        assert req["auth"] == f"Bearer {TOKEN}"
        assert req["body"]["folderUid"] == "qsre-folder"
        assert req["body"]["overwrite"] is True
        assert req["body"]["dashboard"]["uid"] == dash["uid"], name
        assert req["body"]["dashboard"]["panels"] == dash["panels"]


def test_retries_5xx_and_429_then_succeeds(grafana, dashboards):
    fake, url = grafana
    fake.script = [
        (503, {"message": "down"}, {}),
        (429, {"message": "slow down"}, {"Retry-After": "2"}),
    ]
    sleeps: list[float] = []
    one = {"oncall.json": dashboards["oncall.json"]}
    results = push_dashboards(one, url, TOKEN, sleep=sleeps.append, backoff_s=0.25)
    assert [r.uid for r in results] == ["qsre-oncall"]
    assert len(fake.requests) == 3
    assert sleeps == [0.25, 2.0]  # back-off, then the server's Retry-After
    assert "folderUid" not in fake.requests[0]["body"]


def test_gives_up_after_max_attempts(grafana, dashboards):
    fake, url = grafana
    fake.script = [(502, {"message": "bad gateway"}, {})] * 5
    one = {"debug.json": dashboards["debug.json"]}
    with pytest.raises(PushError, match=r"qsre-debug.*HTTP 502"):
        push_dashboards(one, url, TOKEN, max_attempts=3, sleep=lambda s: None)
    assert len(fake.requests) == 3


def test_4xx_fails_at_once_naming_the_dashboard_and_never_leaks_the_token(
    grafana, dashboards, caplog
):
    fake, url = grafana
    fake.script = [(200, None, {}), (412, {"message": "version-mismatch"}, {})]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PushError) as err:
        push_dashboards(dashboards, url, TOKEN, overwrite=False, sleep=lambda s: None)
    assert err.value.dashboard_uid == "qsre-oncall"
    assert err.value.status == 412
    assert "version-mismatch" in str(err.value) and "oncall.json" in str(err.value)
    assert len(fake.requests) == 2  # no retry on 4xx, nothing pushed after the failure
    assert fake.requests[1]["body"]["overwrite"] is False
    assert TOKEN not in str(err.value)
    assert TOKEN not in caplog.text


def test_unreachable_server_fails_after_retries(dashboards):
    with pytest.raises(PushError, match="no HTTP response"):
        # port 9 on loopback: nothing listens, connection refused at once
        push_dashboards(
            {"debug.json": dashboards["debug.json"]},
            "http://127.0.0.1:9",
            TOKEN,
            max_attempts=2,
            sleep=lambda s: None,
        )


def test_401_names_the_token_problem(grafana, dashboards):
    fake, url = grafana
    fake.script = [(401, {"message": "invalid API key"}, {})]
    with pytest.raises(PushError, match="check the token"):
        push_dashboards({"debug.json": dashboards["debug.json"]}, url, TOKEN)


def test_cli_push_takes_grafana_and_token_from_the_config(grafana, tmp_path, monkeypatch):
    """`qsre dashboards push -c qsre.yaml` with no options: dashboards.grafana_url,
    token_env and folder_uid come from the config."""
    import yaml
    from typer.testing import CliRunner

    from qsre.cli import app
    from qsre.config import EMBEDDED_DEFAULT

    fake, url = grafana
    data = yaml.safe_load(EMBEDDED_DEFAULT.read_text())
    data["dashboards"].update(grafana_url=url, token_env="QSRE_TEST_GRAFANA", folder_uid="ops")
    cfg = tmp_path / "qsre.yaml"
    cfg.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("QSRE_TEST_GRAFANA", TOKEN)
    result = CliRunner().invoke(app, ["dashboards", "push", "-c", str(cfg)])
    assert result.exit_code == 0, result.output
    assert fake.requests and {r["auth"] for r in fake.requests} == {f"Bearer {TOKEN}"}
    assert {r["body"]["folderUid"] for r in fake.requests} == {"ops"}
    assert result.output.count("pushed") == len(fake.requests)
