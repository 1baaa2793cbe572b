"""`ac-eval serve`: an OpenAI-compatible chat-completions server in front of ac-eval's transformers backends,
so any OpenAI-speaking tool (ac-eval's own `--model openai` included) can evaluate a local checkpoint.

    ac-eval serve --model_args pretrained=DIR [--host 127.0.0.1] [--port 8000]

POST /v1/chat/completions takes messages whose user content holds text parts and at most one `input_audio`
part ({"data": base64 WAV, "format": "wav"}); GET /v1/models lists the one model. One request runs on the
model at a time. Bound to 127.0.0.1 unless --host says otherwise.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import soundfile as sf
import soxr

from ac_eval.evaluation.conditions import AudioInput
from ac_eval.models.generation import GenerationSettings


class RequestError(ValueError):
    pass


def parse_messages(body: dict[str, Any], sample_rate: int) -> tuple[str | None, str, AudioInput | None]:
    """(system prompt, user text, audio) from an OpenAI chat request."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list")
    system, texts, audio = None, [], None
    for m in messages:
        content = m.get("content")
        if m.get("role") == "system":
            system = content if isinstance(content, str) else " ".join(c.get("text", "") for c in content or [])
            continue
        if m.get("role") != "user":
            continue  # single-turn evaluation: earlier assistant turns are not replayed
        for part in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
            if part.get("type") == "text":
                texts.append(part.get("text", ""))
            elif part.get("type") == "input_audio":
                if audio is not None:
                    raise RequestError("at most one input_audio part per request")
                audio = AudioInput(_decode(part.get("input_audio") or {}, sample_rate))
            else:
                raise RequestError(f"unsupported content part type {part.get('type')!r}")
    return system, "\n".join(texts), audio


def _decode(spec: dict, sample_rate: int) -> np.ndarray:
    try:
        data, sr = sf.read(io.BytesIO(base64.b64decode(spec.get("data", ""))), dtype="float32", always_2d=True)
    except Exception as e:
        raise RequestError(f"input_audio could not be decoded: {e}") from e
    if data.shape[0] == 0:
        raise RequestError("input_audio is empty")
    mono = data.mean(axis=1)
    return (soxr.resample(mono, sr, sample_rate) if sr != sample_rate else mono).astype(np.float32)


def make_server(backend, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None) -> ThreadingHTTPServer:
    """A server for `backend`."""
    lock = threading.Lock()
    name = model_name or str(backend.pretrained)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet: the caller reports progress
            pass

        def _json(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._json(200, {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "ac-eval"}]})
            else:
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                return
            try:
                body = json.loads(raw or b"{}")
                system, user, audio = parse_messages(body, backend.sample_rate)
                settings = _settings(body)
            except (RequestError, json.JSONDecodeError) as e:
                self._json(400, {"error": {"message": str(e), "type": "invalid_request_error"}})
                return
            with lock:
                text = backend.generate([backend.chat_prompt(user, system)], [audio], settings)[0]
            self._json(200, {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            })

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def _settings(body: dict) -> GenerationSettings:
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or 256
    temperature = float(body.get("temperature") or 0.0)
    stop = body.get("stop") or []
    return GenerationSettings(
        max_new_tokens=int(max_tokens),
        do_sample=temperature > 0,
        temperature=temperature if temperature > 0 else 1.0,
        top_p=body.get("top_p") if temperature > 0 else None,
        until=[stop] if isinstance(stop, str) else list(stop),
    )
