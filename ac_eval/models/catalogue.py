"""Short names for the systems of the paper's tables: backend, hub id or API model, prompt and decoding.

`ac-eval --model r1-aqa --tasks mmau` resolves the name here; `ac-eval models` lists them with what each needs
and whether it can run on this machine. Decoding: the paper evaluates with greedy decoding and the AudioMCQ
prompt (answers in <answer>...</answer>); that is every entry's default unless noted.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    model: str  # lm-eval model: hf (our transformers backend), openai, vllm
    model_args: str  # pretrained=<hub id> / model=<API model>,base_url=...
    arch: str | None  # transformers backend architecture, where it applies
    needs: tuple[str, ...]  # "gpu", "extra:<name>", "env:<VAR>", "package:<module>"
    prompt: str = "audiomcq"
    gen_kwargs: str | None = None  # None: the task's (greedy, 256 new tokens: the paper's protocol)
    notes: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


CATALOGUE: dict[str, CatalogueEntry] = {
    e.name: e
    for e in [
        CatalogueEntry("qwen2-audio-7b-instruct", "hf", "pretrained=Qwen/Qwen2-Audio-7B-Instruct", "qwen2-audio", ("gpu",)),
        CatalogueEntry("r1-aqa", "hf", "pretrained=mispeech/r1-aqa", "qwen2-audio", ("gpu",),
                       notes="GRPO on Qwen2-Audio-7B-Instruct; one of the paper's three silent-audio voters"),
        CatalogueEntry("qwen2.5-omni-7b", "hf", "pretrained=Qwen/Qwen2.5-Omni-7B", "qwen2.5-omni", ("gpu",),
                       notes="thinker only (text output)"),
        CatalogueEntry("audiomcq-weak-to-strong", "hf", "pretrained=inclusionAI/AudioMCQ-Weak-To-Strong", "qwen2.5-omni",
                       ("gpu",), notes="weak SFT + strong GRPO on Qwen2.5-Omni-7B"),
        CatalogueEntry("audiomcq-mixed-to-strong", "hf", "pretrained=inclusionAI/AudioMCQ-Mixed-To-Strong", "qwen2.5-omni",
                       ("gpu",), notes="mixed SFT + strong GRPO on Qwen2.5-Omni-7B"),
        CatalogueEntry("audio-flamingo-3", "hf", "pretrained=nvidia/audio-flamingo-3-hf", "audio-flamingo-3", ("gpu",),
                       notes="through transformers' AudioFlamingo3 classes"),
        CatalogueEntry("kimi-audio-7b-instruct", "openai", "model=moonshotai/Kimi-Audio-7B-Instruct,base_url=http://127.0.0.1:8000/v1",
                       None, ("server",), notes="serve it with an OpenAI-compatible server (its own or vLLM) and set base_url; "
                       "one of the paper's three silent-audio voters"),
        CatalogueEntry("audio-flamingo-2", "openai", "model=nvidia/audio-flamingo-2,base_url=http://127.0.0.1:8000/v1",
                       None, ("server",), notes="serve it behind an OpenAI-compatible server and set base_url; "
                       "one of the paper's three silent-audio voters"),
        CatalogueEntry("gpt-4o-audio", "openai", "model=gpt-4o-audio-preview", None, ("env:OPENAI_API_KEY",)),
        CatalogueEntry("gemini-2.0-flash", "openai",
                       "model=gemini-2.0-flash,base_url=https://generativelanguage.googleapis.com/v1beta/openai/,api_key_env=GEMINI_API_KEY",
                       None, ("env:GEMINI_API_KEY",)),
    ]
}


MODEL_ALIASES = {"hf": "ac_hf", "openai": "ac_openai", "vllm": "ac_vllm"}  # our audio LMs stand in for lm-eval's text-only ones
SECRET_WORDS = ("key", "token", "secret")  # model_args whose values never reach a file


@dataclass(frozen=True)
class ModelSpec:
    """`--model` and `--model_args`, parsed and resolved once: which lm-eval model loads, with which arguments.
    Everything downstream (checks, the cache key, lm-eval, provenance, redaction) reads this, never the string."""

    given: str  # as the user named it: a catalogue name, hf / openai / vllm, or any registered lm-eval model
    lm_eval_model: str  # what lm-eval's registry loads: ac_hf, ac_openai, ac_vllm, ...
    values: dict[str, Any]  # the entry's model_args under the user's, typed as lm-eval types them
    given_values: dict[str, Any]  # the user's model_args alone (what results.json records)
    entry: CatalogueEntry | None = None

    @property
    def args(self) -> dict[str, str]:
        """The arguments as text (identity, provenance and the checks read text)."""
        return {k: str(v) for k, v in self.values.items()}

    @property
    def catalogue_name(self) -> str | None:
        return self.entry.name if self.entry else None

    def given_text(self, drop: tuple[str, ...] = (), redact: bool = False) -> str:
        """The user's model_args as `k=v,...`; `redact`: keys, tokens and secrets as *** (what may reach a file)."""
        def shown(k: str, v: Any) -> str:
            return "***" if redact and any(w in k.lower() for w in SECRET_WORDS) else str(v)

        return ",".join(f"{k}={shown(k, v)}" for k, v in self.given_values.items() if k not in drop)


def resolve_model(model: str, model_args: str) -> ModelSpec:
    """A catalogue name becomes its lm-eval model and model_args; the user's model_args override the entry's."""
    from ac_eval.models import parse_model_values

    entry = CATALOGUE.get(model)
    values = parse_model_values(model_args)
    merged = {**parse_model_values(entry.model_args), **values} if entry else values
    name = entry.model if entry else model
    return ModelSpec(model, MODEL_ALIASES.get(name, name), merged, values, entry)


def can_run_here(entry: CatalogueEntry) -> tuple[bool, str]:
    """Whether the needs are met on this machine, and what is missing."""
    missing = []
    for need in entry.needs:
        kind, _, what = need.partition(":")
        if kind == "gpu" and not _has_gpu():
            missing.append("no GPU (CPU works, slowly)")
        elif kind == "env" and not os.environ.get(what):
            missing.append(f"${what} unset")
        elif kind == "extra" and importlib.util.find_spec(what) is None:
            missing.append(f"pip install 'ac-eval[{what}]'")
        elif kind == "server":
            missing.append("a server: set base_url")
    return not missing, "; ".join(missing) or "ready"


def _has_gpu() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False
