"""post_report_to_slack against a real HTTP server on 127.0.0.1 speaking the Slack API:
files.getUploadURLExternal -> upload to the returned URL -> files.completeUploadExternal,
then chat.postMessage with the Markdown summary."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from slo.report import ReportError, ReportPaths, post_report_to_slack

TOKEN = "xoxb-test-secret-token"


class FakeSlack:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_post_with: str | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlparse(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype and raw:
                    params.update(json.loads(raw))
                elif "x-www-form-urlencoded" in ctype:
                    params.update({k: v[0] for k, v in parse_qs(raw.decode()).items()})
                fake.requests.append(
                    {
                        "path": url.path,
                        "params": params,
                        "raw": raw,
                        "auth": self.headers.get("Authorization"),
                    }
                )
                if url.path == "/api/files.getUploadURLExternal":
                    body = {
                        "ok": True,
                        "file_id": "F0001",
                        "upload_url": f"{fake.url}/upload/F0001",
                    }
                elif url.path.startswith("/upload/"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"OK - uploaded")
                    return
                elif url.path == "/api/files.completeUploadExternal":
                    files = params["files"]
                    files = json.loads(files) if isinstance(files, str) else files
                    body = {
                        "ok": True,
                        "files": [{"id": f["id"], "title": f["title"]} for f in files],
                    }
                elif url.path == "/api/chat.postMessage":
                    body = (
                        {"ok": False, "error": fake.fail_post_with}
                        if fake.fail_post_with
                        else {
                            "ok": True,
                            "channel": params.get("channel"),
                            "ts": "1700000000.000100",
                        }
                    )
                else:
                    body = {"ok": False, "error": "unknown_method"}
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def report_paths(tmp_path) -> ReportPaths:
    paths = ReportPaths(tmp_path / "report.html", tmp_path / "report.md", tmp_path / "report.json")
    paths.html.write_text("<!DOCTYPE html><html><body><h1>report</h1></body></html>")
    paths.markdown.write_text("*qsre weekly report 2026\\-W47*\nJobs 1,500\n")
    paths.data_json.write_text(json.dumps({"week": {"label": "2026-W47"}}))
    return paths


def test_uploads_html_then_posts_summary(slack, report_paths, monkeypatch):
    monkeypatch.setenv("QSRE_TEST_SLACK_TOKEN", TOKEN)
    post = post_report_to_slack(
        report_paths,
        token_env="QSRE_TEST_SLACK_TOKEN",
        channel="C0REPORTS",
        api_url=f"{slack.url}/api/",
    )
    assert slack.paths() == [
        "/api/files.getUploadURLExternal",
        "/upload/F0001",
        "/api/files.completeUploadExternal",
        "/api/chat.postMessage",
    ]
    get_url, upload, complete, message = slack.requests
    assert get_url["params"]["filename"] == "report.html"
    assert int(get_url["params"]["length"]) == len(report_paths.html.read_bytes())
    assert upload["raw"] == report_paths.html.read_bytes()
    assert complete["params"]["channel_id"] == "C0REPORTS"
    assert "2026-W47" in json.dumps(complete["params"]["files"])
    assert message["params"]["channel"] == "C0REPORTS"
    assert message["params"]["text"] == report_paths.markdown.read_text()
    for r in (get_url, complete, message):
        assert r["auth"] == f"Bearer {TOKEN}"
    assert post.file_id == "F0001" and post.message_ts == "1700000000.000100"


def test_the_csv_files_beside_the_page_are_shared_with_it(slack, report_paths, monkeypatch):
    csv_path = report_paths.html.parent / "daily_spend.csv"
    csv_path.write_text("day,dimension,key,jobs,spend_usd\n2026-11-16,backend,sim_a,3,1.5\n")
    paths = ReportPaths(
        report_paths.html, report_paths.markdown, report_paths.data_json, (csv_path,)
    )
    monkeypatch.setenv("QSRE_TEST_SLACK_TOKEN", TOKEN)
    post = post_report_to_slack(
        paths, token_env="QSRE_TEST_SLACK_TOKEN", channel="C0REPORTS", api_url=f"{slack.url}/api/"
    )
    assert slack.paths() == [
        "/api/files.getUploadURLExternal",
        "/api/files.getUploadURLExternal",
        "/upload/F0001",
        "/upload/F0001",
        "/api/files.completeUploadExternal",
        "/api/chat.postMessage",
    ]
    names = [r["params"]["filename"] for r in slack.requests[:2]]
    assert names == ["report.html", "daily_spend.csv"]
    assert slack.requests[3]["raw"] == csv_path.read_bytes()
    complete = slack.requests[4]["params"]["files"]
    titles = [f["title"] for f in (json.loads(complete) if isinstance(complete, str) else complete)]
    assert titles == ["qsre weekly report 2026-W47", "qsre weekly report 2026-W47: daily_spend.csv"]
    assert post.file_id == "F0001"


def test_missing_token_env_is_a_clear_error(slack, report_paths, monkeypatch):
    monkeypatch.delenv("QSRE_TEST_SLACK_TOKEN", raising=False)
    with pytest.raises(ReportError, match="QSRE_TEST_SLACK_TOKEN"):
        post_report_to_slack(
            report_paths,
            token_env="QSRE_TEST_SLACK_TOKEN",
            channel="C1",
            api_url=f"{slack.url}/api/",
        )
    assert slack.requests == []


def test_slack_error_names_the_channel_but_not_the_token(slack, report_paths, monkeypatch):
    monkeypatch.setenv("QSRE_TEST_SLACK_TOKEN", TOKEN)
    slack.fail_post_with = "channel_not_found"
    with pytest.raises(ReportError) as info:
        post_report_to_slack(
            report_paths,
            token_env="QSRE_TEST_SLACK_TOKEN",
            channel="C404",
            api_url=f"{slack.url}/api",
        )
    assert "channel_not_found" in str(info.value) and "C404" in str(info.value)
    assert TOKEN not in str(info.value)
