"""`ac-eval serve`: an OpenAI-compatible chat-completions server in front of ac-eval's transformers backends,
so any OpenAI-speaking tool (ac-eval's own `--model openai` included) can evaluate a local checkpoint.

    ac-eval serve --model_args pretrained=DIR [--host 127.0.0.1] [--port 8000] [--max-body-mb 32] [--max-queue 64]

POST /v1/chat/completions takes messages whose user content holds text parts and at most one `input_audio`
part ({"data": base64 WAV, "format": "wav"}); `stream: true` is answered as server-sent events (one chunk with
the whole answer, then [DONE]). GET /v1/models lists the one model. Bound to 127.0.0.1 unless --host says otherwise.

Built to sit behind other tools: HTTP is parsed by uvicorn on h11 (a well-kept parser: malformed or ambiguous
framing, such as two different Content-Lengths, is refused with 400 and the connection closed, so no request can be
smuggled in a body); every malformed request gets a 4xx JSON error saying what was wrong (bodies over the size limit
413; Content-Length beside chunked 400; prompts that leave the model's context no room 400; bad audio, including NaN
or infinite samples or more than MAX_AUDIO_SECONDS, 400; JSON nested too deeply 400); one request runs on the model
at a time and at most `max_queue` wait, a request beyond that, or one that waited longer than `request_timeout`, gets
503 with Retry-After (never a reset connection); a model failure is a 500 for that request, and the server goes on.
Waiting requests are coroutines, not threads: slow clients hold no thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import math
import socket
import threading
import time
import uuid
from typing import Any

import numpy as np
import soxr
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ac_eval.evaluation.audio import MAX_AUDIO_SECONDS, AudioError, decode
from ac_eval.evaluation.records import AudioInput
from ac_eval.models.generation import DEFAULT_MAX_NEW_TOKENS, GenerationSettings

MAX_BODY_MB = 32.0  # a 10-minute 16 kHz float WAV, base64, is about 51 MB: raise it for longer clips
MAX_QUEUE = 64
DRAIN_MB = 256.0  # a refused body up to this size is read and dropped so its sender gets the 413; beyond, reset
REQUEST_TIMEOUT_S = 300.0  # longest wait for the model before a 503
SOCKET_TIMEOUT_S = 60.0  # an idle keep-alive connection is closed after this
HEAD_TIMEOUT_S = 30.0  # a request's line and headers must arrive whole within this (slowloris clients are closed)


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
    """What every request shares: the backend, the name clients use, the limits, and the queue (one request runs on
    the model; at most `max_queue` wait for it, each at most `request_timeout`)."""

    def __init__(self, backend, name: str, max_body_mb: float = MAX_BODY_MB, max_queue: int = MAX_QUEUE,
                 request_timeout: float = REQUEST_TIMEOUT_S):
        self.backend, self.name = backend, name
        self.max_body_mb, self.max_queue, self.request_timeout = max_body_mb, max_queue, request_timeout
        self.max_body = int(max_body_mb * 1024 * 1024)
        self.in_flight = 0  # running + waiting; only the event loop's thread changes it
        self.model_lock = asyncio.Lock()

    def prepare(self, body: dict) -> tuple[str, AudioInput | None, GenerationSettings]:
        """(prompt, audio, settings) of a request, every part checked (CPU work: run off the event loop)."""
        system, user, audio = parse_messages(body, self.backend.sample_rate)
        settings = request_settings(body)
        prompt = self.backend.chat_prompt(user, system)
        self.check_length(prompt, settings)
        return prompt, audio, settings

    def check_length(self, prompt: str, settings: GenerationSettings) -> None:
        context, tokenizer = getattr(self.backend, "max_context", None), getattr(self.backend, "tokenizer", None)
        if not context or tokenizer is None:
            return
        n = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        if n + settings.max_new_tokens > context:
            raise RequestError(f"the prompt is {n:,} tokens before its audio; with max_tokens "
                               f"{settings.max_new_tokens} that exceeds the model's context of {context:,}")

    async def answer(self, body: dict) -> str:
        prompt, audio, settings = await run_in_threadpool(self.prepare, body)
        if self.in_flight > self.max_queue:
            raise RequestError(f"{self.max_queue} requests are already waiting: try again shortly", 503)
        self.in_flight += 1
        try:
            try:
                await asyncio.wait_for(self.model_lock.acquire(), timeout=self.request_timeout)
            except asyncio.TimeoutError as e:
                raise RequestError(f"waited {self.request_timeout:g} s for the model: try again shortly", 503) from e
            try:
                return (await run_in_threadpool(self.backend.generate, [prompt], [audio], settings))[0]
            finally:
                self.model_lock.release()
        finally:
            self.in_flight -= 1


def error_response(status: int, message: str, close: bool = False) -> JSONResponse:
    kind = {400: "invalid_request_error", 404: "not_found", 411: "length_required", 413: "request_too_large",
            503: "server_busy"}.get(status, "server_error")
    headers = {"Retry-After": "5"} if status == 503 else {}
    if close:
        headers["Connection"] = "close"
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, headers=headers)


async def read_body(request: Request, model: ServedModel) -> dict:
    """The request's JSON object. Framing that two parsers could read differently (Content-Length beside chunked)
    is refused; a body over the limit is read on and dropped (up to DRAIN_MB) so its sender gets the 413."""
    length, chunked = request.headers.get("content-length"), "chunked" in request.headers.get("transfer-encoding", "")
    if length is not None and chunked:
        raise RequestError("both Content-Length and Transfer-Encoding: chunked: ambiguous framing, refused", 400)
    if length is None and not chunked:
        raise RequestError("a POST needs a Content-Length header or a chunked body", 411)
    if length is not None and not length.strip().isdigit():
        raise RequestError(f"Content-Length {length!r} is not a number of bytes", 400)
    if length is not None and int(length) > model.max_body:
        await _drain(request)
        raise RequestError(f"the body is {int(length) / 2**20:.1f} MB; at most {model.max_body_mb:g} MB "
                           "(ac-eval serve --max-body-mb)", 413)
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > model.max_body:
            await _drain(request, len(data))
            raise RequestError(f"the body is over {model.max_body_mb:g} MB (ac-eval serve --max-body-mb)", 413)
    try:
        body = json.loads(bytes(data) or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RequestError(f"the body is not JSON: {e}") from e
    except RecursionError as e:
        raise RequestError("the body's JSON is nested too deeply to be a chat request") from e
    if not isinstance(body, dict):
        raise RequestError(f"the body is a JSON {type(body).__name__}, not an object")
    if body.get("stream") not in (None, True, False):
        raise RequestError("stream: give true or false")
    return body


async def _drain(request: Request, already: int = 0) -> None:
    left = int(DRAIN_MB * 2**20) - already
    try:
        async for chunk in request.stream():
            left -= len(chunk)
            if left <= 0:
                break
    except Exception:  # noqa: BLE001 - the client gave up or the stream was already read: nothing to drain
        pass


def build_app(model: ServedModel) -> Starlette:
    """The OpenAI-compatible routes, as vLLM's server has them: POST /v1/chat/completions, GET /v1/models."""

    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": model.name, "object": "model", "owned_by": "ac-eval"}]})

    async def chat_completions(request: Request) -> Response:
        try:
            body = await read_body(request, model)
            text = await model.answer(body)
        except RequestError as e:
            return error_response(e.status, str(e), close=e.status in (400, 411, 413) and _framing(e))
        except Exception as e:  # noqa: BLE001 - one failed request must not take the server down
            return error_response(500, f"the model failed on this request: {type(e).__name__}: {e}")
        if body.get("stream") is True:
            return Response(_events(model.name, text), media_type="text/event-stream",
                            headers={"Cache-Control": "no-cache"})
        return JSONResponse(_completion(model.name, text))

    async def no_route(request: Request, exc: Exception) -> JSONResponse:
        return error_response(404, f"no route {request.url.path}")

    routes = [Route(path, models, methods=["GET"]) for path in ("/v1/models", "/models")]
    routes += [Route(path, chat_completions, methods=["POST"]) for path in ("/v1/chat/completions", "/chat/completions")]
    return Starlette(routes=routes, exception_handlers={404: no_route, 405: no_route})


def _framing(e: RequestError) -> bool:
    """Errors after which the connection's byte stream cannot be trusted: close it."""
    return e.status in (411, 413) or "framing" in str(e)


def _events(name: str, text: str) -> str:
    """Server-sent events, as OpenAI streams: the whole answer in one chunk, a finish chunk, [DONE]."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": name}
    events = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


def _head_deadline_protocol():
    """uvicorn's h11 protocol with a deadline for each request's head: from the connection (or the first byte of a
    request on a kept-alive one) to its last header, at most HEAD_TIMEOUT_S. A client that trickles its headers, or
    opens connections and sends nothing, is closed instead of held."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadDeadline(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE and self._head_timer is None:
                self._arm()
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE:
                self.transport.close()

    return HeadDeadline


class ChatServer:
    """uvicorn (h11: HTTP parsing by a well-kept library) serving the app on a socket bound up front, so a taken port
    is reported at once. `serve_forever`, `shutdown`, `server_close` and `server_port` as http.server has them."""

    def __init__(self, app: Starlette, host: str, port: int):
        import uvicorn

        self.socket = socket.create_server((host, port), backlog=256, reuse_port=False)
        self.server_port = self.socket.getsockname()[1]
        # log_config=None: uvicorn's messages (e.g. "Invalid HTTP request received.") go through the logging the
        # caller has, not handlers of its own.
        config = uvicorn.Config(app, http=_head_deadline_protocol(), lifespan="off", access_log=False,
                                log_config=None, timeout_keep_alive=int(SOCKET_TIMEOUT_S))
        self.server = uvicorn.Server(config)
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        try:
            self.server.run(sockets=[self.socket])
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        self.server.should_exit = True
        self._stopped.wait(timeout=30)

    def server_close(self) -> None:
        self.socket.close()


def make_server(backend, host: str = "127.0.0.1", port: int = 8000, model_name: str | None = None,
                max_body_mb: float = MAX_BODY_MB, max_queue: int = MAX_QUEUE,
                request_timeout: float = REQUEST_TIMEOUT_S) -> ChatServer:
    """A server for `backend`. A port that is taken is a ValueError saying so."""
    model = ServedModel(backend, model_name or str(backend.pretrained), max_body_mb, max_queue, request_timeout)
    try:
        return ChatServer(build_app(model), host, port)
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
