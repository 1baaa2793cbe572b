"""A fault-injecting HTTP proxy for the tests: it stands between the OpenAI client and `ac-eval serve` and, per
chat request, forwards it or answers with a fault from a cycle ("ok", "500", "429", "drop"). It is test plumbing:
the server under test never knows about it."""

from __future__ import annotations

import itertools
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FaultProxy:
    def __init__(self, upstream_port: int, faults: list[str] | None = None):
        self.upstream = f"http://127.0.0.1:{upstream_port}"
        self.plan = itertools.cycle(faults or ["ok"])
        self.request_counter = {"requests": 0}  # chat requests seen, faults included
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _relay(self, method: str, body: bytes | None) -> None:
                request = urllib.request.Request(proxy.upstream + self.path, data=body, method=method,
                                                 headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(request, timeout=300) as reply:
                        status, payload = reply.status, reply.read()
                except urllib.error.HTTPError as e:
                    status, payload = e.code, e.read()
                self._send(status, payload)

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self):
                self._relay("GET", None)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy._lock:
                    proxy.request_counter["requests"] += 1
                    fault = next(proxy.plan)
                if fault == "drop":  # the connection dies without an answer
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if fault in ("500", "429"):
                    self._send(int(fault), b'{"error": {"message": "injected fault", "type": "server_error"}}')
                    return
                self._relay("POST", body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server_port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
