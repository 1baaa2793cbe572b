"""OpenAI-compatible chat backend with audio input: GPT-4o-audio / gpt-audio, Gemini's OpenAI endpoint,
`vllm serve`, and `ac-eval serve`.

    --model openai --model_args model=NAME[,base_url=URL][,api_key_env=VAR][,concurrency=8][,timeout=60]

The key is read from $OPENAI_API_KEY (or the variable `api_key_env` names) and never written anywhere.
Requests run concurrently (at most `concurrency` at a time), are retried with exponential backoff on 429,
5xx, timeouts and dropped connections, and a request that still fails becomes a counted per-item error
(retried by the next run). Responses are cached on disk keyed by model, messages, audio hash, condition and
generation settings, so a rerun does not pay twice. Choice mode is not available: chat APIs do not score
given continuations.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import sqlite3
import threading
import time
from time import monotonic  # (tests replace `time` to skip the backoff sleeps; deadlines still need a clock)
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import soundfile as sf

from ac_eval.evaluation.records import AudioInput
from ac_eval.evaluation.scoring import REQUEST_ERROR_PREFIX

AUDIO = "<|AUDIO|>"


class ResponseCache:
    """A small sqlite table: request key -> response text. Safe across threads."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, text TEXT)")
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT text FROM responses WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, text: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, text))
            self._db.commit()


class OpenAIChatBackend:
    arch = "openai-chat"
    audio_token = AUDIO
    audio_segment = AUDIO  # the `none` condition removes it: no audio part is sent
    chat_template = "openai-chat-messages"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int | str = 8,
        timeout: float | str = 60.0,
        max_retries: int | str = 6,
        sample_rate: int | str = 16000,
        audio_format: str = "wav16",
        cache_dir: str | None = None,
    ):
        try:
            import openai
        except ImportError as e:
            raise ImportError("the openai backend needs the OpenAI client: pip install 'ac-eval[api]'") from e
        key = os.environ.get(api_key_env)
        if not key and base_url is None:
            raise ValueError(f"set ${api_key_env} (the API key is read from the environment only)")
        self.pretrained = model
        self.base_url = base_url
        self.sample_rate = int(sample_rate)
        self.concurrency = int(concurrency)
        self.max_retries = int(max_retries)
        self.timeout = float(timeout)
        if audio_format not in ("wav16", "wavf32"):
            raise ValueError("audio_format: wav16 (16-bit PCM, what hosted APIs take) or wavf32 (lossless)")
        self.subtype = "PCM_16" if audio_format == "wav16" else "FLOAT"
        self.client = openai.OpenAI(api_key=key or "unused", base_url=base_url, timeout=float(timeout), max_retries=0)
        self._openai = openai
        cache_root = Path(cache_dir or os.environ.get("AC_EVAL_CACHE", Path.home() / ".cache" / "ac-eval"))
        self.cache = ResponseCache(cache_root / "openai_responses.sqlite")
        self._wav_cache: dict[str, tuple[str, str]] = {}
        self.stats = {"requests": 0, "retries": 0, "cache_hits": 0, "failures": 0}
        if base_url is not None:
            self._check_reachable(base_url)

    def _check_reachable(self, base_url: str) -> None:
        """Fail at start, with what to do, when nothing listens at base_url (not after N retries per item)."""
        try:
            self.client.with_options(max_retries=2).models.list()
        except self._openai.APIConnectionError as e:
            raise ConnectionError(
                f"cannot reach {base_url}: start the server that hosts {self.pretrained!r} "
                "(`ac-eval serve --model_args pretrained=...`, `vllm serve ...`, or the model's own) or fix base_url"
            ) from e
        except (self._openai.AuthenticationError, self._openai.PermissionDeniedError) as e:
            raise _refused(e, base_url) from e
        except Exception:  # noqa: BLE001 - reachable; some servers do not implement /models or answer it oddly
            pass

    # ---- prompt: a JSON message spec; the LM adapter treats it as an opaque string -----------------------------
    def chat_prompt(self, user_text: str, system: str | None) -> str:
        return json.dumps({"system": system, "user": user_text, "audio": AUDIO})

    def _messages(self, prompt: str, audio: AudioInput | None) -> tuple[list[dict], str]:
        spec = json.loads(prompt)
        messages = [{"role": "system", "content": spec["system"]}] if spec.get("system") else []
        content: list[dict] = []
        audio_hash = "none"
        if audio is not None and spec.get("audio"):
            data, audio_hash = self._wav_base64(audio)
            content.append({"type": "input_audio", "input_audio": {"data": data, "format": "wav"}})
        content.append({"type": "text", "text": spec["user"]})
        messages.append({"role": "user", "content": content})
        return messages, audio_hash

    def _wav_base64(self, audio: AudioInput) -> tuple[str, str]:
        if audio.cache_key and audio.cache_key in self._wav_cache:  # silence is encoded once
            return self._wav_cache[audio.cache_key]
        buf = io.BytesIO()
        sf.write(buf, audio.array, self.sample_rate, format="WAV", subtype=self.subtype)
        # Hash the samples, not the file: float WAVs carry a PEAK chunk with a timestamp.
        digest = hashlib.sha256(audio.array.tobytes() + f"{self.sample_rate}:{self.subtype}".encode()).hexdigest()
        encoded = (base64.b64encode(buf.getvalue()).decode("ascii"), digest)
        if audio.cache_key:
            self._wav_cache[audio.cache_key] = encoded
        return encoded

    # ---- requests ---------------------------------------------------------------------------------------------
    def generate(self, prompts: list[str], audios: list[AudioInput | None], settings) -> list[str]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(lambda pa: self._one(pa[0], pa[1], settings), zip(prompts, audios)))

    def _one(self, prompt: str, audio: AudioInput | None, settings) -> str:
        messages, audio_hash = self._messages(prompt, audio)
        params = {"max_tokens": settings.max_new_tokens, "temperature": settings.temperature if settings.do_sample else 0.0}
        if settings.do_sample and settings.top_p is not None:
            params["top_p"] = settings.top_p
        if settings.until:
            params["stop"] = settings.until[:4]
        key_messages = [
            {**m, "content": [c if c["type"] != "input_audio" else {"type": "input_audio", "sha256": audio_hash}
                              for c in m["content"]]} if isinstance(m["content"], list) else m
            for m in messages
        ]
        condition = audio.condition if audio is not None else "none"
        key = hashlib.sha256(json.dumps([self.pretrained, self.base_url, key_messages, condition, params],
                                        sort_keys=True).encode()).hexdigest()
        cached = self.cache.get(key)
        if cached is not None:
            self.stats["cache_hits"] += 1
            return cached
        text = self._request(messages, params)
        if not text.startswith(REQUEST_ERROR_PREFIX):
            self.cache.put(key, text)
        return text

    def _request(self, messages: list[dict], params: dict) -> str:
        """One answer, or a counted request error after the retries: 429, 5xx, other 4xx, timeouts, dropped
        connections and malformed replies (not JSON, no choices, no content) are all retried with backoff. Refused
        credentials stop the run: no retry or other item can fix them."""
        openai = self._openai
        delay = 0.5
        error: Exception | None = None
        for attempt in range(self.max_retries + 1):
            self.stats["requests"] += 1
            try:
                return _content(self._reply(messages, params))
            except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
                raise _refused(e, self.base_url) from e
            except Exception as e:  # noqa: BLE001 - everything else is worth another try, then a counted error
                error = e
            if attempt < self.max_retries:
                self.stats["retries"] += 1
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 30.0)
        self.stats["failures"] += 1
        status = f"HTTP {error.status_code}: " if isinstance(error, openai.APIStatusError) else ""
        return (f"{REQUEST_ERROR_PREFIX} gave up after {self.max_retries + 1} attempts: {status}"
                f"{type(error).__name__}: {_short(error)}")

    def _reply(self, messages: list[dict], params: dict) -> dict:
        """The reply's JSON, read as it arrives so that `timeout` bounds the whole reply: the client's own timeout
        bounds each read, and a server that sends one byte a second would otherwise keep a request for hours."""
        deadline = monotonic() + self.timeout
        create = self.client.chat.completions.with_streaming_response.create
        with create(model=self.pretrained, messages=messages, **params) as response:  # status errors raise here
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if monotonic() > deadline:
                    raise ReplyTimeout(f"the reply took over timeout={self.timeout:g} s ({len(body):,} bytes so far)")
        try:
            return json.loads(bytes(body))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise MalformedReply(f"the reply is not JSON: {bytes(body[:80])!r}") from e

    def choice_logprobs(self, prompts, audios, continuations):
        raise ValueError("--mode choice needs log-probabilities of given options, which chat APIs do not return: "
                         "use --mode generate with the openai backend")


class MalformedReply(ValueError):
    """A 200 reply that holds no answer: not JSON, no choices, or a message without text."""


class ReplyTimeout(TimeoutError):
    """A reply that did not arrive whole within the request's timeout."""


def _content(reply: dict) -> str:
    choices = reply.get("choices") if isinstance(reply, dict) else None
    if not choices or not isinstance(choices, list):
        raise MalformedReply("the reply has no choices")
    message = choices[0].get("message") if isinstance(choices[0], dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise MalformedReply(f"the reply's message has no text content ({type(content).__name__})")
    return content


def _refused(e: Exception, base_url: str | None) -> Exception:
    from ac_eval.models import ModelUnusable

    where = base_url or "the API"
    return ModelUnusable(f"{where} refused the credentials (HTTP {getattr(e, 'status_code', '?')}): check the key in "
                         "the environment variable api_key_env names (default OPENAI_API_KEY)")


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:200] if str(e) else type(e).__name__
