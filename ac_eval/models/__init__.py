"""Model backends by architecture. A new architecture = one backend module + one entry in `BACKENDS`.

Backends are imported when first used (`module:Class`), so naming one costs nothing until a model loads. The
`stub` backend answers from the metadata (known behaviour, for testing the analysis); it lives in ac_eval.testing.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from ac_eval.models.generation import GenerationSettings

BACKENDS = {
    "qwen2-audio": "ac_eval.models.qwen2_audio:Qwen2AudioBackend",
    "qwen2.5-omni": "ac_eval.models.qwen2_5_omni:Qwen25OmniThinkerBackend",
    "audio-flamingo-3": "ac_eval.models.audio_flamingo_3:AudioFlamingo3Backend",
    "hf-processor": "ac_eval.models.processor_backend:ProcessorBackend",  # any model whose processor takes audio=
    "stub": "ac_eval.testing.stub_models:StubBackend",
}
MODEL_TYPES = {  # config.json model_type -> backend
    "qwen2_audio": "qwen2-audio",
    "qwen2_5_omni": "qwen2.5-omni",
    "qwen2_5_omni_thinker": "qwen2.5-omni",
    "audioflamingo3": "audio-flamingo-3",
    "ac_eval_stub": "stub",
}

__all__ = ["BACKENDS", "GenerationSettings", "ModelUnusable", "backend_class", "load_backend", "detect_arch",
           "parse_model_args", "parse_model_values"]


class ModelUnusable(RuntimeError):
    """An error no retry and no other item can fix (e.g. refused credentials): the run stops with one line."""


def parse_model_values(model_args: str) -> dict[str, Any]:
    """`key=value,key=value` exactly as lm-eval parses it (numbers, booleans and None typed): the one parser."""
    from lm_eval.utils import simple_parse_args_string

    try:
        return simple_parse_args_string(model_args or "")
    except ValueError as e:
        raise ValueError(f"model_args {model_args!r}: expected key=value pairs separated by commas ({e})") from e


def parse_model_args(model_args: str) -> dict[str, str]:
    """The same, values kept as text (for reading back the model_args a run folder recorded)."""
    return {k: str(v) for k, v in parse_model_values(model_args).items()}


def backend_class(arch: str):
    if arch not in BACKENDS:
        raise ValueError(f"unknown arch {arch!r}; known: {', '.join(BACKENDS)}")
    module, name = BACKENDS[arch].split(":")
    return getattr(importlib.import_module(module), name)


def detect_arch(pretrained: str) -> str:
    """The backend for a checkpoint, from its config.json (local folder) or the hub id's config."""
    config_file = Path(pretrained).expanduser() / "config.json"
    if not Path(pretrained).expanduser().exists() and (pretrained.startswith(("/", ".", "~")) or pretrained.count("/") > 1):
        raise ValueError(f"checkpoint folder not found: {pretrained} (give a local folder or a hub id like Org/Name)")
    if config_file.is_file():
        model_type = json.loads(config_file.read_text()).get("model_type")
    else:
        from transformers import AutoConfig

        model_type = AutoConfig.from_pretrained(pretrained).model_type
    if model_type not in MODEL_TYPES:
        raise ValueError(
            f"{pretrained}: model_type {model_type!r} has no backend yet; supported: {', '.join(MODEL_TYPES)}"
        )
    return MODEL_TYPES[model_type]


def load_backend(pretrained: str, arch: str = "auto", **kwargs):
    """Construct the backend for a checkpoint (arch from its config unless given)."""
    arch = detect_arch(pretrained) if arch == "auto" else arch
    return backend_class(arch)(pretrained, **kwargs)
