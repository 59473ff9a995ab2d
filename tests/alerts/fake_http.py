"""A real HTTP server on 127.0.0.1 standing in for Slack / PagerDuty / webhooks.

It records every request (method, path, headers, JSON body) and answers from a script:
queue ``(status, headers, body)`` overrides for the next requests of a path (429 with
Retry-After, 500, ...), or set a per-path delay. Slack-like paths get Slack-like bodies
(``chat.postMessage`` returns a fresh ts; ``conversations.history`` lists the
top-level messages posted so far, newest first, with their ``metadata``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes
    status: int
    response: Any = None


@dataclass
class FakeHttp:
    server: ThreadingHTTPServer
    requests: list[Recorded] = field(default_factory=list)
    scripted: dict[str, deque[tuple[int, dict[str, str], Any]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    delays_s: dict[str, float] = field(default_factory=dict)
    # One-shot delays: the next request(s) of a path wait this long (a client timeout
    # while the far end still acts on the request).
    next_delays_s: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts_counter: int = 0

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(
        self,
        path: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        for _ in range(times):
            self.scripted[path].append(
                (status, headers or {}, body if body is not None else {"error": "scripted"})
            )

    def ok(self, path: str | None = None) -> list[Recorded]:
        """Requests answered 2xx, optionally for one path."""
        return [
            r for r in self.requests if 200 <= r.status < 300 and (path is None or r.path == path)
        ]

    def next_ts(self) -> str:
        with self.lock:
            self._ts_counter += 1
            return f"1700000000.{self._ts_counter:06d}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _default_answer(fake: FakeHttp, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
    if path.endswith("/chat.postMessage"):
        return 200, {}, {"ok": True, "channel": "C123", "ts": fake.next_ts()}
    if path.endswith("/conversations.history"):
        with fake.lock:
            posted = [
                r
                for r in fake.requests
                if r.path.endswith("/chat.postMessage")
                and r.status == 200
                and isinstance(r.body, dict)
                and "thread_ts" not in r.body
            ]
        messages = [
            {"type": "message", "ts": r.response["ts"], "text": r.body.get("text", "")}
            | ({"metadata": r.body["metadata"]} if r.body.get("metadata") else {})
            for r in reversed(posted)
        ]
        return 200, {}, {"ok": True, "messages": messages, "has_more": False}
    if path.endswith("/chat.update"):
        return 200, {}, {"ok": True, "channel": "C123", "ts": (body or {}).get("ts")}
    if path.endswith("/v2/enqueue"):
        return (
            202,
            {},
            {
                "status": "success",
                "message": "Event processed",
                "dedup_key": (body or {}).get("dedup_key"),
            },
        )
    return 200, {}, {"status": "ok"}


def start_fake_http() -> FakeHttp:
    holder: dict[str, FakeHttp] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _handle(self) -> None:
            fake = holder["fake"]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            ctype = self.headers.get("Content-Type", "")
            body: Any = None
            if raw and "json" in ctype:
                body = json.loads(raw)
            elif raw:
                body = raw.decode("utf-8", "replace")
            path = self.path.split("?")[0]
            with fake.lock:
                once = fake.next_delays_s.get(path)
                delay = once.popleft() if once else fake.delays_s.get(path, 0.0)
            if delay:
                time.sleep(delay)
            with fake.lock:
                queue = fake.scripted.get(path)
                answer = queue.popleft() if queue else None
            if answer is None:
                answer = _default_answer(fake, path, body)
            status, headers, out = answer
            with fake.lock:
                fake.requests.append(
                    Recorded(self.command, path, dict(self.headers.items()), body, raw, status, out)
                )
            data = json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_POST = _handle
        do_GET = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake = FakeHttp(server)
    holder["fake"] = fake
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return fake
