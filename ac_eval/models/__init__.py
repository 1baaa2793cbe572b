"""Model backends by architecture. A new architecture = one backend module + one entry in `BACKENDS`."""

from __future__ import annotations

import json
from pathlib import Path

from ac_eval.models.processor_backend import ProcessorBackend
from ac_eval.models.qwen2_5_omni import Qwen25OmniThinkerBackend
from ac_eval.models.qwen2_audio import GenerationSettings, Qwen2AudioBackend
from ac_eval.models.stub import StubBackend

BACKENDS = {
    "qwen2-audio": Qwen2AudioBackend,
    "qwen2.5-omni": Qwen25OmniThinkerBackend,
    "audio-flamingo-3": ProcessorBackend,
    "hf-processor": ProcessorBackend,  # any model whose processor takes audio=: --model_args ...,arch=hf-processor
    "stub": StubBackend,
}
MODEL_TYPES = {  # config.json model_type -> backend
    "qwen2_audio": "qwen2-audio",
    "qwen2_5_omni": "qwen2.5-omni",
    "qwen2_5_omni_thinker": "qwen2.5-omni",
    "audioflamingo3": "audio-flamingo-3",
    "ac_eval_stub": "stub",
}

__all__ = ["BACKENDS", "GenerationSettings", "load_backend", "detect_arch"]


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
    if arch not in BACKENDS:
        raise ValueError(f"unknown arch {arch!r}; known: {', '.join(BACKENDS)}")
    return BACKENDS[arch](pretrained, **kwargs)
