"""`ac-eval serve`: an OpenAI-compatible chat-completions server in front of ac-eval's transformers backends,
so any OpenAI-speaking tool (ac-eval's own `--model openai` included) can evaluate a local checkpoint.

    ac-eval serve --model_args pretrained=DIR [--host 127.0.0.1] [--port 8000] [--max-body-mb 32] [--max-queue 64]

POST /v1/chat/completions takes messages whose user content holds text parts and at most one `input_audio`
part ({"data": base64 WAV, "format": "wav"}); `stream: true` is answered as server-sent events (one chunk with
the whole answer, then [DONE]). GET /v1/models lists the one model. Bound to 127.0.0.1 unless --host says otherwise.

Built to sit behind other tools: every malformed request gets a 4xx JSON error saying what was wrong (bodies
over the size limit 413; prompts that leave the model's context no room 400; bad audio, including NaN or infinite
samples, 400); one request runs on the model at a time and at most `max_queue` wait, a request beyond that, or one
that waited longer than `request_timeout`, gets 503 with Retry-After (never a reset connection); a model failure
is a 500 for that request, and the server goes on.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import soxr

from ac_eval.evaluation.audio import MAX_AUDIO_SECONDS, AudioError, decode
from ac_eval.evaluation.records import AudioInput
from ac_eval.models.generation import DEFAULT_MAX_NEW_TOKENS, GenerationSettings

MAX_BODY_MB = 32.0  # a 10-minute 16 kHz float WAV, base64, is about 51 MB: raise it for longer clips
MAX_QUEUE = 64
DRAIN_MB = 256.0  # a refused body up to this size is read and dropped so its sender gets the 413; beyond, reset
REQUEST_TIMEOUT_S = 300.0  # longest wait for the model before a 503
SOCKET_TIMEOUT_S = 60.0  # a client that stops sending mid-request is dropped after this


class RequestError(ValueError):
    """A request the server cannot take: answered with `status` and a JSON error saying why."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def parse_messages(body: dict[str, Any], sample_rate: int) -> tuple[str | None, str, AudioInput | None]:
    """(system prompt, user text, audio) from an OpenAI chat request; RequestError for anything malformed."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError("'messages' must be a non-empty list of message objects")
    system, texts, audio = None, [], None
    for n, m in enumerate(messages):
        if not isinstance(m, dict):
            raise RequestError(f"messages[{n}] is a {type(m).__name__}, not an object with 'role' and 'content'")
        role, content = m.get("role"), m.get("content")
        if role not in ("system", "user", "assistant", "developer", "tool"):
            raise RequestError(f"messages[{n}].role {role!r}: use system, user or assistant")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(parts, list):
            raise RequestError(f"messages[{n}].content must be a string or a list of content parts")
        for k, part in enumerate(parts):
            if not isinstance(part, dict):
                raise RequestError(f"messages[{n}].content[{k}] is a {type(part).__name__}, not a content part object "
                                   '(e.g. {"type": "text", "text": "..."})')
            kind = part.get("type")
            if kind == "text":
                if not isinstance(part.get("text"), str):
                    raise RequestError(f"messages[{n}].content[{k}].text must be a string")
                if role in ("system", "developer"):
                    system = part["text"] if system is None else f"{system} {part['text']}"
                elif role == "user":
                    texts.append(part["text"])
            elif kind == "input_audio" and role == "user":
                if audio is not None:
                    raise RequestError("at most one input_audio part per request")
                audio = AudioInput(_decode(part.get("input_audio"), sample_rate))
            else:
                raise RequestError(f"messages[{n}].content[{k}]: unsupported content part type {kind!r}")
    return system, "\n".join(texts), audio


def _decode(spec: Any, sample_rate: int) -> np.ndarray:
    if not isinstance(spec, dict) or not isinstance(spec.get("data"), str):
        raise RequestError('input_audio must be {"data": <base64 WAV>, "format": "wav"}')
    try:
        raw = base64.b64decode(spec["data"], validate=True)
    except (binascii.Error, ValueError) as e:
        raise RequestError(f"input_audio.data is not base64: {e}") from e
    try:  # the length is checked from the header, before decoding: 3 h of FLAC fit in a small body
        data, sr = decode(io.BytesIO(raw), "input_audio", MAX_AUDIO_SECONDS)
    except AudioError as e:
        raise RequestError(str(e).replace("cannot decode audio input_audio", "input_audio could not be decoded")) from e
    if data.shape[0] == 0:
        raise RequestError("input_audio is empty")
    if not np.all(np.isfinite(data)):
        raise RequestError("input_audio holds NaN or infinite samples")
    mono = data.mean(axis=1)
    return (soxr.resample(mono, sr, sample_rate) if sr != sample_rate else mono).astype(np.float32)


def request_settings(body: dict) -> GenerationSettings:
    """Generation settings from the request, each checked: a wrong type or range is a 400 that names the field."""
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_NEW_TOKENS
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise RequestError(f"max_tokens {max_tokens!r}: give a positive integer")
    temperature = _number(body, "temperature", 0.0, 0.0, 2.0)
    top_p = _number(body, "top_p", 1.0, 0.0, 1.0)
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    if not isinstance(stop, list) or not all(isinstance(x, str) for x in stop):
        raise RequestError("stop: give a string or a list of strings")
    return GenerationSettings(
        max_new_tokens=max_tokens,
        do_sample=temperature > 0,
        temperature=temperature if temperature > 0 else 1.0,
        top_p=top_p if temperature > 0 and top_p < 1.0 else None,
        until=list(stop),
    )


def _number(body: dict, key: str, default: float, low: float, high: float) -> float:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not low <= value <= high:
        raise RequestError(f"{key} {value!r}: give a number from {low:g} to {high:g}")
    return float(value)


class ServedModel:
    """What every request shares: the backend, the name clients use, the limits, and the two locks that queue
    requests (one runs on the model; at most `max_queue` wait for it)."""

    def __init__(self, backend, name: str, max_body_mb: float = MAX_BODY_MB, max_queue: int = MAX_QUEUE,
                 request_timeout: float = REQUEST_TIMEOUT_S):
        self.backend, self.name = backend, name
        self.max_body_mb, self.max_queue, self.request_timeout = max_body_mb, max_queue, request_timeout
        self.max_body = int(max_body_mb * 1024 * 1024)
        self.model_lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(max_queue + 1)  # the one running plus those allowed to wait

    def check_length(self, prompt: str, settings: GenerationSettings) -> None:
        context, tokenizer = getattr(self.backend, "max_context", None), getattr(self.backend, "tokenizer", None)
        if not context or tokenizer is None:
            return
        n = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if n + settings.max_new_tokens > context:
            raise RequestError(f"the prompt is {n:,} tokens before its audio; with max_tokens "
                               f"{settings.max_new_tokens} that exceeds the model's context of {context:,}")

    def generate(self, prompt: str, audio: AudioInput | None, settings: GenerationSettings) -> str:
        if not self.slots.acquire(blocking=False):
            raise RequestError(f"{self.max_queue} requests are already waiting: try again shortly", 503)
        try:
            if not self.model_lock.acquire(timeout=self.request_timeout):
                raise RequestError(f"waited {self.request_timeout:g} s for the model: try again shortly", 503)
            try:
                return self.backend.generate([prompt], [audio], settings)[0]
            finally:
                self.model_lock.release()
        finally:
            self.slots.release()

    def answer(self, body: dict, path: str) -> str:
        """The model's text for one chat-completions request body; RequestError for anything it cannot take."""
        if path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            raise RequestError(f"no route {path}", 404)
        system, user, audio = parse_messages(body, self.backend.sample_rate)
        settings = request_settings(body)
        prompt = self.backend.chat_prompt(user, system)
        self.check_length(prompt, settings)
        return self.generate(prompt, audio, settings)


class ChatHandler(BaseHTTPRequestHandler):
    """One HTTP request: JSON in and out, every refusal a JSON error that says why."""

    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S

    @property
    def model(self) -> ServedModel:
        return self.server.model

    def log_message(self, *args):  # quiet: the caller reports progress
        pass

    def _json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict | None = None) -> None:
        kind = {400: "invalid_request_error", 404: "not_found", 413: "request_too_large",
                503: "server_busy"}.get(status, "server_error")
        self._json(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

    def send_error(self, code, message=None, explain=None):  # the base class's HTML errors, as JSON
        self.close_connection = True
        self._error(code, message or self.responses.get(code, ("error",))[0])

    def do_GET(self):
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._json(200, {"object": "list", "data": [{"id": self.model.name, "object": "model", "owned_by": "ac-eval"}]})
        else:
            self._error(404, f"no route {self.path}")

    def do_POST(self):
        try:
            body = self._body()
            text = self.model.answer(body, self.path)
        except RequestError as e:
            if e.status == 413:
                self._discard_body()
                self.close_connection = True  # the body was not (wholly) read: the connection cannot be reused
            self._error(e.status, str(e), {"Retry-After": "5"} if e.status == 503 else None)
            return
        except Exception as e:  # noqa: BLE001 - one failed request must not take the server down
            self._error(500, f"the model failed on this request: {type(e).__name__}: {e}")
            return
        if body.get("stream") is True:
            self._stream(text)
        else:
            self._json(200, _completion(self.model.name, text))

    def _discard_body(self) -> None:
        """Read and drop a refused body (never stored), up to DRAIN_MB: closing on a client that is still
        sending resets the connection, and it would see a broken pipe instead of the 413 that says why."""
        left = min(int(self.headers.get("Content-Length", "0").strip() or 0), int(DRAIN_MB * 2**20))
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass  # the client gave up: nothing to answer

    def _body(self) -> dict:
        length = self.headers.get("Content-Length")
        if length is None:
            raise RequestError("a POST needs a Content-Length header (chunked bodies are not taken)", 411)
        if not length.strip().isdigit():
            self.close_connection = True
            raise RequestError(f"Content-Length {length!r} is not a number of bytes")
        if int(length) > self.model.max_body:
            raise RequestError(f"the body is {int(length) / 2**20:.1f} MB; at most {self.model.max_body_mb:g} MB "
                               "(ac-eval serve --max-body-mb)", 413)
        try:
            body = json.loads(self.rfile.read(int(length)) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RequestError(f"the body is not JSON: {e}") from e
        if not isinstance(body, dict):
            raise RequestError(f"the body is a JSON {type(body).__name__}, not an object")
        if body.get("stream") not in (None, True, False):
            raise RequestError("stream: give true or false")
        return body

    def _stream(self, text: str) -> None:
        """Server-sent events, as OpenAI streams: the whole answer in one chunk, a finish chunk, [DONE]."""
        base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": self.model.name}
        events = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]},
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        ]
        data = ("".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # the listen backlog: a burst of connections waits instead of being reset

    def __init__(self, address, model: ServedModel):
        self.model = model
        super().__init__(address, ChatHandler)


def make_server(backend, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None,
                max_body_mb: float = MAX_BODY_MB, max_queue: int = MAX_QUEUE,
                request_timeout: float = REQUEST_TIMEOUT_S) -> ThreadingHTTPServer:
    """A server for `backend`. A port that is taken is a ValueError saying so."""
    model = ServedModel(backend, model_name or str(backend.pretrained), max_body_mb, max_queue, request_timeout)
    try:
        return _Server((host, port), model)
    except OSError as e:
        raise ValueError(f"cannot listen on {host}:{port}: {e.strerror or e} (is another server using that port? "
                         "choose another with --port)") from e


def _completion(name: str, text: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((host, port)) != 0
