"""A checkpoint backend that is loaded only when a request actually needs the model.

lm-eval builds every request's prompt (our chat template around the question) before it looks in the request cache,
and those prompts are the cache's keys. Building them needs the processor, and the processor needs transformers
(and the model load after it, torch): about 7 s of a rerun that may have nothing to compute. So the first run that
loads a checkpoint leaves a small memo beside its request cache: the checkpoint's chat template rendered around
two sentinels (with and without a system prompt), the architecture and the audio token, fingerprinted by the
checkpoint's own files. A later run on the same files renders prompts from that pattern, and loads the model only
when a request misses the cache; a rerun whose every request is cached never loads it.

A pattern is used only if it reproduced every prompt the real processor rendered in the run that wrote it, and the
model never sees a pattern-made prompt: once loaded, each prompt it runs is rendered again by the real processor.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

USER, SYSTEM = "\u27e6ac-eval user\u27e7", "\u27e6ac-eval system\u27e7"  # text no benchmark holds
WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".msgpack", ".h5", ".ckpt")
MEMO_VERSION = 1


def checkpoint_folder(pretrained: str, revision: str | None = None) -> Path | None:
    """The local folder a `pretrained=` names: itself, or a hub id's snapshot in the local hub cache."""
    from ac_eval.models.checkpoints import cached_snapshot

    path = Path(pretrained).expanduser()
    return path if path.is_dir() else cached_snapshot(pretrained, revision)


def fingerprint(folder: Path) -> str:
    """What the prompts depend on: every file of the checkpoint but the weights (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(WEIGHTS)):
        if path.stat().st_size > 64 * 2**20 or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


class LazyBackend:
    """Stands in for a backend (see the module docstring); anything but the prompt-building attributes loads it."""

    def __init__(self, load: Callable[[], Any], pretrained: str, revision: str | None = None,
                 on_load: Callable[[Any], None] | None = None, before_load: Callable[[], None] | None = None):
        self._load, self._on_load, self._before_load = load, on_load, before_load
        self._backend: Any = None
        self.pretrained = pretrained
        self._revision = revision
        self._memo: dict[str, Any] | None = None
        self.memo_path: Path | None = None  # set by the run: beside its request cache
        self._from_pattern: dict[str, tuple[str, str | None]] = {}  # prompt made from the pattern -> its text
        self._patterns: dict[str, str | None] = {}
        self._mismatches = 0  # prompts the pattern would have made otherwise than the processor did

    # ---- loading -------------------------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def real(self) -> Any:
        if self._backend is None:
            if self._before_load:  # work that can run beside the load (it spends most of its time outside the GIL)
                self._before_load()
            self._backend = self._load()
            # The patterns this checkpoint's template gives; each prompt rendered from here on checks them.
            self._patterns = {key: self._pattern(system) for key, system in (("system", SYSTEM), ("none", None))}
            if self._on_load:
                self._on_load(self._backend)
        return self._backend

    def __getattr__(self, name: str) -> Any:  # only for attributes this class does not define
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.real(), name)

    # ---- the memo --------------------------------------------------------------------------------------------
    def _fingerprint(self) -> str | None:
        folder = checkpoint_folder(self.pretrained, self._revision)
        return fingerprint(folder) if folder else None

    def memo(self) -> dict[str, Any]:
        """The memo for this checkpoint's files, or an empty one (no file, another checkpoint, unreadable)."""
        if self._memo is None:
            self._memo = {}
            if self.memo_path and self.memo_path.is_file():
                try:
                    memo = json.loads(self.memo_path.read_text())
                except (OSError, ValueError):
                    memo = {}
                if memo.get("version") == MEMO_VERSION and memo.get("fingerprint") == self._fingerprint():
                    self._memo = memo
        return self._memo

    def save_memo(self) -> None:
        """Write what the real backend showed this run (only when it was loaded: else nothing new was learnt)."""
        from ac_eval.files import write_json

        if self.memo_path is None or not self.loaded:
            return
        broken = bool(self.memo().get("broken")) or self._mismatches > 0
        write_json(self.memo_path, {
            "version": MEMO_VERSION, "fingerprint": self._fingerprint(), "arch": getattr(self._backend, "arch", None),
            "chat_template": self._backend.chat_template, "audio_token": self._backend.audio_token,
            "patterns": self._patterns, "broken": broken,
        })

    def _pattern(self, system: str | None) -> str | None:
        text = self.real().chat_prompt(USER, system)
        ok = text.count(USER) == 1 and (system is None or text.count(SYSTEM) == 1)
        return text if ok else None

    # ---- what building the requests needs -----------------------------------------------------------------
    def chat_prompt(self, user_text: str, system: str | None) -> str:
        memo, key = self.memo(), "none" if system is None else "system"
        pattern = (memo.get("patterns") or {}).get(key)
        if self.loaded or not pattern or memo.get("broken"):
            prompt = self.real().chat_prompt(user_text, system)
            mine = self._patterns.get(key)
            if mine is None or _fill(mine, user_text, system) != prompt:
                self._mismatches += 1  # the pattern would have made another prompt: never use it
            return prompt
        prompt = _fill(pattern, user_text, system)
        self._from_pattern[prompt] = (user_text, system)
        return prompt

    def real_prompt(self, prompt: str) -> str:
        """The prompt the model runs: a pattern-made one rendered again by the real processor."""
        source = self._from_pattern.get(prompt)
        return prompt if source is None else self.real().chat_prompt(*source)

    @property
    def chat_template(self) -> str | None:
        memo = self.memo()
        return self._backend.chat_template if self.loaded or "chat_template" not in memo else memo["chat_template"]

    @property
    def arch(self) -> str | None:
        memo = self.memo()
        return self._backend.arch if self.loaded or "arch" not in memo else memo["arch"]

    @property
    def audio_token(self) -> str:
        memo = self.memo()
        return self._backend.audio_token if self.loaded or "audio_token" not in memo else memo["audio_token"]


def _fill(pattern: str, user_text: str, system: str | None) -> str:
    out = pattern.replace(USER, user_text, 1)
    return out if system is None else out.replace(SYSTEM, system, 1)
