"""A fake OpenAI-compatible server for the tests: each chat request is answered the way its `model` field names
("ok", "bad-json", "empty-choices", "null-content", "html", "400", "401", "403", "404", "422", "429", "500", "503",
"drop", "hang", "trickle": a reply that promises 1,000,000 bytes and sends one every 0.2 s), or, with `fault_rate`, with a random fault of the given kinds (seeded), so a client's handling of
every kind of bad reply can be checked on loopback."""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULTS = ("bad-json", "empty-choices", "null-content", "html", "400", "401", "403", "404", "422", "429", "500", "503",
          "drop", "hang", "trickle")


def completion(text: str) -> dict:
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}


class FakeOpenAI:
    def __init__(self, answer=lambda body: "<answer>ok</answer>", fault_rate: float = 0.0,
                 fault_kinds: tuple[str, ...] = (), hang_seconds: float = 3.0, seed: int = 0):
        self.answer = answer
        self.fault_rate = fault_rate
        self.fault_kinds = fault_kinds
        self.hang_seconds = hang_seconds
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.seen = {"requests": 0, "faults": 0}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: bytes, ctype: str = "application/json") -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout): nothing to answer

            def do_GET(self):
                self._send(200, json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode())

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with fake.lock:
                    fake.seen["requests"] += 1
                    kind = body.get("model", "ok")
                    if kind not in FAULTS and fake.fault_rate and fake.rng.random() < fake.fault_rate:
                        kind = fake.rng.choice(fake.fault_kinds)
                    if kind in FAULTS:
                        fake.seen["faults"] += 1
                if kind == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                elif kind == "hang":
                    time.sleep(fake.hang_seconds)
                    self._send(200, json.dumps(completion("too late")).encode())
                elif kind == "trickle":
                    try:
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", "1000000")
                        self.end_headers()
                        for _ in range(1_000_000):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(0.2)
                    except OSError:
                        pass  # the client gave up, as it should
                elif kind == "bad-json":
                    self._send(200, b'{"choices": [{"message": {"content": "unfinished')
                elif kind == "empty-choices":
                    self._send(200, json.dumps({**completion(""), "choices": []}).encode())
                elif kind == "null-content":
                    reply = completion("")
                    reply["choices"][0]["message"]["content"] = None
                    self._send(200, json.dumps(reply).encode())
                elif kind == "html":
                    self._send(200, b"<html><body>Bad gateway</body></html>", "text/html")
                elif kind.isdigit():
                    self._send(int(kind), json.dumps({"error": {"message": f"fake {kind}", "type": "x"}}).encode())
                else:
                    self._send(200, json.dumps(completion(fake.answer(body))).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
